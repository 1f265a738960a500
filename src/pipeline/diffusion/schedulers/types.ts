/**
 * The one Scheduler interface, in diffusers' vocabulary (timesteps, sigmas, init_noise_sigma,
 * scale_model_input, step, add_noise, set_begin_index), so a pipeline reads like a diffusers
 * pipeline and any of the five algorithms can be swapped in.
 */
import type { NoiseSource } from '../../random';
import type { Tensor } from '../../tensor';

export type { NoiseSource };

import type { SchedulerName } from '../../../protocol/pipeline-config';

export { SCHEDULER_NAMES, type SchedulerName } from '../../../protocol/pipeline-config';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

/**
 * Every `scheduler_config.json` key this module understands, with its resolved value. A given
 * algorithm reads only the keys its diffusers class has (see each file's DEFAULTS); the
 * others are ignored, as diffusers' `from_config` ignores them.
 */
export interface FullSchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Explicit betas; overrides beta_start/beta_end/beta_schedule when set. */
  trained_betas: number[] | null;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
  prediction_type: PredictionType;
  /** euler, dpmpp_2m. */
  use_karras_sigmas: boolean;
  /** euler: Karras range overrides (null = the schedule's own ends). */
  sigma_min: number | null;
  sigma_max: number | null;
  /** euler, dpmpp_2m: last sigma 0 or the smallest training sigma. */
  final_sigmas_type: 'zero' | 'sigma_min';
  /** ddim, lcm. */
  set_alpha_to_one: boolean;
  clip_sample: boolean;
  clip_sample_range: number;
  /** lcm. */
  original_inference_steps: number;
  timestep_scaling: number;
  /** dpmpp_2m. */
  solver_order: number;
  lower_order_final: boolean;
  euler_at_final: boolean;
}

/** What callers pass: parsed `scheduler_config.json` (any keys; unknown ones are ignored). */
export type SchedulerConfigInput = Partial<FullSchedulerConfig> | Readonly<Record<string, unknown>>;

export interface StepResult {
  prevSample: Tensor;
  /** The model's current estimate of the clean sample (x0); LCM: its `denoised`. For previews. */
  predOriginalSample: Tensor;
}

export interface Scheduler {
  readonly name: SchedulerName;
  /** The resolved config (this algorithm's keys only, defaults filled in), for metadata. */
  readonly config: Readonly<Partial<FullSchedulerConfig>>;
  /** Model evaluations per entry of `timesteps` (1 for all five algorithms). */
  readonly order: number;
  /** Set by setTimesteps; frozen. Empty before the first setTimesteps. */
  readonly timesteps: number[];
  /** euler, euler_a, dpmpp_2m: one per timestep plus the final one. Frozen. */
  readonly sigmas?: number[];
  /** Scale of the initial noise for text-to-image (`latents = noise * initNoiseSigma`). */
  readonly initNoiseSigma: number;
  /** alphas_cumprod by training timestep (float32, as diffusers computes it). */
  readonly alphasCumprod: Float32Array;
  /** Number of entries of the current schedule (0 before setTimesteps). */
  readonly numInferenceSteps: number;
  /** Index of the next step, or null before the first scaleModelInput/step. */
  readonly stepIndex: number | null;
  readonly beginIndex: number | null;

  /** Build the schedule for `steps` steps; resets step state. */
  setTimesteps(steps: number): void;
  /** Start at this index of `timesteps` (img2img); call after setTimesteps. */
  setBeginIndex(index: number): void;
  /** The model input for timestep t (Euler family divides by sqrt(sigma² + 1)); a new tensor. */
  scaleModelInput(sample: Tensor, t: number): Tensor;
  /**
   * One denoising step. `t` must be an entry of `timesteps`. `noise` is required by euler_a
   * (every step) and lcm (every step but the last); it is asked for a tensor of the sample's dims.
   * Inputs are never modified.
   */
  step(modelOutput: Tensor, t: number, sample: Tensor, noise?: NoiseSource): StepResult;
  /** Forward diffusion of a clean sample to timestep t (img2img start). */
  addNoise(original: Tensor, noise: Tensor, t: number): Tensor;
}
