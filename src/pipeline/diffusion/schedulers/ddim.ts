/**
 * DDIM (Song et al. 2020) with eta = 0, i.e. deterministic = diffusers' DDIMScheduler.step with
 * its default eta. From x_t and the model's x0/ε estimates:
 *   x_prev = sqrt(ᾱ_prev)·x0 + sqrt(1 − ᾱ_prev)·ε,   prev = t − T/n (integer division).
 * Works on training timesteps directly, so it needs no begin index (img2img just starts later).
 */
import type { Tensor } from '../../tensor';
import { BaseScheduler, checkSameSize, like } from './base';
import { ddimTimesteps, f32 } from './schedule';
import type { FullSchedulerConfig, NoiseSource, SchedulerName, StepResult } from './types';

type Keys = 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas' |
  'prediction_type' | 'timestep_spacing' | 'steps_offset' | 'set_alpha_to_one' | 'clip_sample' | 'clip_sample_range';
export type DdimConfig = Pick<FullSchedulerConfig, Keys>;

/** DDIMScheduler's defaults (diffusers). Note clip_sample and set_alpha_to_one default to true. */
export const DDIM_DEFAULTS: DdimConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
  set_alpha_to_one: true,
  clip_sample: true,
  clip_sample_range: 1,
};

/**
 * x0 and ε from a model output at ᾱ_t (epsilon / v / sample parameterisation), float32 ops;
 * optional clipping of x0 to ±range. Shared with LCM, whose diffusers code is identical here.
 */
export function predictX0Eps(
  prediction: FullSchedulerConfig['prediction_type'], modelOutput: Float32Array, sample: Float32Array,
  alphaProd: number, clipRange: number | null, wantEps: boolean,
): { x0: Float32Array; eps: Float32Array | null } {
  const sqrtA = f32(Math.sqrt(alphaProd));
  const sqrtB = f32(Math.sqrt(f32(1 - alphaProd)));
  const n = sample.length;
  const x0 = new Float32Array(n);
  const eps = wantEps ? new Float32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const m = modelOutput[i];
    const x = sample[i];
    if (prediction === 'epsilon') {
      x0[i] = f32(x - f32(sqrtB * m)) / sqrtA;
      if (eps) eps[i] = m;
    } else if (prediction === 'v_prediction') {
      x0[i] = f32(sqrtA * x) - f32(sqrtB * m);
      if (eps) eps[i] = f32(sqrtA * m) + f32(sqrtB * x);
    } else {
      x0[i] = m;
      if (eps) eps[i] = f32(x - f32(sqrtA * m)) / sqrtB;
    }
  }
  if (clipRange !== null) for (let i = 0; i < n; i++) x0[i] = Math.min(Math.max(x0[i], -clipRange), clipRange);
  return { x0, eps };
}

export class DdimScheduler extends BaseScheduler {
  readonly name: SchedulerName = 'ddim';
  /** ᾱ used past the end of the schedule: 1 (set_alpha_to_one) or ᾱ_0. */
  readonly finalAlphaCumprod: number;

  constructor(override readonly config: Readonly<DdimConfig>) {
    super(config);
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  setTimesteps(steps: number): void {
    this.checkSteps(steps);
    const cfg = this.config;
    this.startSchedule(ddimTimesteps(cfg.timestep_spacing, steps, cfg.num_train_timesteps, cfg.steps_offset));
  }

  /** The timestep DDIM jumps to from t (may be negative: then finalAlphaCumprod applies). */
  previousTimestep(t: number): number {
    this.requireSchedule();
    return t - Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
  }

  /** ᾱ at the previous timestep of t. */
  alphaCumprodPrev(t: number): number {
    const prev = this.previousTimestep(t);
    return prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
  }

  scaleModelInput(sample: Tensor, _t: number): Tensor {
    return { data: sample.data.slice(), dims: [...sample.dims] };
  }

  step(modelOutput: Tensor, t: number, sample: Tensor, _noise?: NoiseSource): StepResult {
    checkSameSize(modelOutput, sample, 'ddim: model output');
    const alphaProd = this.alphaAt(t);
    const alphaPrev = this.alphaCumprodPrev(t);
    const clip = this.config.clip_sample ? this.config.clip_sample_range : null;
    const { x0, eps } = predictX0Eps(this.config.prediction_type, modelOutput.data, sample.data, alphaProd, clip, true);
    // eta = 0: no variance term, direction coefficient sqrt(1 − ᾱ_prev).
    const cX0 = f32(Math.sqrt(alphaPrev));
    const cEps = f32(Math.sqrt(f32(1 - alphaPrev)));
    const prev = like(sample);
    for (let i = 0; i < x0.length; i++) prev.data[i] = f32(cX0 * x0[i]) + f32(cEps * eps![i]);
    return { prevSample: prev, predOriginalSample: { data: x0, dims: [...sample.dims] } };
  }

  addNoise(original: Tensor, noise: Tensor, t: number): Tensor {
    return addNoiseVp(this.alphaAt(t), original, noise, 'ddim');
  }
}

/** Variance-preserving forward process: sqrt(ᾱ)·x + sqrt(1 − ᾱ)·noise (DDIM, LCM). */
export function addNoiseVp(alphaProd: number, original: Tensor, noise: Tensor, who: string): Tensor {
  checkSameSize(noise, original, `${who}: addNoise noise`);
  const a = f32(Math.sqrt(alphaProd));
  const b = f32(Math.sqrt(f32(1 - alphaProd)));
  const out = like(original);
  for (let i = 0; i < out.data.length; i++) out.data[i] = f32(a * original.data[i]) + f32(b * noise.data[i]);
  return out;
}
