// @vitest-environment node
/**
 * Parameters from our own records, A1111 infotext and ComfyUI graphs → one GenerationParameters,
 * and the Generate form → its pipeline config.
 */
import { describe, expect, it } from 'vitest';
import {
  buildPipelineConfig,
  describeLoaded,
  fromA1111Infotext,
  fromComfyPrompt,
  fromMediaLabMetadata,
  fromPipelineConfig,
  fromPngTextChunks,
  matchModelName,
  modelFixedSize,
  ParametersError,
  parsePipelineConfigText,
  readPngParameters,
  type GenerateForm,
} from '../../src/app/lib/generation-parameters';
import { textChunks } from '../../src/media/artifact-png';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import { validatePipelineConfig } from '../../src/pipeline/workbench';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import type { ArtifactMetadata } from '../../src/protocol/stage-results';
import { upscalerArtifact } from '../helpers/stage-metadata';

/** A text_to_image artifact's metadata as the stage writes it (src/pipeline/stages/text-to-image.ts). */
function t2iMetadata(): ArtifactMetadata {
  const params = {
    prompt: 'a lighthouse at dusk, (oil painting:1.2)',
    negative_prompt: 'blurry',
    steps: 12,
    guidance_scale: 6.5,
    scheduler: 'dpmpp_2m',
    karras: true,
    width: 64,
    height: 96,
    seed: 987654321,
    batch_size: 1,
    emphasis: 'original' as const,
  };
  return {
    stage: 'text_to_image',
    stage_type: 'text_to_image',
    parameters: { ...params, latents: undefined },
    model: 'tiny-sd15',
    ...params,
    scheduler: 'dpmpp_2m karras',
    rng: 'philox',
    timesteps: [999, 500],
    prompt_chunks: 1,
    prompt_truncated: false,
    output_size: [64, 96],
    ms: 1234,
    batch_index: 0,
  };
}

const png = (chunks: Array<{ keyword: string; text: string }>) => addPngTextChunks(encodePng(createRgbaImage(2, 2)), chunks);

const form = (over: Partial<GenerateForm> = {}): GenerateForm => ({
  prompt: 'a cat',
  negative_prompt: 'dog',
  model: 'tiny',
  steps: 20,
  guidance_scale: 7,
  scheduler: 'euler_a',
  karras: false,
  width: 512,
  height: 512,
  batch_size: 1,
  emphasis: 'original',
  hires_fix: null,
  refiner: null,
  detailer: null,
  upscaler: null,
  ...over,
});

describe('our media-lab chunk', () => {
  it('a generated image gives every generation setting, stages off', () => {
    const loaded = fromMediaLabMetadata(t2iMetadata());
    expect(loaded.source).toBe('media-lab');
    expect(loaded.parameters).toEqual({
      prompt: 'a lighthouse at dusk, (oil painting:1.2)',
      negative_prompt: 'blurry',
      model: 'tiny-sd15',
      seed: 987654321,
      steps: 12,
      guidance_scale: 6.5,
      scheduler: 'dpmpp_2m',
      karras: true,
      width: 64,
      height: 96,
      batch_size: 1,
      emphasis: 'original',
      hires_fix: null,
      refiner: null,
      detailer: null,
      upscaler: null,
    });
    expect(loaded.unmapped).toEqual([]);
  });

  it('reads the chunk the worker writes into a PNG (ours wins over the A1111 text beside it)', () => {
    const bytes = png(textChunks(t2iMetadata()));
    const loaded = readPngParameters(bytes);
    expect(loaded.source).toBe('media-lab');
    expect(loaded.parameters).toMatchObject({ seed: 987654321, scheduler: 'dpmpp_2m', karras: true, steps: 12, width: 64, height: 96 });
  });

  it('an upscaled image of a generate job restores the whole pipeline from the job it carries', () => {
    const job = {
      pipeline_config: {
        stages: [
          { stage_type: 'text_to_image', parameters: { prompt: 'a lighthouse', steps: 9, width: 64, height: 64, scheduler: 'euler' } },
          { stage_type: 'refiner', parameters: { strength: 0.55, high_res_fix: { scale: 2, upscaler: 'latent' } } },
          { stage_type: 'upscaler', parameters: { upscale_factor: 4 } },
        ],
      },
      input_data: { seed: 4242 },
    };
    const bytes = png(textChunks(upscalerArtifact({ upscale_factor: 4, job })));
    const loaded = readPngParameters(bytes);
    expect(loaded.source).toBe('media-lab');
    expect(loaded.parameters).toMatchObject({
      prompt: 'a lighthouse',
      steps: 9,
      seed: 4242,
      scheduler: 'euler',
      hires_fix: { scale: 2, upscaler: 'latent', strength: 0.55 },
      upscaler: { factor: 4 },
    });
    // An enhance job (no text_to_image stage) falls back to the image's own stage values.
    const enhance = fromMediaLabMetadata({
      stage_type: 'upscaler',
      upscale_factor: 2,
      parameters: { upscale_factor: 2 },
      job: { pipeline_config: { stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: 2 } }] }, input_data: {} },
    });
    expect(enhance.parameters.upscaler).toEqual({ factor: 2 });
  });

  it('falls back to the A1111 text when our chunk is broken, saying so', () => {
    const chunks = textChunks(t2iMetadata()).map((c) => (c.keyword === 'media-lab' ? { ...c, text: '{not json' } : c));
    const loaded = readPngParameters(png(chunks));
    expect(loaded.source).toBe('a1111');
    expect(loaded.parameters).toMatchObject({ prompt: 'a lighthouse at dusk, (oil painting:1.2)', seed: 987654321, scheduler: 'dpmpp_2m', karras: true });
    expect(loaded.unmapped[0]).toMatch(/Media Lab parameters could not be read: .*not valid JSON/);
  });

  it('a refined image: its generation plus the refiner or hires fix that made it', () => {
    const base = t2iMetadata().parameters;
    const refined = fromMediaLabMetadata({
      stage: 'refiner',
      stage_type: 'refiner',
      parameters: { ...base, strength: 0.4 },
      model: 'tiny-sd15',
      strength: 0.4,
      high_res_fix: false,
    });
    expect(refined.parameters).toMatchObject({ prompt: base.prompt, seed: base.seed, width: 64, height: 96, refiner: { strength: 0.4 }, hires_fix: null });
    const hires = fromMediaLabMetadata({
      stage: 'hires_fix',
      stage_type: 'refiner',
      parameters: { ...base, width: 128, height: 192, strength: 0.55 },
      model: 'tiny-sd15',
      strength: 0.55,
      high_res_fix: { scale: 2, upscaler: 'latent', from: [64, 96], to: [128, 192] },
    });
    expect(hires.parameters).toMatchObject({ width: 64, height: 96, hires_fix: { scale: 2, upscaler: 'latent', strength: 0.55, steps: 12 }, refiner: null });
  });

  it('an upscaled image gives only its upscale, and says the prompt is not there', () => {
    const loaded = fromMediaLabMetadata({ stage: 'upscaler', stage_type: 'upscaler', parameters: { upscale_factor: 4 }, model: 'esrgan-slim-x4', upscale_factor: 4 });
    expect(loaded.parameters).toEqual({ upscaler: { factor: 4 } });
    expect(loaded.unmapped.join(' ')).toMatch(/holds no prompt/);
  });

  it('an image of a batch reloads alone: batch 1 with its own seed (seed + its index), also from the whole job', () => {
    const meta = t2iMetadata();
    const second = { ...meta, seed: 987654322, batch_size: 2, batch_index: 1, parameters: { ...meta.parameters, seed: 987654322, batch_size: 2 } };
    expect(fromMediaLabMetadata(second).parameters).toMatchObject({ seed: 987654322, batch_size: 1 });
    // The job it came from asked for seed 987654321 × 2: the image's own seed still wins.
    const job = { pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { ...meta.parameters, latents: undefined, batch_size: 2 } }] }, input_data: {} };
    expect(fromMediaLabMetadata({ ...second, job }).parameters).toMatchObject({ seed: 987654322, batch_size: 1 });
    expect(fromMediaLabMetadata({ ...meta, batch_index: 0, job }).parameters).toMatchObject({ seed: 987654321, batch_size: 1 });
  });

  it('bad values are reported, not taken', () => {
    const meta = t2iMetadata();
    const loaded = fromMediaLabMetadata({ ...meta, parameters: { ...meta.parameters, steps: 'many', seed: -5, scheduler: 'heun' } });
    expect(loaded.parameters.steps).toBeUndefined();
    expect(loaded.parameters.seed).toBeUndefined();
    expect(loaded.parameters.scheduler).toBeUndefined();
    expect(loaded.unmapped).toEqual([
      'seed -5 is not a seed this app can use (a whole number from 0 to 2^53 - 1)',
      'steps "many" is not a number of steps from 1 to 1000',
      'scheduler "heun" is not a sampler this app has (euler, euler_a, ddim, dpmpp_2m, lcm)',
    ]);
    expect(() => fromMediaLabMetadata([1, 2])).toThrow(ParametersError);
    expect(() => fromMediaLabMetadata({ stage_type: 'detailer' })).toThrow(/'detailer' stage/);
  });
});

describe('A1111 infotext', () => {
  const infotext = [
    'masterpiece, a castle on a hill, (sunset:1.3)',
    'Negative prompt: lowres, bad anatomy',
    'Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, Version: v1.6.0',
  ].join('\n');

  it('maps the old "DPM++ 2M Karras" sampler name to dpmpp_2m + Karras', () => {
    const loaded = fromA1111Infotext(infotext);
    expect(loaded.source).toBe('a1111');
    expect(loaded.parameters).toEqual({
      prompt: 'masterpiece, a castle on a hill, (sunset:1.3)',
      negative_prompt: 'lowres, bad anatomy',
      model: 'v1-5-pruned-emaonly',
      seed: 3141592653,
      steps: 28,
      guidance_scale: 6.5,
      scheduler: 'dpmpp_2m',
      karras: true,
      width: 512,
      height: 768,
      hires_fix: null,
      refiner: null,
      detailer: null,
      upscaler: null,
    });
    // Clip skip is a real setting this app lacks; Version and hashes are not settings.
    expect(loaded.unmapped).toEqual(['Clip skip: 2 (not a setting this app has)']);
  });

  it('reads the current form (Schedule type) and hires fix keys', () => {
    const loaded = fromA1111Infotext(
      'a fox\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.45, Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent',
    );
    expect(loaded.parameters).toMatchObject({ scheduler: 'euler_a', karras: false, hires_fix: { scale: 2, upscaler: 'latent', strength: 0.45, steps: 10 } });
    expect(loaded.unmapped).toEqual([]);
  });

  it('a sampler this app lacks and img2img strength are reported; the rest loads', () => {
    const loaded = fromA1111Infotext('a fox\nSteps: 20, Sampler: Heun, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.6');
    expect(loaded.parameters.scheduler).toBeUndefined();
    expect(loaded.parameters.steps).toBe(20);
    expect(loaded.unmapped).toEqual([
      'Sampler "Heun" is not a sampler this app has (it has Euler, Euler a, DDIM, DPM++ 2M, LCM)',
      'denoising strength 0.6 is for img2img, which the Generate view does not do',
    ]);
  });

  it('from a PNG parameters chunk', () => {
    const loaded = readPngParameters(png([{ keyword: 'parameters', text: infotext }]));
    expect(loaded.parameters).toMatchObject({ seed: 3141592653, scheduler: 'dpmpp_2m', karras: true });
  });
});

describe('ComfyUI prompt graph', () => {
  const graph = {
    '3': {
      class_type: 'KSampler',
      inputs: { seed: 8566257, steps: 25, cfg: 8, sampler_name: 'euler_ancestral', scheduler: 'karras', denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 768, height: 512, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'beautiful scenery nature glass bottle landscape', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
  };

  it('follows KSampler → CLIPTextEncode / EmptyLatentImage / CheckpointLoaderSimple', () => {
    const loaded = fromComfyPrompt(JSON.stringify(graph));
    expect(loaded.source).toBe('comfyui');
    expect(loaded.parameters).toEqual({
      prompt: 'beautiful scenery nature glass bottle landscape',
      negative_prompt: 'text, watermark',
      model: 'v1-5-pruned-emaonly.safetensors',
      seed: 8566257,
      steps: 25,
      guidance_scale: 8,
      scheduler: 'euler_a',
      // ComfyUI's karras schedule with euler_ancestral: this app's Euler a has no Karras schedule.
      karras: false,
      width: 768,
      height: 512,
      hires_fix: null,
      refiner: null,
      detailer: null,
      upscaler: null,
    });
    expect(loaded.unmapped).toEqual([
      "the Karras schedule is not available with Euler a here (only Euler and DPM++ 2M); the sampler's own schedule is used",
    ]);
  });

  it('from a PNG prompt chunk (with the workflow chunk beside it), the registered model matched by name', () => {
    const loaded = readPngParameters(png([{ keyword: 'prompt', text: JSON.stringify(graph) }, { keyword: 'workflow', text: '{"nodes":[]}' }]));
    expect(loaded.source).toBe('comfyui');
    expect(matchModelName(loaded.parameters.model!, ['tiny', 'V1-5-Pruned-EmaOnly'])).toBe('V1-5-Pruned-EmaOnly');
    expect(matchModelName('other.ckpt', ['tiny'])).toBeUndefined();
  });

  it('an unknown sampler is reported; a graph that is not one is an error', () => {
    const odd = structuredClone(graph);
    odd['3'].inputs.sampler_name = 'uni_pc';
    const loaded = fromComfyPrompt(JSON.stringify(odd));
    expect(loaded.parameters.scheduler).toBeUndefined();
    expect(loaded.unmapped.join(' ')).toMatch(/sampler "uni_pc" is not one this app has/);
    expect(() => readPngParameters(png([{ keyword: 'prompt', text: '{"1": 5}' }]))).toThrow(/ComfyUI parameters could not be read/);
  });
});

describe('PNG files without parameters and other junk', () => {
  it('says what is wrong', () => {
    expect(() => readPngParameters(png([]))).toThrow(/holds no generation parameters/);
    expect(() => readPngParameters(new TextEncoder().encode('GIF89a…'))).toThrow(/not a PNG/);
    expect(() => fromPngTextChunks([{ keyword: 'Comment', text: 'hi', kind: 'tEXt' }])).toThrow(ParametersError);
  });
});

describe('pipeline configs', () => {
  it('form → config → form round-trips, and the workbench accepts the config', () => {
    const full = form({
      seed: 42,
      hires_fix: { scale: 1.5, upscaler: 'latent', strength: 0.5 },
      refiner: { strength: 0.25, model: 'other', steps: 8 },
      detailer: { targets: ['face', 'hand'], face_strength: 0.35, hand_strength: 0.5, confidence: 0.45, prompt: 'sharp eyes' },
      upscaler: { factor: 4 },
    });
    const config = buildPipelineConfig(full);
    expect(config.stages.map((s) => [s.stage_type, s.name])).toEqual([
      ['text_to_image', undefined],
      ['refiner', 'hires_fix'],
      ['refiner', 'refiner'],
      ['detailer', 'detailer'],
      ['upscaler', undefined],
    ]);
    // The detailer redraws with the generation's steps, CFG and sampler; checkpoint, negative prompt and seed it inherits.
    expect(config.stages[3].parameters).toEqual({
      steps: 20,
      guidance_scale: 7,
      scheduler: 'euler_a',
      karras: false,
      emphasis: 'original',
      targets: ['face', 'hand'],
      face_strength: 0.35,
      hand_strength: 0.5,
      confidence: 0.45,
      prompt: 'sharp eyes',
    });
    expect(config.stages[1].parameters).toMatchObject({ prompt: 'a cat', seed: 42, strength: 0.5, steps: 20, high_res_fix: { scale: 1.5, upscaler: 'latent' } });
    expect(config.stages[2].parameters).toMatchObject({ prompt: 'a cat', model: 'other', strength: 0.25, steps: 8 });
    expect(() => validatePipelineConfig(config)).not.toThrow();

    const back = fromPipelineConfig(JSON.parse(JSON.stringify(config)));
    expect(back.unmapped).toEqual([]);
    expect(back.parameters).toEqual({
      prompt: 'a cat',
      negative_prompt: 'dog',
      model: 'tiny',
      seed: 42,
      steps: 20,
      guidance_scale: 7,
      scheduler: 'euler_a',
      karras: false,
      width: 512,
      height: 512,
      batch_size: 1,
      emphasis: 'original',
      hires_fix: { scale: 1.5, upscaler: 'latent', strength: 0.5, steps: 20 },
      refiner: { strength: 0.25, model: 'other', steps: 8 },
      detailer: { targets: ['face', 'hand'], face_strength: 0.35, hand_strength: 0.5, confidence: 0.45, prompt: 'sharp eyes' },
      upscaler: { factor: 4 },
    });
  });

  it('no seed in the config when none is fixed (the worker draws one); a job request gives its drawn seed back', () => {
    const config = buildPipelineConfig(form());
    expect(config.stages[0].parameters).not.toHaveProperty('seed');
    const loaded = fromPipelineConfig(config, { seed: 777 }, 'media-lab');
    expect(loaded.parameters.seed).toBe(777);
    expect(loaded.source).toBe('media-lab');
  });

  it('loads a config file, and a whole job request; refuses what is not one with a clear error', () => {
    const text = JSON.stringify(buildPipelineConfig(form({ upscaler: { factor: 2 } })));
    expect(parsePipelineConfigText(text).parameters.upscaler).toEqual({ factor: 2 });
    const request = JSON.stringify({ pipeline_config: JSON.parse(text), input_data: { seed: 5 } });
    expect(parsePipelineConfigText(request).parameters.seed).toBe(5);

    expect(() => parsePipelineConfigText('{"stages": []')).toThrow(/not valid JSON/);
    expect(() => parsePipelineConfigText('{"stages": []}')).toThrow('not a pipeline config: stages: a pipeline needs at least one stage');
    expect(() => parsePipelineConfigText('{"stages": [{"parameters": {}}]}')).toThrow(/not a pipeline config: stages\[0\]\.stage_type/);
    expect(() => parsePipelineConfigText('{"stages": [{"stage_type": "upscaler", "parameters": {"upscale_factor": 4}}]}')).toThrow(
      /no text_to_image stage \(it has upscaler\)/,
    );
    expect(() => parsePipelineConfigText('x'.repeat(2_000_000))).toThrow(/at most/);
  });

  it('values of the wrong type and unknown keys or stages are listed, the rest loads', () => {
    const loaded = fromPipelineConfig({
      stages: [
        { stage_type: 'text_to_image', parameters: { prompt: 'x', steps: 0, colour: 'red' } },
        { stage_type: 'detailer', parameters: { roi: [0, 0, 64, 64] } },
        { stage_type: 'upscaler', parameters: { upscale_factor: 5 } },
      ],
    });
    expect(loaded.parameters).toMatchObject({ prompt: 'x', upscaler: null });
    expect(loaded.parameters.steps).toBeUndefined();
    expect(loaded.unmapped).toEqual([
      "stages[0] (text_to_image): parameter 'colour' is not one this stage takes",
      'steps 0 is not a number of steps from 1 to 1000',
      "stages[1] (detailer): it redraws a chosen region (roi); the Generate view's detailer redraws found faces and hands, so it is left out",
      'upscale factor 5 is not one of 2, 3, 4, 8',
    ]);
  });

  it('Karras is sent only with the samplers that have it', () => {
    expect(buildPipelineConfig(form({ scheduler: 'ddim', karras: true })).stages[0].parameters!.karras).toBe(false);
    expect(buildPipelineConfig(form({ scheduler: 'dpmpp_2m', karras: true })).stages[0].parameters!.karras).toBe(true);
  });

  it('describeLoaded names what was set', () => {
    expect(describeLoaded({ prompt: 'a', seed: 1, refiner: null, upscaler: { factor: 2 } })).toEqual(['prompt', 'seed', 'upscaler']);
  });
});

describe('modelFixedSize', () => {
  it('reads the registry latent size, else the UNet sample shape; dynamic models have none', () => {
    expect(modelFixedSize({ metadata: { latent_size: [64, 48] } })).toEqual({ width: 384, height: 512 });
    expect(modelFixedSize({ metadata: { latent_size: null }, components: [{ role: 'unet', inputs: [{ name: 'sample', shape: [2, 4, 64, 64] }] }] })).toEqual({ width: 512, height: 512 });
    expect(modelFixedSize({ components: [{ role: 'unet', inputs: [{ name: 'sample', shape: ['batch', 4, 'h', 'w'] }] }] })).toBeNull();
    expect(modelFixedSize(undefined)).toBeNull();
  });
});
