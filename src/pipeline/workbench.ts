import { PipelineContext } from './context';
import { formatZodError, PipelineConfigSchema, type PipelineConfig, type PipelineConfigInput } from './config';
import { Pipeline } from './pipeline';
import type { StageServices } from './ports';
import type { PipelineStage } from './stage';
import { knownStageTypes, stageDefinitions, type StageDefinition } from './stages/registry';

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

/** Parses and checks a config: unknown stage types and bad stage parameters are named. */
export function validatePipelineConfig(input: unknown): PipelineConfig {
  const parsed = PipelineConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`invalid pipeline config: ${formatZodError(parsed.error)}`);
  const config = parsed.data;
  config.stages.forEach((stage, i) => {
    const def = stageDefinitions.get(stage.stage_type);
    if (!def) {
      throw new ConfigError(
        `stages[${i}]: unknown stage_type '${stage.stage_type}' (known: ${knownStageTypes().join(', ')})`,
      );
    }
    const strict = def.parameters.partial().strict().safeParse(stage.parameters);
    if (!strict.success) {
      throw new ConfigError(
        `stages[${i}] (${stage.name ?? stage.stage_type}): ${formatZodError(strict.error, 'parameters')}`,
      );
    }
  });
  return config;
}

/**
 * The seed's Workbench: builds the stages of a config and runs them on one job's input.
 * Parameters merge as stage parameters < config.parameters < input_data (the job's own values win).
 */
export class Workbench {
  readonly config: PipelineConfig;
  private stages: PipelineStage[] | null = null;

  constructor(config: PipelineConfigInput | PipelineConfig) {
    this.config = validatePipelineConfig(config);
  }

  /** Builds the stages with merged parameters; a bad value is an error naming stage and key. */
  setup(inputData: Record<string, unknown> = {}): PipelineStage[] {
    this.stages = this.config.stages.map((stageCfg, i) => {
      const def = stageDefinitions.get(stageCfg.stage_type) as StageDefinition;
      const name = stageCfg.name ?? stageCfg.stage_type;
      const keys = Object.keys(def.parameters.shape);
      const merged: Record<string, unknown> = { ...stageCfg.parameters };
      for (const source of [this.config.parameters, inputData]) {
        for (const key of keys) if (source[key] !== undefined) merged[key] = source[key];
      }
      const parsed = def.parameters.safeParse(merged);
      if (!parsed.success) {
        throw new ConfigError(`stages[${i}] (${name}): ${formatZodError(parsed.error)}`);
      }
      return def.create(name, parsed.data);
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
