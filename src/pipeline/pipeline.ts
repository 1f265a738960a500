import type { PipelineContext } from './context';
import type { StageServices } from './ports';
import { CancelledError, checkpoint } from './cancellation';
import type { PipelineStage } from './stage';

export interface PipelineRunInfo {
  cancelled: boolean;
}

/** Runs stages in order, stops at the first error (the seed's Pipeline orchestrator). */
export class Pipeline {
  readonly stages: PipelineStage[];

  constructor(stages: PipelineStage[]) {
    this.stages = stages;
    uniquifyNames(stages);
  }

  async execute(context: PipelineContext, services: StageServices): Promise<PipelineContext & PipelineRunInfo> {
    const result = Object.assign(context, { cancelled: false });
    for (const stage of this.stages) {
      try {
        await checkpoint(services.signal);
        const problem = await stage.validateInput(context);
        if (problem) {
          context.setError(`Stage '${stage.name}': ${problem}`);
          return result;
        }
        await stage.execute(context, services);
      } catch (err) {
        if (err instanceof CancelledError || services.signal?.aborted) {
          result.cancelled = true;
          context.setError(`Stage '${stage.name}': cancelled`);
        } else {
          const message = err instanceof Error ? err.message : String(err);
          context.setError(`Stage '${stage.name}' failed: ${message}`);
        }
        return result;
      }
    }
    return result;
  }
}

/** Metadata keys must be unique: a repeated name gets `_2`, `_3`, ... */
function uniquifyNames(stages: PipelineStage[]): void {
  const seen = new Map<string, number>();
  for (const stage of stages) {
    const count = (seen.get(stage.name) ?? 0) + 1;
    seen.set(stage.name, count);
    if (count > 1) stage.name = `${stage.name}_${count}`;
  }
}
