import { z } from 'zod';

/**
 * Pipeline configuration as JSON, snake_case as in the seed:
 * `{"stages": [{"stage_type": "upscaler", "name": "...", "parameters": {"upscale_factor": 4}}], "parameters": {}}`
 */
export const StageConfigSchema = z.object({
  stage_type: z.string().min(1),
  name: z.string().min(1).optional(),
  parameters: z.record(z.string(), z.unknown()).default({}),
});

export const PipelineConfigSchema = z.object({
  stages: z.array(StageConfigSchema).min(1, 'a pipeline needs at least one stage'),
  parameters: z.record(z.string(), z.unknown()).default({}),
});

export type StageConfig = z.infer<typeof StageConfigSchema>;
export type PipelineConfig = z.infer<typeof PipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof PipelineConfigSchema>;

/** A zod issue list as one line a person can read: `stages[0].parameters.upscale_factor: ...`. */
export function formatZodError(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      const where = `${prefix}${path}`.replace(/^\./, '');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
