/**
 * Conventions of the scheduler oracle (test/fixtures/oracles/schedulers.json, `meta`): diffusers'
 * dummy sample and dummy model, the deterministic noise, and the loop styles. Shared by the
 * scheduler tests.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NoiseSource, Scheduler } from '../../../../src/pipeline/diffusion/schedulers';
import { img2imgTimesteps } from '../../../../src/pipeline/diffusion/schedulers';
import type { Tensor } from '../../../../src/pipeline/tensor';

const f32 = Math.fround;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const oracle: any = JSON.parse(
  readFileSync(resolve(__dirname, '../../../fixtures/oracles/schedulers.json'), 'utf8'),
);

/** The Stable Diffusion scheduler config the oracle uses (meta.sd_config). */
export const SD_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
} as const;

export const DIMS = [4, 3, 8, 8] as const;

/** diffusers' dummy_sample_deter: x[b][c][h][w] = (c·256 + h·32 + w·4 + b) / 768, float32. */
export function dummySample(): Tensor {
  return fill((k) => k / 768);
}

/** diffusers' dummy_noise_deter: the same grid counted down from 767. */
export function dummyNoise(): Tensor {
  return fill((k) => (767 - k) / 768);
}

function fill(value: (k: number) => number): Tensor {
  const data = new Float32Array(768);
  for (let b = 0; b < 4; b++)
    for (let c = 0; c < 3; c++)
      for (let h = 0; h < 8; h++)
        for (let w = 0; w < 8; w++) data[b * 192 + c * 64 + h * 8 + w] = value(c * 256 + h * 32 + w * 4 + b);
  return { data, dims: [...DIMS] };
}

/** diffusers' dummy model: sample · t / (t + 1), float32 ops left to right. */
export function dummyModel(sample: Tensor, t: number): Tensor {
  const tf = f32(t);
  const den = f32(tf + 1);
  return { data: sample.data.map((x) => f32(x * tf) / den), dims: [...sample.dims] };
}

/** The oracle's deterministic noise for step k (k = −1: the img2img add_noise noise). */
export function detNoise(k: number): Tensor {
  const data = new Float32Array(768);
  for (let i = 0; i < 768; i++) data[i] = Math.sin(i * 0.731 + k * 1.37);
  return { data, dims: [...DIMS] };
}

/** A noise source handing out detNoise(0), detNoise(1), … in call order. */
export function detNoiseSource(): NoiseSource & { calls: number } {
  const source = {
    calls: 0,
    normalTensor(dims: readonly number[]): Tensor {
      if (dims.join() !== DIMS.join()) throw new Error(`unexpected noise dims ${dims}`);
      return detNoise(source.calls++);
    },
  };
  return source;
}

export function scaleBy(t: Tensor, s: number): Tensor {
  return { data: t.data.map((x) => x * s), dims: [...t.dims] };
}

export type LoopStyle = 'euler_pipeline_style' | 'euler_test_style' | 'plain';

export interface LoopResult {
  sample: Tensor;
  perStepAbsSum: number[];
}

/**
 * Runs the oracle's loops. pipeline style: model sees the scaled input, step gets the unscaled
 * sample; test style: step gets the scaled sample (diffusers' own tests); plain: no scaling.
 */
export function runLoop(
  scheduler: Scheduler,
  style: LoopStyle,
  steps: number,
  options: { noise?: NoiseSource; img2imgStrength?: number | null; start?: Tensor } = {},
): LoopResult {
  let timesteps: number[];
  let x: Tensor;
  const start = options.start ?? dummySample();
  if (options.img2imgStrength != null) {
    timesteps = img2imgTimesteps(scheduler, steps, options.img2imgStrength);
    x = scheduler.addNoise(start, detNoise(-1), timesteps[0]);
  } else {
    scheduler.setTimesteps(steps);
    timesteps = scheduler.timesteps;
    x = style === 'plain' ? start : scaleBy(start, scheduler.initNoiseSigma);
  }
  const perStepAbsSum: number[] = [];
  for (const t of timesteps) {
    if (style === 'euler_test_style') {
      x = scheduler.scaleModelInput(x, t);
      x = scheduler.step(dummyModel(x, t), t, x, options.noise).prevSample;
    } else if (style === 'euler_pipeline_style') {
      const input = scheduler.scaleModelInput(x, t);
      x = scheduler.step(dummyModel(input, t), t, x, options.noise).prevSample;
    } else {
      x = scheduler.step(dummyModel(x, t), t, x, options.noise).prevSample;
    }
    perStepAbsSum.push(absSum(x));
  }
  return { sample: x, perStepAbsSum };
}

/** Σ|x| accumulated in float64, as the oracle does. */
export function absSum(t: Tensor): number {
  let s = 0;
  for (const v of t.data) s += Math.abs(v);
  return s;
}

export function relErr(actual: number, expected: number): number {
  if (actual === expected) return 0;
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE);
}

/** Worst relative error over two equally long lists (lengths must match). */
export function worstRel(actual: readonly number[], expected: readonly number[]): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  return actual.reduce((worst, a, i) => Math.max(worst, relErr(a, expected[i])), 0);
}

export function worstAbs(actual: readonly number[], expected: readonly number[]): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  return actual.reduce((worst, a, i) => Math.max(worst, Math.abs(a - expected[i])), 0);
}

/** Records the worst error per table/loop so a test can print a summary. */
export class ErrorLog {
  readonly worst = new Map<string, number>();
  note(what: string, err: number): number {
    this.worst.set(what, Math.max(this.worst.get(what) ?? 0, err));
    return err;
  }
  summary(): string {
    return [...this.worst].map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n');
  }
}
