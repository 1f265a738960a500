import { describe, expect, it } from 'vitest';
import { PipelineContext } from '../../src/pipeline/context';
import { Pipeline } from '../../src/pipeline/pipeline';
import { CancelledError, PipelineStage } from '../../src/pipeline/stage';
import type { StageServices } from '../../src/pipeline/ports';
import { createMemorySink } from '../helpers/memory-sink';

/** A stage for tests: records its run, adds an artifact and metadata, or fails on request. */
class RecordingStage extends PipelineStage {
  readonly stageType = 'recording';
  constructor(
    name: string,
    private readonly log: string[],
    private readonly behaviour: 'ok' | 'throw' | 'invalid' | 'cancel' = 'ok',
  ) {
    super(name);
  }
  override async validateInput(): Promise<string | null> {
    return this.behaviour === 'invalid' ? 'missing input' : null;
  }
  async execute(ctx: PipelineContext): Promise<PipelineContext> {
    this.log.push(this.name);
    if (this.behaviour === 'throw') throw new Error('model exploded');
    if (this.behaviour === 'cancel') throw new CancelledError();
    ctx.addArtifact(`${this.name}.png`);
    ctx.setMetadata(this.name, { ran: true });
    return ctx;
  }
}

const services = (): StageServices => ({ artifacts: createMemorySink() });

describe('Pipeline', () => {
  it('runs every stage in order and aggregates artifacts and metadata', async () => {
    const log: string[] = [];
    const pipeline = new Pipeline([new RecordingStage('a', log), new RecordingStage('b', log)]);
    const ctx = await pipeline.execute(new PipelineContext(), services());
    expect(log).toEqual(['a', 'b']);
    expect(ctx.artifacts).toEqual(['a.png', 'b.png']);
    expect(ctx.metadata).toEqual({ a: { ran: true }, b: { ran: true } });
    expect(ctx.error).toBeNull();
  });

  it('stops at the first error and names the stage', async () => {
    const log: string[] = [];
    const pipeline = new Pipeline([
      new RecordingStage('a', log),
      new RecordingStage('b', log, 'throw'),
      new RecordingStage('c', log),
    ]);
    const ctx = await pipeline.execute(new PipelineContext(), services());
    expect(log).toEqual(['a', 'b']);
    expect(ctx.error).toBe("Stage 'b' failed: model exploded");
    expect(ctx.artifacts).toEqual(['a.png']);
    expect(ctx.cancelled).toBe(false);
  });

  it('reports a failed validation without executing the stage', async () => {
    const log: string[] = [];
    const ctx = await new Pipeline([new RecordingStage('a', log, 'invalid')]).execute(new PipelineContext(), services());
    expect(log).toEqual([]);
    expect(ctx.error).toBe("Stage 'a': missing input");
  });

  it('reports cancellation apart from failure', async () => {
    const log: string[] = [];
    const ctx = await new Pipeline([new RecordingStage('a', log, 'cancel'), new RecordingStage('b', log)]).execute(
      new PipelineContext(),
      services(),
    );
    expect(ctx.cancelled).toBe(true);
    expect(ctx.error).toBe("Stage 'a': cancelled");
    expect(log).toEqual(['a']);
  });

  it('does not start when the signal is already aborted', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    controller.abort();
    const ctx = await new Pipeline([new RecordingStage('a', log)]).execute(new PipelineContext(), {
      ...services(),
      signal: controller.signal,
    });
    expect(log).toEqual([]);
    expect(ctx.cancelled).toBe(true);
  });

  it('gives repeated stage names _2, _3 so metadata keys stay unique', async () => {
    const log: string[] = [];
    const pipeline = new Pipeline([
      new RecordingStage('upscaler', log),
      new RecordingStage('upscaler', log),
      new RecordingStage('upscaler', log),
    ]);
    const ctx = await pipeline.execute(new PipelineContext(), services());
    expect(Object.keys(ctx.metadata)).toEqual(['upscaler', 'upscaler_2', 'upscaler_3']);
  });
});
