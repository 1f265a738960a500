import { STAGE_PARAMETERS, type StageParameters, type StageType } from '../../protocol/pipeline-config';
import type { PipelineStage } from '../stage';
import { DetailerStage } from './detailer';
import { RefinerStage } from './refiner';
import { TextToImageStage } from './text-to-image';
import { UpscalerStage } from './upscaler';

/**
 * How each `stage_type` is built. Its parameters (names, limits, defaults) are the protocol's
 * STAGE_PARAMETERS; a stage adds only `create` (and its `execute`).
 */
export const stageFactories: { [T in StageType]: (name: string, parameters: StageParameters<T>) => PipelineStage } = {
  text_to_image: (name, parameters) => new TextToImageStage(name, parameters),
  refiner: (name, parameters) => new RefinerStage(name, parameters),
  detailer: (name, parameters) => new DetailerStage(name, parameters),
  upscaler: (name, parameters) => new UpscalerStage(name, parameters),
};

export { STAGE_PARAMETERS };
