import { describe, expect, it } from 'vitest';
import { PipelineContext } from '../../src/pipeline/context';
import { CancelledError } from '../../src/pipeline/stage';
import { UpscalerStage } from '../../src/pipeline/stages/upscaler';
import { MAX_OUTPUT_PIXELS, UpscalerParameters } from '../../src/protocol/pipeline-config';
import type { StageServices } from '../../src/pipeline/ports';
import { createBoxUpscaler, patternImage } from '../helpers/test-upscaler';
import { createMemorySink } from '../helpers/memory-sink';

function setup(params: Record<string, unknown> = {}, maxTile = 4096) {
  const sink = createMemorySink();
  const loads: Array<[string | undefined, number]> = [];
  const services: StageServices = {
    artifacts: sink,
    upscalers: {
      async load(model, factor) {
        loads.push([model, factor]);
        return createBoxUpscaler(factor, 2, maxTile);
      },
      async available() {
        return [];
      },
    },
  };
  const stage = new UpscalerStage('upscaler', UpscalerParameters.parse(params));
  return { sink, services, stage, loads };
}

describe('UpscalerStage', () => {
  it('upscales the context image ×2 by default and saves an artifact', async () => {
    const { sink, services, stage } = setup();
    const ctx = new PipelineContext({ image: patternImage(30, 20), job_id: 'j1' });
    await stage.execute(ctx, services);
    const image = ctx.get<{ width: number; height: number }>('image')!;
    expect([image.width, image.height]).toEqual([60, 40]);
    expect(sink.saved).toHaveLength(1);
    expect(sink.saved[0].name).toBe('j1/generated_upscaled.png');
    expect(ctx.artifacts).toEqual([sink.saved[0].id]);
    expect(ctx.get('upscaled_artifact')).toBe(sink.saved[0].id);
    expect(ctx.metadata.upscaler).toMatchObject({
      model: 'box-r2-x2',
      upscale_factor: 2,
      input_size: [30, 20],
      output_size: [60, 40],
      tiles: 1,
      backend: 'test',
    });
    expect(typeof ctx.metadata.upscaler.ms).toBe('number');
  });

  it('honours a custom factor, model and tile size', async () => {
    const { services, stage, loads } = setup({ upscale_factor: 4, model: 'box', tile_size: 16, tile_overlap: 4 });
    const ctx = new PipelineContext({ image: patternImage(40, 24) });
    await stage.execute(ctx, services);
    expect(loads).toEqual([['box', 4]]);
    expect(ctx.metadata.upscaler).toMatchObject({ output_size: [160, 96], tile_size: 16, tile_overlap: 4, tiles: 6 });
  });

  it('caps the tile size at what the device allows', async () => {
    const { services, stage } = setup({ tile_size: 512 }, 32);
    const ctx = new PipelineContext({ image: patternImage(64, 64) });
    await stage.execute(ctx, services);
    expect(ctx.metadata.upscaler.tile_size).toBe(32);
    expect(ctx.metadata.upscaler.tiles as number).toBeGreaterThan(1);
  });

  it('says so when the input image is missing', async () => {
    const { stage } = setup();
    expect(await stage.validateInput(new PipelineContext())).toBe('no input image to upscale');
    expect(await stage.validateInput(new PipelineContext({ image: { width: 2 } }))).toBe('no input image to upscale');
  });

  it('refuses a result larger than the limit before running the model', async () => {
    const { services, stage, loads } = setup({ upscale_factor: 8 });
    const side = Math.ceil(Math.sqrt(MAX_OUTPUT_PIXELS) / 8) + 1;
    const ctx = new PipelineContext({ image: { width: side, height: side, data: new Uint8ClampedArray(side * side * 4) } });
    await expect(stage.execute(ctx, services)).rejects.toThrow(/largest upscale result is 33\.6 MP/);
    expect(loads).toEqual([]);
  });

  it('stops between tiles when cancelled and saves nothing', async () => {
    const { sink, services, stage } = setup({ tile_size: 16, tile_overlap: 4 });
    const controller = new AbortController();
    let tiles = 0;
    const ctx = new PipelineContext({ image: patternImage(64, 64) });
    const run = stage.execute(ctx, {
      ...services,
      signal: controller.signal,
      onProgress: () => {
        if (++tiles === 2) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(tiles).toBe(2);
    expect(sink.saved).toHaveLength(0);
    expect(ctx.artifacts).toEqual([]);
  });

  it('handles a cancel that arrives as a message (macrotask) while tiles run back to back', async () => {
    const { sink, services, stage } = setup({ tile_size: 16, tile_overlap: 4 });
    const controller = new AbortController();
    let tiles = 0;
    const ctx = new PipelineContext({ image: patternImage(96, 96) });
    const run = stage.execute(ctx, {
      ...services,
      signal: controller.signal,
      onProgress: () => {
        // A worker receives cancel() as a message event: it can only run between tasks.
        if (++tiles === 1) setTimeout(() => controller.abort(), 0);
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(tiles).toBeLessThan(4);
    expect(sink.saved).toHaveLength(0);
  });
});
