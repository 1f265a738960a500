import type { PipelineContext } from './context';
import type { StageServices } from './ports';

// Cancellation lives in its own module; re-exported for code that imports it from here.
export { CancelledError, checkpoint, throwIfAborted, yieldToEventLoop } from './cancellation';

/** Thrown for problems the user can fix (bad input, unknown model); the message is shown as is. */
export class StageInputError extends Error {
  override name = 'StageInputError';
}

/** One step of a pipeline (the seed's PipelineStage). */
export abstract class PipelineStage {
  /** Metadata key and name used in messages; the pipeline makes it unique. */
  name: string;
  abstract readonly stageType: string;

  constructor(name: string) {
    this.name = name;
  }

  /** Returns a message saying what is missing, or null when the stage can run. */
  async validateInput(_context: PipelineContext): Promise<string | null> {
    return null;
  }

  abstract execute(context: PipelineContext, services: StageServices): Promise<PipelineContext>;
}
