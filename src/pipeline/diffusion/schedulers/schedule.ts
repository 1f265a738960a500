/**
 * Schedule math shared by the five schedulers: betas, alphas_cumprod, training sigmas, timestep
 * spacing, Karras sigmas, sigma↔timestep interpolation.
 *
 * Precision, and why: diffusers builds these tables with torch float32 ops and numpy float64 ops
 * mixed in a particular way, and a plain float64 port drifts by up to ~2e-5 relative near t = 0.
 * So each function reproduces the dtype diffusers uses at that point: `f32()` (Math.fround) after
 * every op diffusers does in float32, plain doubles where it uses numpy float64. With that the
 * tables match diffusers to the last float32 bit (see test/pipeline/diffusion/schedulers).
 */
import type { BetaSchedule, FullSchedulerConfig, TimestepSpacing } from './types';

export const f32 = Math.fround;

/** numpy's round(): half to even (Math.round rounds half up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torch.linspace(start, end, n, dtype=float32) on CPU: float32 step, filled from both ends. */
export function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  const s = f32(start);
  const e = f32(end);
  const step = f32((e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (n - i - 1)));
  return out;
}

/** Glide's cosine schedule (diffusers' betas_for_alpha_bar), computed in float64, stored float32. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return out;
}

type BetaConfig = Pick<FullSchedulerConfig, 'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas'>;

export function betasFor(config: BetaConfig): Float32Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas) {
    if (config.trained_betas.length !== n) {
      throw new Error(`scheduler config: trained_betas has ${config.trained_betas.length} values, num_train_timesteps is ${n}`);
    }
    return Float32Array.from(config.trained_betas);
  }
  const schedule: BetaSchedule = config.beta_schedule;
  switch (schedule) {
    case 'linear':
      return torchLinspaceF32(config.beta_start, config.beta_end, n);
    case 'scaled_linear':
      // linspace of square roots (float64 sqrt, then float32), squared in float32.
      return torchLinspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n).map((b) => f32(b * b));
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
  }
}

/** alphas = 1 − betas (float32); torch.cumprod on CPU accumulates in float64, stores float32. */
export function alphasCumprodFrom(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/** σ_t = sqrt((1 − ᾱ_t) / ᾱ_t), every op in float32; index = training timestep. */
export function trainSigmasFrom(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** np.interp(x, arange(len), table) in float64, clamped at both ends as numpy does. */
export function interpByIndex(x: number, table: ArrayLike<number>): number {
  const last = table.length - 1;
  if (x <= 0) return table[0];
  if (x >= last) return table[last];
  const j = Math.floor(x);
  if (j === x) return table[j];
  return (table[j + 1] - table[j]) * (x - j) + table[j]; // grid spacing is 1
}

/**
 * np.arange(start, 0, -step) for a positive float step, exactly as numpy fills it (first two values,
 * then start + i·(second − first)), truncated to `count` values: numpy's ceil of a rounded
 * quotient yields one extra value (a timestep of −1 after rounding) for some step counts
 * (61, 103, … of 1000); we keep the intended `count`.
 */
function numpyArangeDown(start: number, step: number, count: number): number[] {
  const second = start - step;
  const delta = second - start;
  return Array.from({ length: count }, (_, i) => (i === 0 ? start : i === 1 ? second : start + i * delta));
}

/** np.linspace(0, stop, num, endpoint) in float64: i·(stop/div), last value exactly stop. */
function numpyLinspace(stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const step = stop / div;
  const out = Array.from({ length: num }, (_, i) => i * step);
  if (endpoint && num > 1) out[num - 1] = stop;
  if (endpoint && num === 1) out[0] = 0;
  return out;
}

/**
 * Euler / Euler-ancestral timesteps (float32, descending): linspace keeps fractions; leading and
 * trailing are integers.
 */
export function eulerTimesteps(spacing: TimestepSpacing, n: number, trainSteps: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return numpyLinspace(trainSteps - 1, n).map(f32).reverse();
    case 'leading': {
      const ratio = Math.floor(trainSteps / n);
      return Array.from({ length: n }, (_, i) => i * ratio + stepsOffset).reverse();
    }
    case 'trailing':
      return numpyArangeDown(trainSteps, trainSteps / n, n).map((t) => roundHalfEven(t) - 1);
  }
}

/** DDIM timesteps (integers, descending). */
export function ddimTimesteps(spacing: TimestepSpacing, n: number, trainSteps: number, stepsOffset: number): number[] {
  if (spacing === 'linspace') return numpyLinspace(trainSteps - 1, n).map(roundHalfEven).reverse();
  return eulerTimesteps(spacing, n, trainSteps, stepsOffset);
}

/**
 * DPM-Solver timesteps (integers, descending): n + 1 points with the last (0) dropped, so the
 * final step lands on sigma 0 rather than evaluating the model there.
 */
export function dpmTimesteps(spacing: TimestepSpacing, n: number, trainSteps: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return numpyLinspace(trainSteps - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
    case 'leading': {
      const ratio = Math.floor(trainSteps / (n + 1));
      return Array.from({ length: n + 1 }, (_, i) => i * ratio).reverse().slice(0, n).map((t) => t + stepsOffset);
    }
    case 'trailing':
      return numpyArangeDown(trainSteps, trainSteps / n, n).map((t) => roundHalfEven(t) - 1);
  }
}

/** LCM: n timesteps taken evenly (by index) from the distillation schedule k−1, 2k−1, …, T−1. */
export function lcmTimesteps(n: number, trainSteps: number, originalSteps: number): number[] {
  const k = Math.floor(trainSteps / originalSteps);
  const origin = Array.from({ length: originalSteps }, (_, i) => (i + 1) * k - 1).reverse();
  return numpyLinspace(origin.length, n, false).map((x) => origin[Math.floor(x)]);
}

/** Karras et al. (2022) sigmas, rho = 7, in float64 (numpy). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  const ramp = numpyLinspace(1, n);
  return ramp.map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** log of the training sigmas, in float32 as numpy computes np.log on a float32 array. */
export function logSigmasF32(trainSigmas: Float32Array): Float32Array {
  return trainSigmas.map((s) => f32(Math.log(s)));
}

/**
 * diffusers' _sigma_to_t: the fractional training timestep whose log-sigma matches, by linear
 * interpolation in log space (float64, with the float32 difference numpy computes).
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // Last index whose log-sigma ≤ logSigma (0 if none), capped so that index + 1 exists.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low];
  const hi = logSigmas[low + 1];
  const w = Math.min(Math.max((lo - logSigma) / f32(lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/** Split a sigma into the (alpha_t, sigma_t) of the variance-preserving process, float32. */
export function sigmaToAlphaSigma(sigma: number): [alpha: number, sigmaT: number] {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  return [alpha, f32(sigma * alpha)];
}
