/**
 * Euler ancestral = diffusers' EulerAncestralDiscreteScheduler: an Euler step down to σ_down,
 * then fresh noise of size σ_up, with σ_down² + σ_up² = σ_next² so the marginal noise level stays
 * on schedule. Same timesteps/sigmas as Euler (no Karras option in diffusers' class).
 */
import type { Tensor } from '../../tensor';
import { checkSameSize, drawNoise, like } from './base';
import { EULER_DEFAULTS, EulerScheduler } from './euler';
import { f32 } from './schedule';
import type { FullSchedulerConfig, NoiseSource, SchedulerName, StepResult } from './types';

type Keys = 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas' |
  'prediction_type' | 'timestep_spacing' | 'steps_offset';

/** EulerAncestralDiscreteScheduler's defaults (diffusers): Euler's, minus the sigma options. */
export const EULER_ANCESTRAL_DEFAULTS: Pick<FullSchedulerConfig, Keys> = {
  num_train_timesteps: EULER_DEFAULTS.num_train_timesteps,
  beta_start: EULER_DEFAULTS.beta_start,
  beta_end: EULER_DEFAULTS.beta_end,
  beta_schedule: EULER_DEFAULTS.beta_schedule,
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

/** σ_up and σ_down for a step from σ to σ_next (float32 ops, as diffusers). */
export function ancestralSigmas(sigma: number, sigmaNext: number): { sigmaUp: number; sigmaDown: number } {
  const from2 = f32(sigma * sigma);
  const to2 = f32(sigmaNext * sigmaNext);
  const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
  const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
  return { sigmaUp, sigmaDown };
}

export class EulerAncestralScheduler extends EulerScheduler {
  override readonly name: SchedulerName = 'euler_a';

  override step(modelOutput: Tensor, t: number, sample: Tensor, noise?: NoiseSource): StepResult {
    checkSameSize(modelOutput, sample, 'euler_a: model output');
    const index = this.currentIndex(t);
    const sigma = this.sigmaTable[index];
    const { sigmaUp, sigmaDown } = ancestralSigmas(sigma, this.sigmaTable[index + 1]);
    const dt = f32(sigmaDown - sigma);
    const x0 = like(sample);
    this.predictOriginal(modelOutput, sample, sigma, x0.data);
    // diffusers draws noise on every step, the last included (σ_up = 0 there), so the noise
    // stream stays aligned with its generator.
    const z = drawNoise(noise, sample, 'euler_a');
    const prev = like(sample);
    const x = sample.data;
    for (let i = 0; i < x.length; i++) {
      const derivative = f32(f32(x[i] - x0.data[i]) / sigma);
      prev.data[i] = f32(x[i] + f32(derivative * dt)) + f32(z[i] * sigmaUp);
    }
    this.stepIdx = index + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
