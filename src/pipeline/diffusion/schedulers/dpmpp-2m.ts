/**
 * DPM-Solver++ multistep (Lu et al. 2022), "DPM++ 2M" = diffusers' DPMSolverMultistepScheduler
 * with algorithm_type 'dpmsolver++', solver_type 'midpoint'. It works on the data prediction x0
 * in log-SNR time λ = log(α/σ): a first-order step is exact for a constant x0, and the
 * multistep variants extrapolate x0 from the previous steps' estimates (solver_order 2, or 3).
 * Lower orders are used at the start (no history yet) and, per lower_order_final /
 * euler_at_final / final_sigmas_type, at the end, exactly as diffusers decides.
 */
import type { Tensor } from '../../tensor';
import { BaseScheduler, checkSameSize, frozen, like } from './base';
import {
  dpmTimesteps, f32, interpByIndex, karrasSigmas, logSigmasF32, roundHalfEven, sigmaToAlphaSigma, sigmaToT,
  trainSigmasFrom,
} from './schedule';
import type { FullSchedulerConfig, NoiseSource, SchedulerName, StepResult } from './types';

type Keys = 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas' |
  'prediction_type' | 'timestep_spacing' | 'steps_offset' | 'use_karras_sigmas' | 'final_sigmas_type' |
  'solver_order' | 'lower_order_final' | 'euler_at_final';
export type DpmConfig = Pick<FullSchedulerConfig, Keys>;

/** DPMSolverMultistepScheduler's defaults (diffusers). */
export const DPM_DEFAULTS: DpmConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
  use_karras_sigmas: false,
  final_sigmas_type: 'zero',
  solver_order: 2,
  lower_order_final: true,
  euler_at_final: false,
};

/** λ(σ) = log α − log σ, float32 as torch computes it (σ = 0 gives +∞, which the formulas absorb). */
function lambdaOf(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const [alpha, sigmaT] = sigmaToAlphaSigma(sigma);
  return { alpha, sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

export class DpmSolverMultistepScheduler extends BaseScheduler {
  readonly name: SchedulerName = 'dpmpp_2m';
  private sigmaTable: number[] = frozen([]);
  private readonly trainSigmas: Float32Array;
  /** Data predictions of the last solver_order steps, newest last. */
  private history: Float32Array[] = [];
  private lowerOrderNums = 0;
  /** Solver order the last step used (1, 2 or 3): diffusers' choice, exposed for tests. */
  lastStepOrder = 0;

  constructor(override readonly config: Readonly<DpmConfig>) {
    super(config);
    this.trainSigmas = trainSigmasFrom(this.alphasCumprod);
  }

  get sigmas(): number[] {
    return this.sigmaTable;
  }

  setTimesteps(steps: number): void {
    const cfg = this.config;
    // 'leading' spaces by ⌊T/(steps+1)⌋, which is 0 (every timestep the same) at steps = T.
    this.checkSteps(steps, cfg.timestep_spacing === 'leading' ? cfg.num_train_timesteps - 1 : cfg.num_train_timesteps);
    let timesteps = dpmTimesteps(cfg.timestep_spacing, steps, cfg.num_train_timesteps, cfg.steps_offset);
    let sigmas: number[];
    if (cfg.use_karras_sigmas) {
      // Range = the full training range (diffusers' DPM class has no sigma_min/sigma_max keys).
      const T = this.trainSigmas.length;
      sigmas = karrasSigmas(this.trainSigmas[0], this.trainSigmas[T - 1], steps);
      const logSigmas = logSigmasF32(this.trainSigmas);
      const round = cfg.beta_schedule !== 'squaredcos_cap_v2'; // diffusers rounds, except for cosine
      timesteps = sigmas.map((s) => (round ? roundHalfEven : Math.trunc)(sigmaToT(s, logSigmas)));
    } else {
      sigmas = timesteps.map((t) => interpByIndex(t, this.trainSigmas));
    }
    // Near steps = T, rounding repeats a timestep (linspace gives 500 twice at 1000 steps, and
    // 'leading' with steps_offset reaches 1000, clamped to 999's sigma); a repeated sigma makes a
    // zero log-SNR step that the second-order update divides by. Keep the first of each, as
    // diffusers' DPM schedulers did (np.unique with return_index on the timesteps).
    const seen = new Set<number>();
    const keep = sigmas.map((sigma) => !seen.has(f32(sigma)) && seen.add(f32(sigma)) !== undefined);
    timesteps = timesteps.filter((_, i) => keep[i]);
    sigmas = sigmas.filter((_, i) => keep[i]);
    const last = cfg.final_sigmas_type === 'sigma_min' ? this.trainSigmas[0] : 0;
    this.sigmaTable = frozen([...sigmas, last].map(f32));
    this.startSchedule(timesteps);
    this.history = [];
    this.lowerOrderNums = 0;
  }

  /** Not found → the last index (diffusers' DPM rule, unlike the Euler family). */
  protected override indexForTimestep(t: number): number {
    const hits: number[] = [];
    this.schedule.forEach((s, i) => s === t && hits.push(i));
    if (hits.length === 0) return this.schedule.length - 1;
    return hits.length > 1 ? hits[1] : hits[0];
  }

  scaleModelInput(sample: Tensor, _t: number): Tensor {
    return { data: sample.data.slice(), dims: [...sample.dims] };
  }

  /** The model output as a data prediction x0 (dpmsolver++ works on x0). */
  private toX0(modelOutput: Tensor, sample: Tensor, sigma: number): Float32Array {
    const { alpha, sigmaT } = lambdaOf(sigma);
    const m = modelOutput.data;
    const x = sample.data;
    const x0 = new Float32Array(x.length);
    const type = this.config.prediction_type;
    for (let i = 0; i < x.length; i++) {
      if (type === 'epsilon') x0[i] = f32(x[i] - f32(sigmaT * m[i])) / alpha;
      else if (type === 'v_prediction') x0[i] = f32(alpha * x[i]) - f32(sigmaT * m[i]);
      else x0[i] = m[i];
    }
    return x0;
  }

  step(modelOutput: Tensor, t: number, sample: Tensor, _noise?: NoiseSource): StepResult {
    checkSameSize(modelOutput, sample, 'dpmpp_2m: model output');
    const i = this.currentIndex(t);
    const n = this.schedule.length;
    const cfg = this.config;
    const lowerOrderFinal = i === n - 1 &&
      (cfg.euler_at_final || (cfg.lower_order_final && n < 15) || cfg.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === n - 2 && cfg.lower_order_final && n < 15;

    const x0 = this.toX0(modelOutput, sample, this.sigmaTable[i]);
    this.history = [...this.history, x0].slice(-cfg.solver_order);

    let order: number;
    if (cfg.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) order = 1;
    else if (cfg.solver_order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) order = 2;
    else order = 3;

    const prev = like(sample);
    this.update(order, i, sample.data, prev.data);
    if (this.lowerOrderNums < cfg.solver_order) this.lowerOrderNums++;
    this.lastStepOrder = order;
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: { data: x0, dims: [...sample.dims] } };
  }

  /** x_t from x_s and the x0 history: the dpmsolver++ midpoint formulas of order 1, 2, 3. */
  private update(order: number, i: number, x: Float32Array, out: Float32Array): void {
    const s = this.sigmaTable;
    const to = lambdaOf(s[i + 1]);
    const s0 = lambdaOf(s[i]);
    const h = f32(to.lambda - s0.lambda);
    const expm1 = f32(f32(Math.exp(-h)) - 1); // torch.exp(-h) - 1.0, in float32
    const cX = f32(to.sigmaT / s0.sigmaT);
    const cD0 = f32(to.alpha * expm1);
    const hist = this.history;
    const m0 = hist[hist.length - 1];
    if (order === 1) {
      for (let k = 0; k < x.length; k++) out[k] = f32(cX * x[k]) - f32(cD0 * m0[k]);
      return;
    }
    const m1 = hist[hist.length - 2];
    const s1 = lambdaOf(s[i - 1]);
    const h0 = f32(s0.lambda - s1.lambda);
    const r0 = f32(h0 / h);
    if (order === 2) {
      const invR0 = f32(1 / r0);
      const cD1 = f32(0.5 * cD0);
      for (let k = 0; k < x.length; k++) {
        const d1 = f32(invR0 * f32(m0[k] - m1[k]));
        out[k] = f32(f32(cX * x[k]) - f32(cD0 * m0[k])) - f32(cD1 * d1);
      }
      return;
    }
    const m2 = hist[hist.length - 3];
    const s2 = lambdaOf(s[i - 2]);
    const h1 = f32(s1.lambda - s2.lambda);
    const r1 = f32(h1 / h);
    const invR0 = f32(1 / r0);
    const invR1 = f32(1 / r1);
    const r0r1 = f32(r0 + r1);
    const mixD1 = f32(r0 / r0r1);
    const invR0r1 = f32(1 / r0r1);
    const cD1 = f32(to.alpha * f32(f32(expm1 / h) + 1));
    const cD2 = f32(to.alpha * f32(f32(f32(expm1 + h) / f32(h * h)) - 0.5));
    for (let k = 0; k < x.length; k++) {
      const d10 = f32(invR0 * f32(m0[k] - m1[k]));
      const d11 = f32(invR1 * f32(m1[k] - m2[k]));
      const d1 = f32(d10 + f32(mixD1 * f32(d10 - d11)));
      const d2 = f32(invR0r1 * f32(d10 - d11));
      out[k] = f32(f32(f32(cX * x[k]) - f32(cD0 * m0[k])) + f32(cD1 * d1)) - f32(cD2 * d2);
    }
  }

  /** α_t·x + σ_t·noise at the schedule's sigma for t. */
  addNoise(original: Tensor, noise: Tensor, t: number): Tensor {
    checkSameSize(noise, original, 'dpmpp_2m: addNoise noise');
    const { alpha, sigmaT } = lambdaOf(this.sigmaTable[this.noiseIndex(t)]);
    const out = like(original);
    for (let k = 0; k < out.data.length; k++) out.data[k] = f32(alpha * original.data[k]) + f32(sigmaT * noise.data[k]);
    return out;
  }
}
