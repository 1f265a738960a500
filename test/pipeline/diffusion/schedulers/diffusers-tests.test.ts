/**
 * diffusers' own scheduler tests (tests/schedulers/test_scheduler_*.py at the oracle's commit),
 * replayed through our API: same configs, loops and tolerances as the Python tests, plus
 * agreement with the oracle's reference numbers (`ours`). Every entry of the oracle's
 * `validation_against_diffusers_tests` is handled; options this port does not implement must be
 * rejected with an error naming the option. Tests that draw noise use a torch CPU generator
 * emulation (torch-rng.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createScheduler, type NoiseSource, type Scheduler, type SchedulerConfigInput } from '../../../../src/pipeline/diffusion/schedulers';
import type { Tensor } from '../../../../src/pipeline/tensor';
import { absSum, dummyModel, dummyNoise, dummySample, ErrorLog, oracle, relErr, runLoop, scaleBy } from './helpers';
import { TorchCpuGenerator } from './torch-rng';

/** Configs of the diffusers test classes (get_scheduler_config). */
const EULER_TEST = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };
const DDIM_TEST = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', clip_sample: true };
const DPM_TEST = {
  num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', solver_order: 2,
  prediction_type: 'epsilon', thresholding: false, sample_max_value: 1.0, algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint', lower_order_final: false, euler_at_final: false, lambda_min_clipped: -Infinity,
  variance_type: null, final_sigmas_type: 'sigma_min',
};
const LCM_TEST = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', prediction_type: 'epsilon' };

type Run = () => Tensor;

/** The "with_noise" tests: start at t_start with add_noise (no begin index: lookup by timestep). */
function withNoise(s: Scheduler, steps: number, tStart: number, eulerStyle: boolean, noise?: NoiseSource): Tensor {
  s.setTimesteps(steps);
  let x = eulerStyle ? scaleBy(dummySample(), s.initNoiseSigma) : dummySample();
  const timesteps = s.timesteps.slice(tStart * s.order);
  x = s.addNoise(x, dummyNoise(), timesteps[0]);
  for (const t of timesteps) {
    if (eulerStyle) x = s.scaleModelInput(x, t);
    x = s.step(dummyModel(x, t), t, x, noise).prevSample;
  }
  return x;
}

const make = (name: string, base: SchedulerConfigInput, extra: SchedulerConfigInput = {}) =>
  createScheduler(name, { ...base, ...extra });
const euler = (extra?: SchedulerConfigInput) => make('euler', EULER_TEST, extra);
const eulerA = (extra?: SchedulerConfigInput) => make('euler_a', EULER_TEST, extra);
const ddim = (extra?: SchedulerConfigInput) => make('ddim', DDIM_TEST, extra);
const dpm = (extra?: SchedulerConfigInput) => make('dpmpp_2m', DPM_TEST, extra);
const gen = () => new TorchCpuGenerator(0);

/** Loops by test name (the part before " [..." / " (..."). */
const LOOPS: Record<string, Run> = {
  'euler.test_full_loop_no_noise': () => runLoop(euler(), 'euler_test_style', 10).sample,
  'euler.test_full_loop_with_v_prediction': () => runLoop(euler({ prediction_type: 'v_prediction' }), 'euler_test_style', 10).sample,
  'euler.test_full_loop_device_karras_sigmas': () => runLoop(euler({ use_karras_sigmas: true }), 'euler_test_style', 10).sample,
  'euler.test_full_loop_with_noise': () => withNoise(euler(), 10, 8, true),
  'euler_ancestral.test_full_loop_no_noise': () => runLoop(eulerA(), 'euler_test_style', 10, { noise: gen() }).sample,
  'euler_ancestral.test_full_loop_with_v_prediction': () =>
    runLoop(eulerA({ prediction_type: 'v_prediction' }), 'euler_test_style', 10, { noise: gen() }).sample,
  'euler_ancestral.test_full_loop_with_noise': () => withNoise(eulerA(), 10, 8, true, gen()),
  'ddim.test_full_loop_no_noise': () => runLoop(ddim(), 'plain', 10).sample,
  'ddim.test_full_loop_with_v_prediction': () => runLoop(ddim({ prediction_type: 'v_prediction' }), 'plain', 10).sample,
  'ddim.test_full_loop_with_set_alpha_to_one': () => runLoop(ddim({ set_alpha_to_one: true, beta_start: 0.01 }), 'plain', 10).sample,
  'ddim.test_full_loop_with_no_set_alpha_to_one': () => runLoop(ddim({ set_alpha_to_one: false, beta_start: 0.01 }), 'plain', 10).sample,
  'ddim.test_full_loop_with_noise': () => withNoise(ddim(), 10, 8, false),
  'dpm_multi.test_full_loop_no_noise': () => runLoop(dpm(), 'plain', 10).sample,
  'dpm_multi.test_full_loop_with_v_prediction': () => runLoop(dpm({ prediction_type: 'v_prediction' }), 'plain', 10).sample,
  'dpm_multi.test_full_loop_with_karras_and_v_prediction': () =>
    runLoop(dpm({ prediction_type: 'v_prediction', use_karras_sigmas: true }), 'plain', 10).sample,
  'dpm_multi.test_full_loop_with_noise': () => withNoise(dpm(), 10, 5, false),
  'lcm.test_full_loop_onestep': () => runLoop(make('lcm', LCM_TEST), 'plain', 1).sample,
  'lcm.test_full_loop_multistep': () => runLoop(make('lcm', LCM_TEST), 'plain', 10, { noise: gen() }).sample,
};

/** diffusers tests of options this port rejects: the error must name the option. */
const UNSUPPORTED: Record<string, [() => unknown, RegExp]> = {
  'dpm_multi.test_full_loop_with_lu_and_v_prediction': [() => dpm({ prediction_type: 'v_prediction', use_lu_lambdas: true }), /use_lu_lambdas/],
  'dpm_multi.test_full_loop_no_noise_thres': [
    () => dpm({ thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 }), /thresholding/,
  ],
};

/** Single values. */
const VALUES: Record<string, () => number> = {
  'ddim.test_steps_offset timesteps==[801,601,401,201,1]': () => {
    const s = ddim({ steps_offset: 1 });
    s.setTimesteps(5);
    return s.timesteps.join() === '801,601,401,201,1' ? 1 : 0;
  },
  'torch.manual_seed(0); torch.rand(3)[0]': () => gen().rand(3)[0],
  'torch.manual_seed(0); torch.randn(4,4)[0,0]': () => gen().randn([4, 4]).data[0],
  'torch.manual_seed(0); torch.randn(4,4)[3,3]': () => gen().randn([4, 4]).data[15],
};

const log = new ErrorLog();
afterAll(() => console.log(`diffusers tests, relative difference from the reference port:\n${log.summary()}`));

describe("diffusers' own scheduler tests", () => {
  for (const entry of oracle.validation_against_diffusers_tests) {
    it(`${entry.test}: ${entry.quantity}`, () => {
      const base = entry.test.replace(/ [[(].*$/, '');
      if (base in UNSUPPORTED) {
        const [create, message] = UNSUPPORTED[base];
        expect(create).toThrow(message);
        return;
      }
      let ours: number;
      if (entry.test in VALUES) {
        ours = VALUES[entry.test]();
      } else {
        expect(LOOPS[base], `no replay for ${entry.test}`).toBeDefined();
        const sum = absSum(LOOPS[base]());
        ours = entry.quantity === 'sum' ? sum : entry.quantity === 'mean' ? sum / 768 : NaN;
      }
      // The Python test's own assertion …
      expect(Math.abs(ours - entry.expected)).toBeLessThan(entry.tol);
      // … and the reference port's number (sums near 0 collapse: compare those absolutely).
      log.note(`${entry.test} ${entry.quantity}`, relErr(ours, entry.ours));
      const close = relErr(ours, entry.ours) <= 1e-4 || Math.abs(ours - entry.ours) <= 1e-9;
      expect(close, `ours ${ours} vs reference ${entry.ours}`).toBe(true);
    });
  }
});
