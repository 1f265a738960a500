/**
 * Euler (Karras et al. 2022, Algorithm 2 without churn) = diffusers' EulerDiscreteScheduler with
 * s_churn = 0: x ← x + (x − x0)/σ · (σ_next − σ), where x0 is the model's clean-sample estimate.
 * The sample lives in "sigma space" (variance σ² + 1), hence scaleModelInput and initNoiseSigma.
 *
 * Arithmetic: f32() after each op, as torch runs these element-wise ops in float32.
 */
import type { Tensor } from '../../tensor';
import { BaseScheduler, checkSameSize, frozen, like } from './base';
import {
  eulerTimesteps, f32, interpByIndex, karrasSigmas, logSigmasF32, sigmaToT, trainSigmasFrom,
} from './schedule';
import type { FullSchedulerConfig, NoiseSource, SchedulerName, StepResult } from './types';

type Common = 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas' |
  'prediction_type' | 'timestep_spacing' | 'steps_offset';
export type EulerFamilyConfig = Pick<FullSchedulerConfig, Common> &
  Partial<Pick<FullSchedulerConfig, 'use_karras_sigmas' | 'sigma_min' | 'sigma_max' | 'final_sigmas_type'>>;

/** EulerDiscreteScheduler's defaults (diffusers). */
export const EULER_DEFAULTS: Pick<FullSchedulerConfig, Common | 'use_karras_sigmas' | 'sigma_min' | 'sigma_max' | 'final_sigmas_type'> = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
  use_karras_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  final_sigmas_type: 'zero',
};

export class EulerScheduler extends BaseScheduler {
  readonly name: SchedulerName = 'euler';
  protected sigmaTable: number[] = frozen([]);
  /** Training sigmas by timestep (float32) and their float32 logs, for interpolation. */
  protected readonly trainSigmas: Float32Array;
  protected readonly logSigmas: Float32Array;

  constructor(override readonly config: Readonly<EulerFamilyConfig>) {
    super(config);
    this.trainSigmas = trainSigmasFrom(this.alphasCumprod);
    this.logSigmas = logSigmasF32(this.trainSigmas);
  }

  get sigmas(): number[] {
    return this.sigmaTable;
  }

  /** Largest sigma; 'leading' schedules don't start at σ_max, so diffusers uses sqrt(σ² + 1) there. */
  override get initNoiseSigma(): number {
    // Before setTimesteps diffusers' table is the training sigmas; same maximum.
    const max = this.sigmaTable.length > 0 ? Math.max(...this.sigmaTable) : Math.max(...this.trainSigmas);
    const spacing = this.config.timestep_spacing;
    return spacing === 'linspace' || spacing === 'trailing' ? max : f32(Math.sqrt(f32(f32(max * max) + 1)));
  }

  setTimesteps(steps: number): void {
    this.checkSteps(steps);
    const cfg = this.config;
    let timesteps = eulerTimesteps(cfg.timestep_spacing, steps, cfg.num_train_timesteps, cfg.steps_offset);
    // σ at each (possibly fractional) timestep, by linear interpolation in float64.
    let sigmas = timesteps.map((t) => interpByIndex(t, this.trainSigmas));
    if (cfg.use_karras_sigmas) {
      sigmas = karrasSigmas(cfg.sigma_min ?? sigmas[sigmas.length - 1], cfg.sigma_max ?? sigmas[0], steps);
      timesteps = sigmas.map((s) => f32(sigmaToT(s, this.logSigmas)));
    }
    const last = cfg.final_sigmas_type === 'sigma_min' ? this.trainSigmas[0] : 0;
    this.sigmaTable = frozen([...sigmas, last].map(f32));
    this.startSchedule(timesteps);
  }

  scaleModelInput(sample: Tensor, t: number): Tensor {
    const sigma = this.sigmaTable[this.currentIndex(t)];
    const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    const out = like(sample);
    for (let i = 0; i < out.data.length; i++) out.data[i] = sample.data[i] / scale;
    return out;
  }

  /** x0 from the model output at σ (epsilon, v or sample parameterisation), written into `x0`. */
  protected predictOriginal(modelOutput: Tensor, sample: Tensor, sigma: number, x0: Float32Array): void {
    const m = modelOutput.data;
    const x = sample.data;
    switch (this.config.prediction_type) {
      case 'epsilon':
        for (let i = 0; i < x.length; i++) x0[i] = x[i] - f32(sigma * m[i]);
        break;
      case 'v_prediction': {
        // x0 = −σ/sqrt(σ²+1) · v + x/(σ²+1)
        const s2p1 = f32(f32(sigma * sigma) + 1);
        const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
        for (let i = 0; i < x.length; i++) x0[i] = f32(m[i] * cOut) + f32(x[i] / s2p1);
        break;
      }
      case 'sample':
        x0.set(m);
        break;
    }
  }

  step(modelOutput: Tensor, t: number, sample: Tensor, _noise?: NoiseSource): StepResult {
    checkSameSize(modelOutput, sample, `${this.name}: model output`);
    const index = this.currentIndex(t);
    const sigma = this.sigmaTable[index];
    const dt = f32(this.sigmaTable[index + 1] - sigma);
    const x0 = like(sample);
    this.predictOriginal(modelOutput, sample, sigma, x0.data);
    const prev = like(sample);
    const x = sample.data;
    for (let i = 0; i < x.length; i++) {
      const derivative = f32(f32(x[i] - x0.data[i]) / sigma);
      prev.data[i] = x[i] + f32(derivative * dt);
    }
    this.stepIdx = index + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(original: Tensor, noise: Tensor, t: number): Tensor {
    checkSameSize(noise, original, `${this.name}: addNoise noise`);
    const sigma = this.sigmaTable[this.noiseIndex(t)];
    const out = like(original);
    for (let i = 0; i < out.data.length; i++) out.data[i] = original.data[i] + f32(noise.data[i] * sigma);
    return out;
  }
}
