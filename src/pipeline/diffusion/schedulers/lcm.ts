/**
 * Latent Consistency Model sampling (Luo et al. 2023) = diffusers' LCMScheduler. Each step maps
 * x_t straight to a clean estimate ("denoised", with the consistency boundary scalings c_skip,
 * c_out), then re-noises it to the next timestep with fresh noise; the last step returns the
 * estimate itself. Timesteps are taken from the distillation schedule (original_inference_steps).
 */
import type { Tensor } from '../../tensor';
import { BaseScheduler, checkSameSize, drawNoise, like } from './base';
import { addNoiseVp, predictX0Eps } from './ddim';
import { f32, lcmTimesteps } from './schedule';
import type { FullSchedulerConfig, NoiseSource, SchedulerName, StepResult } from './types';

type Keys = 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas' |
  'prediction_type' | 'timestep_spacing' | 'steps_offset' | 'set_alpha_to_one' | 'clip_sample' |
  'clip_sample_range' | 'original_inference_steps' | 'timestep_scaling';
export type LcmConfig = Pick<FullSchedulerConfig, Keys>;

/** LCMScheduler's defaults (diffusers): unlike the others, the SD betas are the default. */
export const LCM_DEFAULTS: LcmConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading', // accepted for compatibility; LCM's schedule does not use it
  steps_offset: 0,
  set_alpha_to_one: true,
  clip_sample: false,
  clip_sample_range: 1,
  original_inference_steps: 50,
  timestep_scaling: 10,
};

/** c_skip, c_out of the consistency parameterisation at timestep t (σ_data = 0.5), float32. */
export function lcmBoundaryScalings(t: number, timestepScaling: number): { cSkip: number; cOut: number } {
  const scaled = f32(t * timestepScaling);
  const denom = f32(f32(scaled * scaled) + 0.25);
  return { cSkip: f32(0.25 / denom), cOut: f32(scaled / f32(Math.sqrt(denom))) };
}

export class LcmScheduler extends BaseScheduler {
  readonly name: SchedulerName = 'lcm';
  readonly finalAlphaCumprod: number;

  constructor(override readonly config: Readonly<LcmConfig>) {
    super(config);
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  setTimesteps(steps: number): void {
    const T = this.config.num_train_timesteps;
    const original = this.config.original_inference_steps;
    if (original > T) {
      throw new Error(`lcm: original_inference_steps (${original}) cannot exceed num_train_timesteps (${T})`);
    }
    this.checkSteps(steps, original); // the schedule is a subset of the distillation schedule
    this.startSchedule(lcmTimesteps(steps, T, original));
  }

  /** The timestep the step at `index` re-noises to; null on the last step (no re-noising). */
  previousTimestep(index: number): number | null {
    return index + 1 < this.schedule.length ? this.schedule[index + 1] : null;
  }

  scaleModelInput(sample: Tensor, _t: number): Tensor {
    return { data: sample.data.slice(), dims: [...sample.dims] };
  }

  step(modelOutput: Tensor, t: number, sample: Tensor, noise?: NoiseSource): StepResult {
    checkSameSize(modelOutput, sample, 'lcm: model output');
    const index = this.currentIndex(t);
    const cfg = this.config;
    const clip = cfg.clip_sample ? cfg.clip_sample_range : null;
    const { x0 } = predictX0Eps(cfg.prediction_type, modelOutput.data, sample.data, this.alphaAt(t), clip, false);
    const { cSkip, cOut } = lcmBoundaryScalings(t, cfg.timestep_scaling);
    const denoised = like(sample);
    for (let i = 0; i < x0.length; i++) denoised.data[i] = f32(cOut * x0[i]) + f32(cSkip * sample.data[i]);
    const prevT = this.previousTimestep(index);
    // Last step: the estimate is the result, and diffusers draws no noise.
    const z = prevT === null ? null : drawNoise(noise, sample, 'lcm');
    this.stepIdx = index + 1;
    if (prevT === null || z === null) {
      return { prevSample: denoised, predOriginalSample: { data: denoised.data.slice(), dims: [...sample.dims] } };
    }
    const alphaPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const prevSample = addNoiseVp(alphaPrev, denoised, { data: z, dims: sample.dims }, 'lcm');
    return { prevSample, predOriginalSample: denoised };
  }

  addNoise(original: Tensor, noise: Tensor, t: number): Tensor {
    return addNoiseVp(this.alphaAt(t), original, noise, 'lcm');
  }
}
