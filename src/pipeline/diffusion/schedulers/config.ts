/**
 * Parsing diffusers' `scheduler_config.json` for the five schedulers.
 *
 * Rules (diffusers' own `from_config` behaviour, plus clear errors):
 * - unknown keys (`_class_name`, `_diffusers_version`, keys of other classes such as PNDM's
 *   `skip_prk_steps`) are ignored;
 * - a known key with an invalid value is an error naming the key;
 * - a known diffusers option that this port does not implement (e.g. `rescale_betas_zero_snr:
 *   true`) is an error naming the key when the chosen algorithm's diffusers class would use it,
 *   rather than a silently different schedule.
 */
import { z } from 'zod';
import { SCHEDULER_NAMES, type FullSchedulerConfig, type SchedulerName } from './types';

const int = (min: number) => z.number().int().min(min);
const positive = z.number().positive();
const beta = z.number().gt(0).lt(1);

/** Keys this port implements. All optional; `null` only where diffusers' signature allows None. */
const schema = z.object({
  num_train_timesteps: int(2),
  beta_start: beta,
  beta_end: beta,
  beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']),
  trained_betas: z.array(beta).min(2).nullable(),
  timestep_spacing: z.enum(['linspace', 'leading', 'trailing']),
  steps_offset: int(0),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']),
  use_karras_sigmas: z.boolean().nullable(),
  sigma_min: positive.nullable(),
  sigma_max: positive.nullable(),
  final_sigmas_type: z.enum(['zero', 'sigma_min']),
  set_alpha_to_one: z.boolean(),
  clip_sample: z.boolean(),
  clip_sample_range: positive,
  original_inference_steps: int(1),
  timestep_scaling: positive,
  solver_order: z.number().int().min(1).max(3),
  lower_order_final: z.boolean(),
  euler_at_final: z.boolean(),
  // Known diffusers options the studio does not support: typed here so a malformed value is still
  // reported by name; a non-default value is rejected per algorithm below.
  rescale_betas_zero_snr: z.boolean(),
  thresholding: z.boolean(),
  use_exponential_sigmas: z.boolean().nullable(),
  use_beta_sigmas: z.boolean().nullable(),
  use_lu_lambdas: z.boolean().nullable(),
  use_flow_sigmas: z.boolean().nullable(),
  interpolation_type: z.string(),
  timestep_type: z.string(),
  algorithm_type: z.string(),
  solver_type: z.string(),
  variance_type: z.string().nullable(),
  lambda_min_clipped: z.union([z.number(), z.literal(-Infinity)]).nullable(),
}).partial();

export type ParsedSchedulerConfig = z.infer<typeof schema>;

export function parseSchedulerConfig(raw: unknown): ParsedSchedulerConfig {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('scheduler config must be an object (the contents of scheduler_config.json)');
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid scheduler config: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * Defaults of one algorithm's diffusers class, overridden by the parsed config. Only the keys
 * present in `defaults` are read; `null` in the config means "default" for the nullable keys.
 */
export function resolveConfig<K extends keyof FullSchedulerConfig>(
  defaults: Pick<FullSchedulerConfig, K>,
  parsed: ParsedSchedulerConfig,
): Pick<FullSchedulerConfig, K> {
  const out = { ...defaults };
  for (const key of Object.keys(defaults) as K[]) {
    const value = (parsed as Partial<FullSchedulerConfig>)[key];
    if (value !== undefined && value !== null) out[key] = value as FullSchedulerConfig[K];
    else if (value === null && key === 'use_karras_sigmas') out[key] = false as FullSchedulerConfig[K];
  }
  if ('beta_start' in out && 'beta_end' in out && (out as { beta_start: number }).beta_start >= (out as { beta_end: number }).beta_end) {
    throw new Error('invalid scheduler config: beta_start must be smaller than beta_end');
  }
  return out;
}

/** Unimplemented options: key → values that mean "off" (diffusers default and equivalents). */
const UNSUPPORTED: Record<string, { accepted: readonly unknown[]; classes: readonly SchedulerName[] }> = {
  rescale_betas_zero_snr: { accepted: [false], classes: SCHEDULER_NAMES },
  thresholding: { accepted: [false], classes: ['ddim', 'dpmpp_2m', 'lcm'] },
  use_exponential_sigmas: { accepted: [false, null], classes: ['euler', 'dpmpp_2m'] },
  use_beta_sigmas: { accepted: [false, null], classes: ['euler', 'dpmpp_2m'] },
  use_lu_lambdas: { accepted: [false, null], classes: ['dpmpp_2m'] },
  use_flow_sigmas: { accepted: [false, null], classes: ['dpmpp_2m'] },
  interpolation_type: { accepted: ['linear'], classes: ['euler'] },
  timestep_type: { accepted: ['discrete'], classes: ['euler'] },
  // dpmpp_2m *is* DPM-Solver++ with the midpoint rule; diffusers maps 'deis' and
  // 'logrho'/'bh1'/'bh2' (other solvers' values) onto exactly that.
  algorithm_type: { accepted: ['dpmsolver++', 'deis'], classes: ['dpmpp_2m'] },
  solver_type: { accepted: ['midpoint', 'logrho', 'bh1', 'bh2'], classes: ['dpmpp_2m'] },
  variance_type: { accepted: [null], classes: ['dpmpp_2m'] },
  lambda_min_clipped: { accepted: [null, -Infinity], classes: ['dpmpp_2m'] },
};

export function rejectUnsupported(name: SchedulerName, parsed: ParsedSchedulerConfig): void {
  for (const [key, rule] of Object.entries(UNSUPPORTED)) {
    const value = (parsed as Record<string, unknown>)[key];
    if (value === undefined || !rule.classes.includes(name) || rule.accepted.includes(value)) continue;
    throw new Error(
      `scheduler '${name}': ${key}=${JSON.stringify(value)} is not supported (supported: ${rule.accepted
        .map((v) => JSON.stringify(v))
        .join(' or ')})`,
    );
  }
  if (name === 'euler_a' && parsed.prediction_type === 'sample') {
    // diffusers' EulerAncestralDiscreteScheduler raises for it too.
    throw new Error("scheduler 'euler_a': prediction_type='sample' is not supported (epsilon or v_prediction)");
  }
}
