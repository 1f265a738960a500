/**
 * The oracle's full deterministic loops (dummy sample, dummy model, deterministic noise), every
 * entry of `dummy_loops`: abs_sum and per-step abs sums within 1e-4 relative, first8 and the
 * probe values within 1e-4 absolute (oracles README).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createScheduler, type SchedulerConfigInput } from '../../../../src/pipeline/diffusion/schedulers';
import { detNoiseSource, ErrorLog, oracle, relErr, runLoop, SD_CONFIG, worstAbs, worstRel } from './helpers';

const log = new ErrorLog();
afterAll(() => console.log(`scheduler loops, worst errors:\n${log.summary()}`));

/** Scheduler and config for a loop, from its key (an unknown key fails rather than being skipped). */
function setupFor(key: string): { name: string; config: SchedulerConfigInput } {
  let m = /^(?:img2img_)?(euler_ancestral|euler)_(linspace|leading|trailing)_\d+_/.exec(key);
  if (m) {
    const prediction = /_v_prediction_/.test(key) ? 'v_prediction' : 'epsilon';
    return { name: m[1] === 'euler' ? 'euler' : 'euler_a', config: { timestep_spacing: m[2], prediction_type: prediction } };
  }
  m = /^ddim_leading_\d+_set_alpha_to_one_(true|false)$/.exec(key);
  if (m) return { name: 'ddim', config: { clip_sample: false, set_alpha_to_one: m[1] === 'true' } };
  if (/^dpmpp_2m_\d+$/.test(key)) return { name: 'dpmpp_2m', config: {} };
  if (/^lcm_\d+(_detnoise)?$/.test(key)) return { name: 'lcm', config: {} };
  throw new Error(`no setup known for oracle loop ${key}`);
}

describe('deterministic loops against diffusers', () => {
  for (const [key, entry] of Object.entries<any>(oracle.dummy_loops)) {
    it(key, () => {
      const { name, config } = setupFor(key);
      const scheduler = createScheduler(name, { ...SD_CONFIG, ...config });
      const { sample, perStepAbsSum } = runLoop(scheduler, entry.loop, entry.num_inference_steps, {
        noise: entry.deterministic_noise ? detNoiseSource() : undefined,
        img2imgStrength: entry.img2img_strength,
      });
      const absSum = perStepAbsSum[perStepAbsSum.length - 1];
      expect(log.note(`${key} abs_sum (rel)`, relErr(absSum, entry.abs_sum))).toBeLessThanOrEqual(1e-4);
      expect(relErr(absSum / sample.data.length, entry.abs_mean)).toBeLessThanOrEqual(1e-4);
      expect(log.note(`${key} per_step_abs_sum (rel)`, worstRel(perStepAbsSum, entry.per_step_abs_sum))).toBeLessThanOrEqual(1e-4);
      expect(log.note(`${key} first8 (abs)`, worstAbs([...sample.data.slice(0, 8)], entry.first8))).toBeLessThanOrEqual(1e-4);
      const probes = entry.probe_indices.map((i: number) => sample.data[i]);
      expect(log.note(`${key} probes (abs)`, worstAbs(probes, entry.probe_values))).toBeLessThanOrEqual(1e-4);
    });
  }
});
