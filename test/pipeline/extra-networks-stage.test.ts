/**
 * The stages' side of LoRAs and embeddings: tags and the `loras` parameter summed into what the
 * provider is asked for, the tag cut from the prompt the model encodes (and only from the positive
 * prompt), what a refiner and detailer inherit, and the metadata written from what the provider
 * applied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiffusionLoadOptions, DiffusionProvider, StageServices } from '../../src/pipeline/ports';
import { addLoras, networksMetadata, stagePrompt } from '../../src/pipeline/stages/networks';
import { Workbench } from '../../src/pipeline/workbench';
import { PipelineConfig } from '../../src/protocol/pipeline-config';
import type { LoadedDiffusionModel } from '../../workers/ort/diffusion-model';
import { createMemorySink } from '../helpers/memory-sink';
import { loadTinyModel } from '../helpers/tiny-models';

describe('stagePrompt', () => {
  it('cuts the tags and adds the parameter, summing a name in both', () => {
    expect(stagePrompt('a cat <lora:x:0.5>, <lora:y:1:0.2> sitting', [{ name: 'x', weight: 0.25 }, { name: 'z', weight: -1 }])).toEqual({
      text: 'a cat, sitting',
      loras: [
        { name: 'x', weight: 0.75 },
        { name: 'y', weight: 1, unet: 0.2 },
        { name: 'z', weight: -1 },
      ],
    });
  });

  it('a separate UNet weight adds up with a plain one; equal weights collapse', () => {
    expect(addLoras([{ name: 'x', weight: 1, unet: 0.5 }], [{ name: 'x', weight: 1 }])).toEqual([{ name: 'x', weight: 2, unet: 1.5 }]);
    expect(addLoras([{ name: 'x', weight: 1, unet: 0 }], [{ name: 'x', weight: 0, unet: 1 }])).toEqual([{ name: 'x', weight: 1 }]);
  });

  it('the metadata names every LoRA with its report and hash, and the embeddings with theirs', () => {
    const meta = networksMetadata({
      loras: [{ name: 'x', weight: 0.8, matched: 192, total: 192, hash: 'abcdef123456' }],
      embeddings: [{ name: 'style', vectors: 2, hash: '0123456789ab' }],
      mergePeakBytes: 1000,
    });
    expect(meta).toEqual({
      networks: ['LoRA `x`: 192 of 192 modules', 'Embeddings: `style` (2 vectors)'],
      loras: [{ name: 'x', weight: 0.8, matched: 192, total: 192, hash: 'abcdef123456' }],
      lora_hashes: { x: 'abcdef123456' },
      lora_merge_peak_bytes: 1000,
      embeddings: [{ name: 'style', vectors: 2, hash: '0123456789ab' }],
      ti_hashes: { style: '0123456789ab' },
    });
    expect(networksMetadata(undefined)).toEqual({});
  });
});

describe('the loras parameter', () => {
  it('is checked where configs are: a name, a finite weight within the limits, nothing else', () => {
    const config = (loras: unknown) => PipelineConfig.safeParse({ stages: [{ stage_type: 'text_to_image', parameters: { loras } }] });
    expect(config([{ name: 'x' }]).success).toBe(true);
    expect(config([{ name: 'x', weight: -0.5, unet_weight: 1 }]).success).toBe(true);
    expect(config([{ name: '' }]).error?.issues[0].message).toBe('a LoRA needs a name');
    expect(config([{ name: 'x', weight: 11 }]).error?.issues[0].message).toBe('LoRA weight must be at most 10');
    expect(config([{ name: 'x', strength: 1 }]).success).toBe(false);
    expect(config('x').success).toBe(false);
    expect(PipelineConfig.safeParse({ stages: [{ stage_type: 'upscaler', parameters: { loras: [] } }] }).success).toBe(false);
  });
});

let tiny: LoadedDiffusionModel;
beforeAll(async () => {
  tiny = await loadTinyModel('sd15-fp32-dynamic');
});
afterAll(async () => tiny?.release());

function services() {
  const loads: DiffusionLoadOptions[] = [];
  const diffusion: DiffusionProvider = {
    async load(_model, options = {}) {
      loads.push(options);
      const loras = (options.loras ?? []).map((l) => ({ ...l, matched: 3, total: 3, hash: 'feedfacecafe' }));
      return {
        name: 'tiny',
        models: tiny,
        defaults: { steps: 2, guidance_scale: 7, scheduler: 'euler', width: 64, height: 64 },
        ...(loras.length ? { networks: { loras, embeddings: [], mergePeakBytes: 64 } } : {}),
      };
    },
  };
  const svc: StageServices = { artifacts: createMemorySink(), diffusion };
  return { svc, loads };
}

describe('text_to_image → refiner → detailer', () => {
  it('the tags leave the encoded prompt only; the later stages inherit the LoRAs once', async () => {
    const { svc, loads } = services();
    const wb = new Workbench({
      stages: [
        { stage_type: 'text_to_image', parameters: { loras: [{ name: 'p', weight: 0.5 }] } },
        { stage_type: 'refiner', parameters: { steps: 4 } },
        { stage_type: 'detailer', parameters: { steps: 2, roi: [8, 8, 32, 32] } },
      ],
    });
    const result = await wb.execute({ prompt: 'a boat <lora:x:0.8>', negative_prompt: 'fog <lora:n:1>', seed: 2 }, 'j', svc);
    expect(result.error).toBeNull();
    const asked = [{ name: 'x', weight: 0.8 }, { name: 'p', weight: 0.5 }];
    expect(loads).toEqual([
      { loras: asked, prompts: ['a boat', 'fog <lora:n:1>'] },
      { loras: asked, prompts: ['a boat', 'fog <lora:n:1>'] },
      { loras: asked, prompts: ['a boat', 'fog <lora:n:1>'] },
    ]);
    expect(result.metadata.text_to_image).toMatchObject({ prompt: 'a boat <lora:x:0.8>', lora_hashes: { x: 'feedfacecafe', p: 'feedfacecafe' } });
    expect(result.metadata.refiner).toMatchObject({ networks: ['LoRA `x`: 3 of 3 modules', 'LoRA `p`: 3 of 3 modules'] });
    expect(result.metadata.detailer).toMatchObject({ loras: [{ name: 'x', weight: 0.8 }, { name: 'p', weight: 0.5 }] });
  });

  it("a refiner's own prompt brings its own tags (the earlier `loras` still apply); `loras: []` keeps only the prompt's tags", async () => {
    const { svc, loads } = services();
    const wb = new Workbench({
      stages: [
        { stage_type: 'text_to_image', parameters: { prompt: 'a boat <lora:x:0.8>', seed: 2, loras: [{ name: 'p', weight: 0.5 }] } },
        { stage_type: 'refiner', parameters: { steps: 4, prompt: 'a ship <lora:y>' } },
        // Its prompt is text_to_image's, tags included.
        { stage_type: 'refiner', parameters: { steps: 4, loras: [] } },
      ],
    });
    const result = await wb.execute({}, 'j', svc);
    expect(result.error).toBeNull();
    expect(loads.map((l) => l.loras)).toEqual([
      [{ name: 'x', weight: 0.8 }, { name: 'p', weight: 0.5 }],
      [{ name: 'y', weight: 1 }, { name: 'p', weight: 0.5 }],
      [{ name: 'x', weight: 0.8 }],
    ]);
  });

  it('a malformed tag or a prompt of tags alone is refused before anything loads', async () => {
    const { svc, loads } = services();
    const bad = await new Workbench({ stages: [{ stage_type: 'text_to_image' }] }).execute({ prompt: 'a <lora:x:heavy>', seed: 1 }, 'j', svc);
    expect(bad.error).toMatch(/'heavy' is not a number/);
    const only = await new Workbench({ stages: [{ stage_type: 'text_to_image' }] }).execute({ prompt: '<lora:x:1>', seed: 1 }, 'j', svc);
    expect(only.error).toMatch(/only LoRA tags/);
    expect(loads).toEqual([]);
  });
});
