/**
 * Typed access to what stages report (src/protocol/stage-results.ts): a job result's metadata is
 * keyed by stage name, each value told apart by its `stage_type`.
 */
import type { JobResult } from '../../protocol/schemas';
import type { StageMetadata } from '../../protocol/stage-results';

export type StageTypeName = StageMetadata['stage_type'];
export type MetadataOf<T extends StageTypeName> = Extract<StageMetadata, { stage_type: T }>;

/**
 * The metadata of the stage named `name` when it is a `type` stage, or (no name) of the first
 * `type` stage of the job.
 */
export function stageMetadata<T extends StageTypeName>(
  metadata: Readonly<Record<string, StageMetadata>> | undefined,
  type: T,
  name?: string,
): MetadataOf<T> | undefined {
  const candidates = name !== undefined ? [metadata?.[name]] : Object.values(metadata ?? {});
  return candidates.find((m): m is MetadataOf<T> => m?.stage_type === type);
}

/** The seed a finished generate job ran with: the job's drawn seed, else its text_to_image stage's. */
export function seedOfResult(result: JobResult): number | undefined {
  const drawn = result.data?.seed;
  if (typeof drawn === 'number') return drawn;
  return stageMetadata(result.metadata, 'text_to_image')?.seed;
}

/** `"dpmpp_2m karras"` (a scheduler as run) → `"dpmpp_2m"`. */
export const schedulerBase = (scheduler: string): string => scheduler.split(' ')[0] ?? scheduler;
