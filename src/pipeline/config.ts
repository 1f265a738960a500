/**
 * The pipeline config's schemas live in the protocol (one definition for the UI, the worker and
 * the pipeline); re-exported here for the pipeline's own modules.
 */
export {
  formatZodError,
  PipelineConfig as PipelineConfigSchema,
  StageConfig as StageConfigSchema,
  type PipelineConfig,
  type PipelineConfigInput,
  type StageConfig,
} from '../protocol/pipeline-config';
