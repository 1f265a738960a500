/**
 * State every scheduler shares: the schedule, the step/begin index bookkeeping diffusers uses
 * (`_step_index`, `_begin_index`), and small flat-tensor helpers. Tensors are treated as flat
 * arrays of any shape; results are new tensors with the sample's dims, inputs are never written.
 */
import type { Tensor } from '../../tensor';
import { alphasCumprodFrom, betasFor } from './schedule';
import type { FullSchedulerConfig, NoiseSource, Scheduler, SchedulerName, StepResult } from './types';

type BaseConfig = Pick<
  FullSchedulerConfig,
  'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas'
>;

export abstract class BaseScheduler implements Scheduler {
  abstract readonly name: SchedulerName;
  readonly order = 1;
  readonly alphasCumprod: Float32Array;
  protected schedule: number[] = frozen([]);
  protected stepIdx: number | null = null;
  protected beginIdx: number | null = null;

  constructor(readonly config: Readonly<Partial<FullSchedulerConfig>> & Readonly<BaseConfig>) {
    this.alphasCumprod = alphasCumprodFrom(betasFor(config));
  }

  get timesteps(): number[] {
    return this.schedule;
  }
  get numInferenceSteps(): number {
    return this.schedule.length;
  }
  get initNoiseSigma(): number {
    return 1;
  }
  get stepIndex(): number | null {
    return this.stepIdx;
  }
  get beginIndex(): number | null {
    return this.beginIdx;
  }

  abstract setTimesteps(steps: number): void;
  abstract scaleModelInput(sample: Tensor, t: number): Tensor;
  abstract step(modelOutput: Tensor, t: number, sample: Tensor, noise?: NoiseSource): StepResult;
  abstract addNoise(original: Tensor, noise: Tensor, t: number): Tensor;

  setBeginIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.schedule.length) {
      throw new Error(`setBeginIndex: index must be an integer in 0..${this.schedule.length - 1} (after setTimesteps), got ${index}`);
    }
    this.beginIdx = index;
  }

  /** Installs a new schedule and clears the per-run state, as diffusers' set_timesteps does. */
  protected startSchedule(timesteps: number[]): void {
    this.schedule = frozen(timesteps);
    this.stepIdx = null;
    this.beginIdx = null;
  }

  protected checkSteps(steps: number, max = this.config.num_train_timesteps): void {
    if (!Number.isInteger(steps) || steps < 1 || steps > max) {
      throw new Error(`${this.name}: steps must be an integer between 1 and ${max}, got ${steps}`);
    }
  }

  protected requireSchedule(): void {
    if (this.schedule.length === 0) throw new Error(`${this.name}: call setTimesteps(steps) before using the scheduler`);
  }

  /**
   * Position of t in the schedule. When t occurs twice, diffusers takes the second occurrence so
   * a run started mid-schedule does not skip a sigma.
   */
  protected indexForTimestep(t: number): number {
    const hits: number[] = [];
    this.schedule.forEach((s, i) => s === t && hits.push(i));
    if (hits.length === 0) throw new Error(`${this.name}: timestep ${t} is not in the schedule (pass an entry of timesteps)`);
    return hits.length > 1 ? hits[1] : hits[0];
  }

  /** The step index for t, initialised on first use from the begin index or by lookup. */
  protected currentIndex(t: number): number {
    this.requireSchedule();
    if (this.stepIdx === null) this.stepIdx = this.beginIdx ?? this.indexForTimestep(t);
    if (this.stepIdx >= this.schedule.length) throw new Error(`${this.name}: all ${this.schedule.length} steps have run`);
    return this.stepIdx;
  }

  /** Which schedule entry add_noise uses: lookup, the running step, or the begin index. */
  protected noiseIndex(t: number): number {
    this.requireSchedule();
    if (this.beginIdx === null) return this.indexForTimestep(t);
    return this.stepIdx ?? this.beginIdx;
  }

  /** alphas_cumprod at an integer training timestep (DDIM, LCM). */
  protected alphaAt(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) {
      throw new Error(`${this.name}: timestep must be an integer training step 0..${this.alphasCumprod.length - 1}, got ${t}`);
    }
    return this.alphasCumprod[t];
  }
}

export function frozen(values: number[]): number[] {
  return Object.freeze(values) as number[];
}

/** A new tensor shaped like `sample`. */
export function like(sample: Tensor): Tensor {
  return { data: new Float32Array(sample.data.length), dims: [...sample.dims] };
}

export function checkSameSize(a: Tensor, b: Tensor, what: string): void {
  if (a.data.length !== b.data.length) {
    throw new Error(`${what} has ${a.data.length} values but the sample has ${b.data.length}`);
  }
}

/** Noise for a stochastic step, from the caller's source, sized like the sample. */
export function drawNoise(source: NoiseSource | undefined, sample: Tensor, who: string): Float32Array {
  if (!source) throw new Error(`${who}: step needs a noise source (e.g. createRng(seed)) as its 4th argument`);
  const noise = source.normalTensor(sample.dims);
  checkSameSize(noise, sample, `${who}: noise`);
  return noise.data;
}
