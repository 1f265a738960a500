/**
 * Every table of the diffusers oracle (test/fixtures/oracles/schedulers.json), entry by entry:
 * alphas_cumprod, train sigmas, timesteps/sigmas per spacing and step count, ancestral σ↑/σ↓,
 * DDIM and LCM per-step quantities, DPM++ solver orders, img2img start points.
 * Tolerance 1e-5 relative (oracles README); timesteps that diffusers stores as integers must match exactly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  ancestralSigmas, createScheduler, DdimScheduler, DpmSolverMultistepScheduler, img2imgTimesteps,
  lcmBoundaryScalings, LcmScheduler, type SchedulerConfigInput,
} from '../../../../src/pipeline/diffusion/schedulers';
import { dummyModel, dummySample, ErrorLog, oracle, relErr, SD_CONFIG, worstRel } from './helpers';

const TOL = 1e-5;
const log = new ErrorLog();
afterAll(() => console.log(`scheduler tables, worst relative error:\n${log.summary()}`));

/** Relative comparison of two lists; nulls must line up. */
function expectClose(what: string, actual: ReadonlyArray<number | null>, expected: ReadonlyArray<number | null>) {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expect(actual.map((v) => v === null), `${what}: nulls`).toEqual(expected.map((v) => v === null));
  const a = actual.filter((v): v is number => v !== null);
  const e = expected.filter((v): v is number => v !== null);
  expect(log.note(what.split(' ')[0], worstRel(a, e)), what).toBeLessThanOrEqual(TOL);
}

const euler = (extra: SchedulerConfigInput = {}) => createScheduler('euler', { ...SD_CONFIG, ...extra });
const EULER_VARIANTS: Record<string, SchedulerConfigInput> = {
  linspace: { timestep_spacing: 'linspace' },
  leading: { timestep_spacing: 'leading' },
  trailing: { timestep_spacing: 'trailing' },
  karras: { timestep_spacing: 'linspace', use_karras_sigmas: true },
};

describe('training tables', () => {
  it('alphas_cumprod (every scheduler builds the same table)', () => {
    for (const name of ['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'lcm']) {
      const s = createScheduler(name, SD_CONFIG);
      expectClose(`alphas_cumprod ${name}`, [...s.alphasCumprod], oracle.alphas_cumprod);
    }
  });

  it('train_sigmas: Euler with all 1000 integer timesteps samples them exactly', () => {
    const s = euler({ timestep_spacing: 'linspace' });
    s.setTimesteps(1000);
    expectClose('train_sigmas', s.sigmas!.slice(0, 1000).reverse(), oracle.train_sigmas);
  });
});

describe('euler: timesteps, sigmas, init_noise_sigma', () => {
  for (const [variant, byN] of Object.entries<Record<string, any>>(oracle.euler)) {
    it(variant, () => {
      expect(EULER_VARIANTS[variant], `unknown euler variant ${variant}`).toBeDefined();
      for (const [n, entry] of Object.entries<any>(byN)) {
        const s = euler(EULER_VARIANTS[variant]);
        s.setTimesteps(Number(n));
        expectClose(`euler.timesteps ${variant} ${n}`, s.timesteps, entry.timesteps);
        expectClose(`euler.sigmas ${variant} ${n}`, s.sigmas!, entry.sigmas);
        expect(log.note('euler.init_noise_sigma', relErr(s.initNoiseSigma, entry.init_noise_sigma))).toBeLessThanOrEqual(TOL);
      }
    });
  }
});

describe('euler_ancestral: schedule and σ↑/σ↓ per step', () => {
  for (const [key, entry] of Object.entries<any>(oracle.euler_ancestral)) {
    it(key, () => {
      const [, spacing, n] = /^(linspace|leading|trailing)_(\d+)$/.exec(key) ?? [];
      expect(spacing, `unparsed key ${key}`).toBeDefined();
      const s = createScheduler('euler_a', { ...SD_CONFIG, timestep_spacing: spacing });
      s.setTimesteps(Number(n));
      expectClose(`euler_a.timesteps ${key}`, s.timesteps, entry.timesteps);
      expectClose(`euler_a.sigmas ${key}`, s.sigmas!, entry.sigmas);
      expect(log.note('euler_a.init_noise_sigma', relErr(s.initNoiseSigma, entry.init_noise_sigma))).toBeLessThanOrEqual(TOL);
      expect(entry.steps.length).toBe(Number(n));
      for (const st of entry.steps) {
        expect([s.timesteps[st.i], s.sigmas![st.i], s.sigmas![st.i + 1]]).toEqual([st.timestep, st.sigma, st.sigma_next]);
        const { sigmaUp, sigmaDown } = ancestralSigmas(st.sigma, st.sigma_next);
        expectClose(`euler_a.sigma_up ${key}`, [sigmaUp], [st.sigma_up]);
        expectClose(`euler_a.sigma_down ${key}`, [sigmaDown], [st.sigma_down]);
      }
    });
  }
});

describe('ddim (leading): timesteps, previous timesteps, alphas', () => {
  for (const [n, entry] of Object.entries<any>(oracle.ddim_leading)) {
    it(`${n} steps`, () => {
      for (const setAlphaToOne of [false, true]) {
        const s = createScheduler('ddim', { ...SD_CONFIG, clip_sample: false, set_alpha_to_one: setAlphaToOne }) as DdimScheduler;
        s.setTimesteps(Number(n));
        expect(s.timesteps).toEqual(entry.timesteps);
        expect(s.timesteps.map((t) => s.previousTimestep(t))).toEqual(entry.prev_timesteps);
        expectClose(`ddim.alphas_cumprod_t ${n}`, s.timesteps.map((t) => s.alphasCumprod[t]), entry.alphas_cumprod_t);
        expectClose(
          `ddim.alphas_cumprod_prev ${n} ${setAlphaToOne}`,
          s.timesteps.map((t) => s.alphaCumprodPrev(t)),
          entry[`alphas_cumprod_prev_set_alpha_to_one_${setAlphaToOne}`],
        );
      }
    });
  }
});

describe('dpmpp_2m: timesteps, sigmas, solver order per step', () => {
  for (const [variant, byN] of Object.entries<Record<string, any>>(oracle.dpmpp_2m)) {
    it(variant, () => {
      expect(['default', 'karras']).toContain(variant);
      for (const [n, entry] of Object.entries<any>(byN)) {
        const s = createScheduler('dpmpp_2m', { ...SD_CONFIG, use_karras_sigmas: variant === 'karras' }) as DpmSolverMultistepScheduler;
        s.setTimesteps(Number(n));
        expect(s.timesteps, `${variant} ${n} timesteps`).toEqual(entry.timesteps);
        expectClose(`dpmpp_2m.sigmas ${variant} ${n}`, s.sigmas, entry.sigmas);
        // The order diffusers picks at each step, observed by running the loop.
        const orders: number[] = [];
        let x = dummySample();
        for (const t of s.timesteps) {
          x = s.step(dummyModel(x, t), t, x).prevSample;
          orders.push(s.lastStepOrder);
        }
        expect(orders, `${variant} ${n} orders`).toEqual(entry.solver_order_per_step);
      }
    });
  }
});

describe('lcm: timesteps, alphas, boundary scalings', () => {
  for (const [n, entry] of Object.entries<any>(oracle.lcm)) {
    it(`${n} steps`, () => {
      const s = createScheduler('lcm', SD_CONFIG) as LcmScheduler;
      s.setTimesteps(Number(n));
      expect(s.timesteps).toEqual(entry.timesteps);
      expectClose(`lcm.alphas_cumprod_t ${n}`, s.timesteps.map((t) => s.alphasCumprod[t]), entry.alphas_cumprod_t);
      const prev = s.timesteps.map((_, i) => s.previousTimestep(i));
      expect(prev).toEqual(entry.prev_timestep);
      expectClose(`lcm.alphas_cumprod_prev ${n}`, prev.map((t) => (t === null ? null : s.alphasCumprod[t])), entry.alphas_cumprod_prev);
      const scalings = s.timesteps.map((t) => lcmBoundaryScalings(t, 10));
      expectClose(`lcm.c_skip ${n}`, scalings.map((c) => c.cSkip), entry.c_skip);
      expectClose(`lcm.c_out ${n}`, scalings.map((c) => c.cOut), entry.c_out);
    });
  }
});

describe('img2img start points (get_timesteps)', () => {
  const configs: Record<string, [string, SchedulerConfigInput]> = {
    euler_linspace: ['euler', { timestep_spacing: 'linspace' }],
    euler_leading: ['euler', { timestep_spacing: 'leading' }],
    euler_karras: ['euler', { timestep_spacing: 'linspace', use_karras_sigmas: true }],
    ddim_leading: ['ddim', { clip_sample: false, set_alpha_to_one: false }],
    dpmpp_2m: ['dpmpp_2m', {}],
  };
  for (const entry of oracle.img2img) {
    it(`${entry.n} steps, strength ${entry.strength}`, () => {
      const keys = Object.keys(entry).filter((k) => !['n', 'strength', 'init_timestep', 't_start', 'steps_run'].includes(k));
      expect(keys.sort()).toEqual(Object.keys(configs).sort());
      for (const key of keys) {
        const [name, extra] = configs[key];
        const s = createScheduler(name, { ...SD_CONFIG, ...extra });
        const want = entry[key];
        if (entry.steps_run === 0) {
          expect(want.first_timestep).toBeNull();
          expect(() => img2imgTimesteps(s, entry.n, entry.strength)).toThrow(/strength/);
          continue;
        }
        const ts = img2imgTimesteps(s, entry.n, entry.strength);
        expect(ts.length, key).toBe(entry.steps_run);
        expect(ts.length).toBe(entry.init_timestep);
        expectClose(`img2img.first_timestep ${key}`, [ts[0]], [want.first_timestep]);
        expect(s.beginIndex).toBe(entry.t_start);
        if (name === 'ddim') {
          const a = s.alphasCumprod[ts[0]];
          expectClose(`img2img.alphas_cumprod ${key}`, [a], [want.alphas_cumprod]);
          expectClose(`img2img.sigma ${key}`, [Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a)))], [want.sigma]);
        } else {
          expectClose(`img2img.sigma ${key}`, [s.sigmas![entry.t_start]], [want.sigma]);
        }
      }
    });
  }
});
