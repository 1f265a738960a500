/**
 * Schedulers: `createScheduler(name, scheduler_config.json contents)` and the img2img start rule.
 * One file per algorithm; diffusers' class for each:
 *   euler → EulerDiscreteScheduler, euler_a → EulerAncestralDiscreteScheduler,
 *   ddim → DDIMScheduler, dpmpp_2m → DPMSolverMultistepScheduler (dpmsolver++, midpoint),
 *   lcm → LCMScheduler.
 */
import { parseSchedulerConfig, rejectUnsupported, resolveConfig } from './config';
import { DDIM_DEFAULTS, DdimScheduler } from './ddim';
import { DPM_DEFAULTS, DpmSolverMultistepScheduler } from './dpmpp-2m';
import { EULER_DEFAULTS, EulerScheduler } from './euler';
import { EULER_ANCESTRAL_DEFAULTS, EulerAncestralScheduler } from './euler-ancestral';
import { LCM_DEFAULTS, LcmScheduler } from './lcm';
import { SCHEDULER_NAMES, type Scheduler, type SchedulerConfigInput, type SchedulerName } from './types';

export * from './types';
export { DdimScheduler, DpmSolverMultistepScheduler, EulerAncestralScheduler, EulerScheduler, LcmScheduler };
export { ancestralSigmas } from './euler-ancestral';
export { lcmBoundaryScalings } from './lcm';

export function isSchedulerName(name: string): name is SchedulerName {
  return (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/**
 * A scheduler by name, configured from a diffusers `scheduler_config.json` object (optional;
 * missing keys take that algorithm's diffusers defaults). Call setTimesteps(steps) before use.
 */
export function createScheduler(name: SchedulerName, config?: SchedulerConfigInput): Scheduler;
export function createScheduler(name: string, config?: SchedulerConfigInput): Scheduler;
export function createScheduler(name: string, config?: SchedulerConfigInput): Scheduler {
  if (!isSchedulerName(name)) {
    throw new Error(`unknown scheduler '${name}'; known: ${SCHEDULER_NAMES.join(', ')}`);
  }
  const parsed = parseSchedulerConfig(config);
  rejectUnsupported(name, parsed);
  switch (name) {
    case 'euler':
      return new EulerScheduler(resolveConfig(EULER_DEFAULTS, parsed));
    case 'euler_a':
      return new EulerAncestralScheduler(resolveConfig(EULER_ANCESTRAL_DEFAULTS, parsed));
    case 'ddim':
      return new DdimScheduler(resolveConfig(DDIM_DEFAULTS, parsed));
    case 'dpmpp_2m':
      return new DpmSolverMultistepScheduler(resolveConfig(DPM_DEFAULTS, parsed));
    case 'lcm':
      return new LcmScheduler(resolveConfig(LCM_DEFAULTS, parsed));
  }
}

/**
 * img2img: diffusers' `get_timesteps`. Sets the scheduler to `steps` steps, keeps the last
 * ⌊steps·strength⌋ of them, and sets the begin index so the scheduler starts there. The caller
 * then noises the init latents to `timesteps[0]` with addNoise and runs the returned timesteps.
 */
export function img2imgTimesteps(scheduler: Scheduler, steps: number, strength: number): number[] {
  if (typeof strength !== 'number' || !(strength >= 0 && strength <= 1)) {
    throw new Error(`strength must be between 0 and 1, got ${String(strength)}`);
  }
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  // Python's int(n * strength): the same double product, truncated.
  const initTimestep = Math.min(Math.trunc(steps * strength), steps);
  if (initTimestep < 1) {
    throw new Error(
      `strength ${strength} with ${steps} steps runs no denoising step (steps × strength must be at least 1)`,
    );
  }
  scheduler.setTimesteps(steps);
  const start = Math.max(steps - initTimestep, 0) * scheduler.order;
  const timesteps = scheduler.timesteps.slice(start);
  scheduler.setBeginIndex(start);
  return timesteps;
}
