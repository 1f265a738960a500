import { z } from 'zod';
import { PipelineContext } from './context';
import { formatZodError, PipelineConfigSchema, type PipelineConfig } from './config';
import { Pipeline } from './pipeline';
import type { StageServices } from './ports';
import type { PipelineStage } from './stage';
import { STAGE_PARAMETERS, stageFactories } from './stages/registry';

export interface WorkbenchResult {
  success: boolean;
  cancelled: boolean;
  data: Record<string, unknown>;
  /** Artifact ids in the order they were saved. */
  artifacts: string[];
  metadata: Record<string, Record<string, unknown>>;
  error: string | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses and checks a config against the protocol's schema: unknown stage types, unknown keys and
 * bad values are named with the stage they belong to.
 */
export function validatePipelineConfig(input: unknown): PipelineConfig {
  const parsed = PipelineConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const stages = (input as { stages?: unknown } | null)?.stages;
  const message = parsed.error.issues
    .map((issue) => {
      const [first, index, ...rest] = issue.path;
      if (first !== 'stages' || typeof index !== 'number') return formatZodError(new z.ZodError([issue]));
      if (rest[0] === 'stage_type') return `stages[${index}]: ${issue.message}`;
      const stage = Array.isArray(stages) ? (stages[index] as { name?: unknown; stage_type?: unknown } | undefined) : undefined;
      const label = String(stage?.name ?? stage?.stage_type ?? index);
      return `stages[${index}] (${label}): ${formatZodError(new z.ZodError([{ ...issue, path: rest }]))}`;
    })
    .join('; ');
  throw new ConfigError(`invalid pipeline config: ${message}`);
}

/**
 * The seed's Workbench: builds the stages of a config and runs them on one job's input.
 * Parameters merge as stage parameters < config.parameters < input_data (the job's own values win).
 */
export class Workbench {
  readonly config: PipelineConfig;
  private stages: PipelineStage[] | null = null;

  /** `config` is checked here (it may come from a file or another tab), so it is taken as anything. */
  constructor(config: unknown) {
    this.config = validatePipelineConfig(config);
  }

  /** Builds the stages with merged parameters; a bad value is an error naming stage and key. */
  setup(inputData: Record<string, unknown> = {}): PipelineStage[] {
    this.stages = this.config.stages.map((stageCfg, i) => {
      const schema: z.ZodObject = STAGE_PARAMETERS[stageCfg.stage_type];
      const name = stageCfg.name ?? stageCfg.stage_type;
      const merged: Record<string, unknown> = { ...stageCfg.parameters };
      for (const source of [this.config.parameters, inputData]) {
        for (const key of Object.keys(schema.shape)) if (source[key] !== undefined) merged[key] = source[key];
      }
      const parsed = schema.safeParse(merged);
      if (!parsed.success) {
        throw new ConfigError(`stages[${i}] (${name}): ${formatZodError(parsed.error)}`);
      }
      // The schema and the factory are looked up by the same stage_type.
      const create = stageFactories[stageCfg.stage_type] as (name: string, parameters: unknown) => PipelineStage;
      return create(name, parsed.data);
    });
    return this.stages;
  }

  async execute(
    inputData: Record<string, unknown>,
    jobId = 'unknown',
    services: StageServices,
  ): Promise<WorkbenchResult> {
    const context = new PipelineContext({ ...this.config.parameters, ...inputData, job_id: jobId });
    let stages: PipelineStage[];
    try {
      stages = this.setup(inputData);
    } catch (err) {
      context.setError(err instanceof Error ? err.message : String(err));
      return teardown(context, false);
    }
    const result = await new Pipeline(stages).execute(context, services);
    return teardown(context, result.cancelled);
  }
}

function teardown(context: PipelineContext, cancelled: boolean): WorkbenchResult {
  return {
    success: context.error === null,
    cancelled,
    data: context.data,
    artifacts: [...context.artifacts],
    metadata: context.metadata,
    error: context.error,
  };
}
