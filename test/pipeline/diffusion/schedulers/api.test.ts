/**
 * The scheduler API's contract beyond the golden numbers: config parsing and errors, defaults,
 * step-count and strength validation, img2img, v-prediction on hand-computed steps, tensors of
 * any shape, and no mutation of inputs.
 */
import { describe, expect, it } from 'vitest';
import {
  createScheduler, img2imgTimesteps, SCHEDULER_NAMES, type NoiseSource, type Scheduler, type SchedulerName,
} from '../../../../src/pipeline/diffusion/schedulers';
import { createRng } from '../../../../src/pipeline/random';
import type { Tensor } from '../../../../src/pipeline/tensor';
import { detNoise, dummyModel, dummySample, SD_CONFIG } from './helpers';

const fixed = (values: number[], dims: readonly number[] = [values.length]): Tensor => ({
  data: Float32Array.from(values),
  dims: [...dims],
});
const constNoise = (value: number): NoiseSource => ({
  normalTensor: (dims) => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value), dims: [...dims] }),
});

describe('createScheduler', () => {
  it('knows the five names and lists them for an unknown one', () => {
    expect([...SCHEDULER_NAMES]).toEqual(['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'lcm']);
    for (const name of SCHEDULER_NAMES) expect(createScheduler(name).name).toBe(name);
    expect(() => createScheduler('heun')).toThrow(/unknown scheduler 'heun'.*euler, euler_a, ddim, dpmpp_2m, lcm/);
  });

  it("uses each diffusers class's defaults", () => {
    expect(createScheduler('euler').config).toMatchObject({
      beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02, timestep_spacing: 'linspace', steps_offset: 0,
      use_karras_sigmas: false, prediction_type: 'epsilon',
    });
    expect(createScheduler('ddim').config).toMatchObject({
      timestep_spacing: 'leading', clip_sample: true, set_alpha_to_one: true, beta_schedule: 'linear',
    });
    expect(createScheduler('dpmpp_2m').config).toMatchObject({ solver_order: 2, lower_order_final: true, timestep_spacing: 'linspace' });
    expect(createScheduler('lcm').config).toMatchObject({
      beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, original_inference_steps: 50, timestep_scaling: 10,
    });
    // Only the class's own keys are in its resolved config.
    expect(createScheduler('euler', { set_alpha_to_one: false }).config).not.toHaveProperty('set_alpha_to_one');
  });

  it('ignores unknown keys and keys of other classes, as diffusers does (an SD 1.5 PNDM config)', () => {
    const pndm = {
      _class_name: 'PNDMScheduler', _diffusers_version: '0.6.0', beta_end: 0.012, beta_schedule: 'scaled_linear',
      beta_start: 0.00085, num_train_timesteps: 1000, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1,
      trained_betas: null, clip_sample: false,
    };
    for (const name of SCHEDULER_NAMES) expect(() => createScheduler(name, pndm).setTimesteps(20)).not.toThrow();
    // Karras is an Euler / DPM option only: euler_a ignores it (its diffusers class has no such key).
    const a = createScheduler('euler_a', { ...SD_CONFIG, use_karras_sigmas: true });
    const b = createScheduler('euler_a', SD_CONFIG);
    a.setTimesteps(10);
    b.setTimesteps(10);
    expect(a.sigmas).toEqual(b.sigmas);
    // An unimplemented option of another class is ignored too (thresholding is not an Euler key).
    expect(() => createScheduler('euler', { thresholding: true })).not.toThrow();
  });

  it('rejects an invalid value for a known key, naming the key', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ beta_schedule: 'cosine-ish' }, /beta_schedule/],
      [{ num_train_timesteps: -5 }, /num_train_timesteps/],
      [{ num_train_timesteps: 10.5 }, /num_train_timesteps/],
      [{ timestep_spacing: 'weird' }, /timestep_spacing/],
      [{ beta_start: '0.1' }, /beta_start/],
      [{ prediction_type: 'flow' }, /prediction_type/],
      [{ steps_offset: -1 }, /steps_offset/],
      [{ use_karras_sigmas: 'yes' }, /use_karras_sigmas/],
      [{ solver_order: 4 }, /solver_order/],
      [{ original_inference_steps: 0 }, /original_inference_steps/],
      [{ trained_betas: [0.1, 'x'] }, /trained_betas/],
      [{ beta_start: 0.02, beta_end: 0.01 }, /beta_start/],
    ];
    for (const [config, message] of cases) {
      for (const name of SCHEDULER_NAMES) expect(() => createScheduler(name, config), JSON.stringify(config)).toThrow(message);
    }
    expect(() => createScheduler('euler', [] as unknown as Record<string, unknown>)).toThrow(/object/);
  });

  it('rejects unimplemented diffusers options the chosen class would use, naming them', () => {
    expect(() => createScheduler('euler', { rescale_betas_zero_snr: true })).toThrow(/rescale_betas_zero_snr/);
    expect(() => createScheduler('ddim', { thresholding: true })).toThrow(/thresholding/);
    expect(() => createScheduler('euler', { interpolation_type: 'log_linear' })).toThrow(/interpolation_type/);
    expect(() => createScheduler('dpmpp_2m', { algorithm_type: 'sde-dpmsolver++' })).toThrow(/algorithm_type/);
    expect(() => createScheduler('euler_a', { prediction_type: 'sample' })).toThrow(/prediction_type/);
    expect(() => createScheduler('dpmpp_2m', { algorithm_type: 'dpmsolver++', solver_type: 'midpoint' })).not.toThrow();
  });

  it('supports the cosine schedule and explicit trained_betas', () => {
    const cos = createScheduler('ddim', { beta_schedule: 'squaredcos_cap_v2' });
    expect(cos.alphasCumprod[999]).toBeGreaterThan(0);
    expect(cos.alphasCumprod[999]).toBeLessThan(cos.alphasCumprod[0]);
    const betas = Array.from({ length: 10 }, (_, i) => 0.01 + i * 0.01);
    const s = createScheduler('ddim', { num_train_timesteps: 10, trained_betas: betas });
    expect(s.alphasCumprod[0]).toBe(Math.fround(0.99));
    expect(() => createScheduler('ddim', { num_train_timesteps: 20, trained_betas: betas })).toThrow(/trained_betas/);
  });
});

describe('setTimesteps / setBeginIndex', () => {
  it('rejects a bad step count, naming steps', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, SD_CONFIG);
      for (const bad of [0, -1, 2.5, NaN]) expect(() => s.setTimesteps(bad), `${name} ${bad}`).toThrow(/steps/);
      expect(() => s.setTimesteps(1001)).toThrow(/steps/);
    }
    expect(() => createScheduler('lcm').setTimesteps(51)).toThrow(/steps/); // > original_inference_steps
  });

  it('needs setTimesteps before stepping; frozen timesteps', () => {
    const s = createScheduler('euler', SD_CONFIG);
    expect(s.timesteps).toEqual([]);
    expect(() => s.step(dummySample(), 999, dummySample())).toThrow(/setTimesteps/);
    s.setTimesteps(4);
    expect(() => (s.timesteps as number[]).push(1)).toThrow();
    expect(() => s.setBeginIndex(4)).toThrow(/setBeginIndex/);
    expect(() => s.setBeginIndex(-1)).toThrow(/setBeginIndex/);
  });

  it('refuses a timestep that is not in the schedule and a step past the end', () => {
    const s = createScheduler('euler', SD_CONFIG);
    s.setTimesteps(2);
    expect(() => s.step(dummySample(), 123.25, dummySample())).toThrow(/not in the schedule/);
    let x = dummySample();
    for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
    expect(() => s.step(x, s.timesteps[1], x)).toThrow(/steps have run/);
  });

  it("trailing spacing gives exactly n timesteps even where numpy's float arange adds a −1", () => {
    for (const name of ['euler', 'ddim', 'dpmpp_2m'] as const) {
      const s = createScheduler(name, { ...SD_CONFIG, timestep_spacing: 'trailing' });
      s.setTimesteps(61);
      expect(s.timesteps.length).toBe(61);
      expect(Math.min(...s.timesteps)).toBeGreaterThanOrEqual(0);
    }
  });

  it('Karras sigmas apply to euler and dpmpp_2m', () => {
    for (const name of ['euler', 'dpmpp_2m'] as const) {
      const plain = createScheduler(name, SD_CONFIG);
      const karras = createScheduler(name, { ...SD_CONFIG, use_karras_sigmas: true });
      plain.setTimesteps(10);
      karras.setTimesteps(10);
      expect(karras.sigmas![0]).toBe(plain.sigmas![0]);
      expect(karras.sigmas![5]).toBeLessThan(plain.sigmas![5]); // Karras spends more steps at low noise
    }
  });
});

describe('img2imgTimesteps', () => {
  it('keeps the last ⌊n·strength⌋ timesteps and sets the begin index', () => {
    const s = createScheduler('euler', SD_CONFIG);
    const ts = img2imgTimesteps(s, 20, 0.5);
    expect(ts).toEqual(s.timesteps.slice(10));
    expect(s.beginIndex).toBe(10);
    expect(img2imgTimesteps(s, 4, 1)).toEqual(s.timesteps);
    expect(s.beginIndex).toBe(0);
  });

  it('rejects strength outside [0, 1] and a strength that runs no step', () => {
    const s = createScheduler('ddim', SD_CONFIG);
    for (const bad of [-0.1, 1.5, NaN]) expect(() => img2imgTimesteps(s, 20, bad)).toThrow(/strength/);
    expect(() => img2imgTimesteps(s, 4, 0.2)).toThrow(/no denoising step/);
    expect(() => img2imgTimesteps(s, 0, 0.5)).toThrow(/steps/);
  });

  it('makes add_noise use the sigma at the begin index', () => {
    const s = createScheduler('euler', SD_CONFIG);
    const ts = img2imgTimesteps(s, 10, 0.3);
    const noisy = s.addNoise(fixed([0]), fixed([1]), ts[0]);
    expect(noisy.data[0]).toBe(Math.fround(s.sigmas![s.beginIndex!]));
  });
});

/**
 * One hand-computed step per scheduler: a clean value x0 and noise ε define the noisy sample at
 * the first timestep; the model output is ε (epsilon) or v = α·ε − σ·x0 (v-prediction). Both
 * parameterisations must recover x0 and land on the same, hand-computed next sample; reading a
 * v output as ε must not.
 */
describe('v_prediction, on a hand-computed single step', () => {
  const x0 = 0.3;
  const eps = 0.8;
  const z = -0.5; // the ancestral / LCM noise
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(2e-5 * Math.max(1, Math.abs(b)));

  function firstStep(name: SchedulerName, prediction: string, output: (alpha: number, sigma: number) => number) {
    const s = createScheduler(name, { ...SD_CONFIG, prediction_type: prediction, clip_sample: false });
    s.setTimesteps(4);
    const t = s.timesteps[0];
    // VP coefficients at t (α = sqrt(ᾱ), σ = sqrt(1 − ᾱ)); Euler-family samples live in sigma space.
    const a = s.alphasCumprod[Math.round(t)];
    const [alpha, sigma] = [Math.sqrt(a), Math.sqrt(1 - a)];
    const sigmaSpace = s.sigmas !== undefined && name !== 'dpmpp_2m';
    const xT = sigmaSpace ? x0 + s.sigmas![0] * eps : alpha * x0 + sigma * eps;
    const out = s.step(fixed([output(alpha, sigma)]), t, fixed([xT]), constNoise(z));
    return { s, t, out: { prev: out.prevSample.data[0], x0: out.predOriginalSample.data[0] } };
  }

  const cases: Array<[SchedulerName, (s: Scheduler, t: number) => number]> = [
    // Euler: x0 + σ_next·ε
    ['euler', (s) => x0 + s.sigmas![1] * eps],
    // Euler ancestral: x0 + σ_down·ε + σ_up·z
    ['euler_a', (s) => {
      const [from, to] = [s.sigmas![0], s.sigmas![1]];
      const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
      return x0 + Math.sqrt(to * to - up * up) * eps + up * z;
    }],
    // DDIM (eta 0): sqrt(ᾱ_prev)·x0 + sqrt(1 − ᾱ_prev)·ε, prev = t − 1000/4
    ['ddim', (s, t) => {
      const ap = s.alphasCumprod[t - 250];
      return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps;
    }],
    // DPM-Solver++ first order is exact for a constant x0: α_next·x0 + σ_next·ε in VP terms
    ['dpmpp_2m', (s) => {
      const sn = s.sigmas![1];
      const an = 1 / Math.sqrt(sn * sn + 1);
      return an * x0 + sn * an * eps;
    }],
    // LCM: re-noise the boundary-scaled estimate c_out·x0 + c_skip·x_t to the next timestep with z
    ['lcm', (s, t) => {
      const a = s.alphasCumprod[t];
      const xT = Math.sqrt(a) * x0 + Math.sqrt(1 - a) * eps;
      const scaled = t * 10;
      const cSkip = 0.25 / (scaled * scaled + 0.25);
      const cOut = scaled / Math.sqrt(scaled * scaled + 0.25);
      const ap = s.alphasCumprod[s.timesteps[1]];
      return Math.sqrt(ap) * (cOut * x0 + cSkip * xT) + Math.sqrt(1 - ap) * z;
    }],
  ];

  for (const [name, expected] of cases) {
    it(name, () => {
      const epsRun = firstStep(name, 'epsilon', () => eps);
      const vRun = firstStep(name, 'v_prediction', (alpha, sigma) => alpha * eps - sigma * x0);
      const want = expected(epsRun.s, epsRun.t);
      if (name !== 'lcm') close(epsRun.out.x0, x0);
      close(epsRun.out.prev, want);
      if (name !== 'lcm') close(vRun.out.x0, x0);
      close(vRun.out.prev, want);
      // The same number read as a velocity instead of noise gives a different estimate.
      const misread = firstStep(name, 'v_prediction', () => eps);
      expect(Math.abs(misread.out.prev - want)).toBeGreaterThan(1e-3);
    });
  }
});

describe('tensors', () => {
  const run = (name: SchedulerName, sample: Tensor, noise?: NoiseSource) => {
    const s = createScheduler(name, SD_CONFIG);
    s.setTimesteps(3);
    const t = s.timesteps[0];
    const input = s.scaleModelInput(sample, t);
    return { s, t, input, out: s.step(dummyModel(input, t), t, sample, noise) };
  };

  it('treat data as flat: any shape, same numbers, dims kept', () => {
    for (const name of SCHEDULER_NAMES) {
      const a = run(name, dummySample(), constNoise(0.25));
      const flat = run(name, { data: dummySample().data, dims: [768] }, constNoise(0.25));
      const odd = run(name, { data: dummySample().data, dims: [2, 384] }, constNoise(0.25));
      expect(flat.out.prevSample.data).toEqual(a.out.prevSample.data);
      expect(odd.out.prevSample.data).toEqual(a.out.prevSample.data);
      expect(odd.out.prevSample.dims).toEqual([2, 384]);
      expect(odd.out.predOriginalSample.dims).toEqual([2, 384]);
      expect(a.out.prevSample.data).toBeInstanceOf(Float32Array);
    }
  });

  it('never modify their inputs', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, SD_CONFIG);
      s.setTimesteps(3);
      const sample = dummySample();
      const model = dummyModel(sample, s.timesteps[0]);
      const noise = detNoise(-1);
      const before = [sample, model, noise].map((x) => ({ data: x.data.slice(), dims: [...x.dims] }));
      const scaled = s.scaleModelInput(sample, s.timesteps[0]);
      expect(scaled.data).not.toBe(sample.data);
      s.addNoise(sample, noise, s.timesteps[0]);
      const step = s.step(model, s.timesteps[0], sample, { normalTensor: () => noise });
      expect(step.prevSample.data).not.toBe(sample.data);
      expect([sample, model, noise]).toEqual(before);
    }
  });

  it('reject mismatched sizes', () => {
    const s = createScheduler('euler', SD_CONFIG);
    s.setTimesteps(3);
    const t = s.timesteps[0];
    expect(() => s.step(fixed([1, 2]), t, fixed([1, 2, 3]))).toThrow(/model output/);
    expect(() => s.addNoise(fixed([1, 2]), fixed([1]), t)).toThrow(/noise/);
  });

  it('ancestral and LCM steps take noise from the source passed in', () => {
    for (const name of ['euler_a', 'lcm'] as const) {
      const s = createScheduler(name, SD_CONFIG);
      s.setTimesteps(2);
      const t = s.timesteps[0];
      const x = dummySample();
      expect(() => s.step(dummyModel(x, t), t, x)).toThrow(/noise source/);
      const a = s.step(dummyModel(x, t), t, x, createRng(5)).prevSample;
      s.setTimesteps(2);
      const b = s.step(dummyModel(x, t), t, x, createRng(5)).prevSample;
      s.setTimesteps(2);
      const c = s.step(dummyModel(x, t), t, x, createRng(6)).prevSample;
      expect(a.data).toEqual(b.data);
      expect(a.data).not.toEqual(c.data);
    }
    // LCM's last step returns the estimate and draws nothing.
    const lcm = createScheduler('lcm', SD_CONFIG);
    lcm.setTimesteps(1);
    const x = dummySample();
    const t = lcm.timesteps[0];
    const out = lcm.step(dummyModel(x, t), t, x, { normalTensor: () => { throw new Error('drew noise'); } });
    expect(out.prevSample.data).toEqual(out.predOriginalSample.data);
  });
});

describe('dpmpp_2m near steps = num_train_timesteps', () => {
  /** Runs every step with a smooth stand-in model; returns the final sample. */
  const runAll = (s: Scheduler): Tensor => {
    let x = fixed([0.5, -0.25, 1, 0.75], [1, 1, 2, 2]);
    for (const t of s.timesteps) x = s.step(fixed(Array.from(x.data, (v) => 0.1 * v), x.dims), t, x).prevSample;
    return x;
  };

  it('linspace at 1000 steps repeats timestep 500 once: kept once, and every step stays finite', () => {
    const s = createScheduler('dpmpp_2m', { ...SD_CONFIG, timestep_spacing: 'linspace' });
    s.setTimesteps(1000);
    expect(new Set(s.timesteps).size).toBe(s.timesteps.length);
    expect(s.timesteps.length).toBe(999);
    expect(s.timesteps.filter((t) => t === 500)).toHaveLength(1);
    expect([...runAll(s).data].every(Number.isFinite)).toBe(true);
  });

  it('karras at 1000 steps: sigmas strictly decrease (rounded timesteps may repeat), finite', () => {
    const s = createScheduler('dpmpp_2m', { ...SD_CONFIG, use_karras_sigmas: true });
    s.setTimesteps(1000);
    const sigmas = (s as unknown as { sigmas: number[] }).sigmas;
    expect(sigmas).toHaveLength(1001);
    for (let i = 1; i < sigmas.length; i++) expect(sigmas[i]).toBeLessThan(sigmas[i - 1]);
    expect([...runAll(s).data].every(Number.isFinite)).toBe(true);
  });

  it("'leading' at 1000 steps would space by 0: a clear error; 999 works", () => {
    const s = createScheduler('dpmpp_2m', { ...SD_CONFIG, timestep_spacing: 'leading', steps_offset: 1 });
    expect(() => s.setTimesteps(1000)).toThrow(/dpmpp_2m: steps must be an integer between 1 and 999, got 1000/);
    s.setTimesteps(999);
    // 1000 (past the training range) and 999 share a sigma: one of them is kept.
    expect(s.timesteps.slice(0, 2)).toEqual([1000, 998]);
    expect(s.timesteps).toHaveLength(998);
    expect([...runAll(s).data].every(Number.isFinite)).toBe(true);
  });
});
