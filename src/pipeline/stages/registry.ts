import type { z } from 'zod';
import type { PipelineStage } from '../stage';
import { refinerStage } from './refiner';
import { textToImageStage } from './text-to-image';
import { upscalerStage } from './upscaler';

/** How a `stage_type` is validated and built. */
export interface StageDefinition {
  stageType: string;
  /** Every parameter the stage reads, with its defaults. Unknown stage-level keys are refused. */
  parameters: z.ZodObject<z.ZodRawShape>;
  create(name: string, parameters: Record<string, unknown>): PipelineStage;
}

export const stageDefinitions: ReadonlyMap<string, StageDefinition> = new Map(
  [textToImageStage, refinerStage, upscalerStage].map((d) => [d.stageType, d as StageDefinition]),
);

export function knownStageTypes(): string[] {
  return [...stageDefinitions.keys()];
}
