import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiffusionProvider, StageServices } from '../../src/pipeline/ports';
import { Workbench } from '../../src/pipeline/workbench';
import type { LoadedDiffusionModel } from '../../workers/ort/diffusion-model';
import { createMemorySink } from '../helpers/memory-sink';
import { createBoxUpscaler } from '../helpers/test-upscaler';
import { loadTinyModel } from '../helpers/tiny-models';

let tiny: LoadedDiffusionModel;
beforeAll(async () => {
  tiny = await loadTinyModel('sd15-fp32-dynamic');
});
afterAll(async () => tiny?.release());

function services() {
  const sink = createMemorySink();
  const loads: Array<string | undefined> = [];
  const diffusion: DiffusionProvider = {
    async load(model) {
      loads.push(model);
      if (model && model !== 'tiny') throw new Error(`no checkpoint named '${model}'`);
      return { name: 'tiny', models: tiny, defaults: { steps: 2, guidance_scale: 7, scheduler: 'euler', width: 64, height: 64 } };
    },
  };
  const svc: StageServices = {
    artifacts: sink,
    diffusion,
    upscalers: { load: async (_m, f) => createBoxUpscaler(f), available: async () => [] },
  };
  return { svc, sink, loads };
}

const config = { stages: [{ stage_type: 'text_to_image' }] };

describe('text_to_image stage', () => {
  it('generates with the family defaults and saves <job>/generated.png', async () => {
    const { svc, sink } = services();
    const result = await new Workbench(config).execute({ prompt: 'a red boat', seed: 5 }, 'job-9', svc);
    expect(result.error).toBeNull();
    expect(sink.saved.map((s) => s.name)).toEqual(['job-9/generated.png']);
    expect([sink.saved[0].image.width, sink.saved[0].image.height]).toEqual([64, 64]);
    expect(result.metadata.text_to_image).toMatchObject({ model: 'tiny', steps: 2, guidance_scale: 7, seed: 5, scheduler: 'euler' });
    expect(result.data.seed).toBe(5);
  });

  it('a batch saves -1, -2; job values win over stage parameters', async () => {
    const { svc, sink } = services();
    const wb = new Workbench({ stages: [{ stage_type: 'text_to_image', parameters: { steps: 3, batch_size: 1 } }] });
    const result = await wb.execute({ prompt: 'x', seed: 1, batch_size: 2 }, 'j', svc);
    expect(result.error).toBeNull();
    expect(sink.saved.map((s) => s.name)).toEqual(['j/generated-1.png', 'j/generated-2.png']);
    expect(result.metadata.text_to_image.steps).toBe(3);
  });

  it('feeds the upscaler: text_to_image → upscaler', async () => {
    const { svc, sink } = services();
    const result = await new Workbench({ stages: [{ stage_type: 'text_to_image' }, { stage_type: 'upscaler', parameters: { upscale_factor: 2 } }] }).execute(
      { prompt: 'a field', seed: 3 },
      'j',
      svc,
    );
    expect(result.error).toBeNull();
    expect(sink.saved.map((s) => [s.name, s.image.width])).toEqual([
      ['j/generated.png', 64],
      ['j/generated_upscaled.png', 128],
    ]);
  });

  it.each([
    [{ seed: 1 }, /prompt is required/],
    [{ prompt: '  ', seed: 1 }, /prompt is empty/],
    [{ prompt: 'x' }, /seed is required/],
    [{ prompt: 'x', seed: 1, model: 'other' }, /no checkpoint named 'other'/],
    [{ prompt: 'x', seed: 1, scheduler: 'heun' }, /scheduler/],
    [{ prompt: 'x', seed: 1, width: 65 }, /width must be a multiple of 8/],
  ])('refuses %o with a clear error', async (input, message) => {
    const { svc, sink } = services();
    const result = await new Workbench(config).execute(input, 'j', svc);
    expect(result.success).toBe(false);
    expect(result.error).toMatch(message);
    expect(sink.saved).toHaveLength(0);
  });
});

describe('refiner stage (img2img)', () => {
  const image = (w: number, h: number) => {
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([(i * 7) % 256, (i * 3) % 256, 128, 255], i * 4);
    return { width: w, height: h, data };
  };

  it('refines a given image at strength 0.3 by default: 3 of 10 steps, <job>/generated_refined.png', async () => {
    const { svc, sink } = services();
    const result = await new Workbench({ stages: [{ stage_type: 'refiner', parameters: { steps: 10 } }] }).execute(
      { image: image(64, 64), prompt: 'sharper' },
      'j',
      svc,
    );
    expect(result.error).toBeNull();
    expect(sink.saved.map((s) => s.name)).toEqual(['j/generated_refined.png']);
    expect(result.metadata.refiner).toMatchObject({ model: 'tiny', strength: 0.3, steps_run: 3, output_size: [64, 64], high_res_fix: false });
  });

  it('a per-job strength wins; text_to_image → refiner → upscaler keeps every stage image', async () => {
    const { svc, sink } = services();
    const wb = new Workbench({
      stages: [{ stage_type: 'text_to_image' }, { stage_type: 'refiner', parameters: { steps: 4 } }, { stage_type: 'upscaler' }],
    });
    const result = await wb.execute({ prompt: 'a hill', seed: 2, strength: 0.5 }, 'j', svc);
    expect(result.error).toBeNull();
    expect(result.metadata.refiner).toMatchObject({ strength: 0.5, steps_run: 2 });
    expect(sink.saved.map((s) => s.name)).toEqual(['j/generated.png', 'j/generated_refined.png', 'j/generated_upscaled.png']);
  });

  it('after text_to_image, the refiner takes its prompts and seed unless given its own (as A1111\'s hires fix)', async () => {
    const { svc, sink } = services();
    const wb = new Workbench({
      stages: [
        { stage_type: 'text_to_image', parameters: { prompt: 'a hill at dusk', negative_prompt: 'fog', seed: 5 } },
        { stage_type: 'refiner', parameters: { steps: 4, strength: 0.5 } },
      ],
    });
    const result = await wb.execute({}, 'j', svc);
    expect(result.error).toBeNull();
    expect(sink.saved[1].metadata.parameters).toMatchObject({ prompt: 'a hill at dusk', negative_prompt: 'fog', seed: 5 });
    expect(result.metadata.refiner).toMatchObject({ seed: 5 });
    // Its own values win.
    const { svc: svc2, sink: sink2 } = services();
    const own = new Workbench({
      stages: [
        { stage_type: 'text_to_image', parameters: { prompt: 'a hill at dusk', negative_prompt: 'fog', seed: 5 } },
        { stage_type: 'refiner', parameters: { steps: 4, strength: 0.5, prompt: 'crisp', negative_prompt: '', seed: 9 } },
      ],
    });
    await own.execute({}, 'j', svc2);
    expect(sink2.saved[1].metadata.parameters).toMatchObject({ prompt: 'crisp', negative_prompt: '', seed: 9 });
    // Different conditioning and noise → a different refined image from the same generated one.
    expect(sink2.saved[0].image.data).toEqual(sink.saved[0].image.data);
    expect(sink2.saved[1].image.data).not.toEqual(sink.saved[1].image.data);
  });

  it.each([
    [{ image: image(64, 64), strength: 1.5 }, /strength must be between 0 and 1/],
    [{ image: image(64, 64), strength: -0.1 }, /strength must be between 0 and 1/],
    [{}, /no input image to refine/],
    [{ image: image(60, 64) }, /multiples of 8/],
    [{ image: image(64, 64), steps: 2 }, /steps × strength must be at least 1/],
  ])('refuses %#: a clear error, nothing saved', async (input, message) => {
    const { svc, sink } = services();
    const result = await new Workbench({ stages: [{ stage_type: 'refiner' }] }).execute(input, 'j', svc);
    expect(result.success).toBe(false);
    expect(result.error).toMatch(message);
    expect(sink.saved).toHaveLength(0);
  });
});
