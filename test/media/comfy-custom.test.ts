// @vitest-environment node
/**
 * ComfyUI graphs sampled with SamplerCustom / SamplerCustomAdvanced, and the LoRA, hypernetwork,
 * ControlNet and img2img nodes a graph walks through, which must be named, not dropped. Real
 * graphs from ComfyUI_examples and sd-parsers (test/fixtures/png-metadata/README.md).
 */
import { describe, expect, it } from 'vitest';
import { readComfyPrompt } from '../../src/media/comfy';
import { fixtureText } from './png-metadata-fixtures';

const read = (file: string) => readComfyPrompt(fixtureText(`comfyui/${file}.chunks.json`, 'prompt'));
type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
const graphOf = (file: string) => JSON.parse(fixtureText(`comfyui/${file}.chunks.json`, 'prompt')) as Graph;

describe('SamplerCustomAdvanced (Flux dev example)', () => {
  it('seed from RandomNoise, sampler from KSamplerSelect, steps from BasicScheduler, prompt through BasicGuider and FluxGuidance, model from UNETLoader', () => {
    const params = read('flux_dev_example');
    expect(params).toMatchObject({
      seed: 219670278747233,
      steps: 20,
      // BasicGuider: the positive prompt alone, i.e. CFG 1 without a negative prompt.
      guidance_scale: 1,
      scheduler: 'euler',
      karras: false,
      width: 1024,
      height: 1024,
      model: 'flux1-dev.safetensors',
    });
    expect(params.prompt).toBe(JSON.parse(fixtureText('comfyui/flux_dev_example.chunks.json', 'prompt'))['6'].inputs.text);
    expect(params.prompt).toMatch(/^cute anime girl with massive fluffy fennec ears/);
    expect(params).not.toHaveProperty('negative_prompt');
    expect(params.warnings).toEqual([
      'Flux guidance 3.5 (FluxGuidance node "26") is not a setting this app has',
      'scheduler "simple" is not one this app has (normal, karras); the sampler\'s default is used',
      'ModelSamplingFlux node "30" changes the model, which is not applied',
    ]);
  });

  it('CFG and both prompts from a CFGGuider; karras from BasicScheduler; denoise < 1 is img2img strength', () => {
    const graph = graphOf('flux_dev_example');
    graph['22'] = { class_type: 'CFGGuider', inputs: { model: ['30', 0], positive: ['6', 0], negative: ['40', 0], cfg: 3.5 } };
    graph['40'] = { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['11', 0] } };
    Object.assign(graph['17'].inputs, { scheduler: 'karras', denoise: 0.75 });
    graph['16'].inputs.sampler_name = 'dpmpp_2m';
    const params = readComfyPrompt(JSON.stringify(graph));
    expect(params).toMatchObject({ guidance_scale: 3.5, negative_prompt: 'blurry', scheduler: 'dpmpp_2m', karras: true, strength: 0.75 });
  });

  it('a seed past 2^53 - 1 is quoted with the digits the file has', () => {
    const text = fixtureText('comfyui/flux_dev_example.chunks.json', 'prompt').replace('"noise_seed": 219670278747233', '"noise_seed": 18446744073709551615');
    const params = readComfyPrompt(text);
    expect(params.seed).toBeUndefined();
    expect(params.extra.seed).toBe('18446744073709551615');
    expect(params.warnings).toContain('seed 18446744073709551615 is outside the range this app can reproduce (0 to 2^53 - 1)');
  });

  it('with two sampling passes, the first (fed by the empty latent) is read', () => {
    const graph = graphOf('flux_dev_example');
    graph['50'] = { class_type: 'LatentUpscaleBy', inputs: { upscale_method: 'nearest-exact', scale_by: 1.5, samples: ['13', 0] } };
    graph['51'] = { class_type: 'BasicScheduler', inputs: { scheduler: 'normal', steps: 8, denoise: 0.4, model: ['30', 0] } };
    graph['52'] = { class_type: 'RandomNoise', inputs: { noise_seed: 7 } };
    graph['1'] = { class_type: 'SamplerCustomAdvanced', inputs: { noise: ['52', 0], guider: ['22', 0], sampler: ['16', 0], sigmas: ['51', 0], latent_image: ['50', 0] } };
    const params = readComfyPrompt(JSON.stringify(graph));
    expect(params).toMatchObject({ seed: 219670278747233, steps: 20, width: 1024, height: 1024 });
    expect(params.strength).toBeUndefined();
    expect(params.warnings[0]).toBe('the graph has 2 samplers; read SamplerCustomAdvanced "13" (the first pass)');
  });

  it('a guider or noise it cannot read is named, the rest still read', () => {
    const graph = graphOf('flux_dev_example');
    graph['22'] = { class_type: 'DualCFGGuider', inputs: { model: ['30', 0], cond1: ['6', 0], cond2: ['6', 0], negative: ['6', 0], cfg_conds: 5, cfg_cond2_negative: 2 } };
    graph['25'] = { class_type: 'DisableNoise', inputs: {} };
    const params = readComfyPrompt(JSON.stringify(graph));
    expect(params).toMatchObject({ steps: 20, scheduler: 'euler', model: 'flux1-dev.safetensors' });
    expect(params.prompt).toBeUndefined();
    expect(params.seed).toBeUndefined();
    expect(params.warnings).toEqual(
      expect.arrayContaining([
        'seed not read: the noise comes from DisableNoise node "25", which holds no seed',
        'prompts and CFG not read: the guider is DualCFGGuider node "22", which this app does not reproduce',
      ]),
    );
  });
});

describe('SamplerCustom (SDXL-Turbo example)', () => {
  it('seed and CFG from the sampler node, sampler from KSamplerSelect, steps from SDTurboScheduler (its schedule named)', () => {
    expect(read('sdxlturbo_example')).toEqual({
      prompt: 'beautiful landscape scenery glass bottle with a galaxy inside cute fennec fox snow HDR sunset',
      negative_prompt: 'text, watermark',
      seed: 0,
      guidance_scale: 1,
      steps: 1,
      scheduler: 'euler_a',
      karras: false,
      width: 512,
      height: 512,
      model: 'sd_xl_turbo_1.0_fp16.safetensors',
      extra: {},
      warnings: ['the noise schedule of SDTurboScheduler node "22" is not one this app has; the sampler\'s default is used'],
    });
  });

  it('KarrasScheduler gives the Karras schedule', () => {
    const graph = graphOf('sdxlturbo_example');
    graph['22'] = { class_type: 'KarrasScheduler', inputs: { steps: 12, sigma_max: 14.6, sigma_min: 0.03, rho: 7 } };
    graph['14'].inputs.sampler_name = 'dpmpp_2m';
    expect(readComfyPrompt(JSON.stringify(graph))).toMatchObject({ steps: 12, scheduler: 'dpmpp_2m', karras: true, warnings: [] });
  });
});

describe('what a graph walks through is named', () => {
  it('two chained LoRA loaders, each once (they feed both the model and the prompts)', () => {
    const params = read('lora_multiple');
    expect(params).toMatchObject({ prompt: 'masterpiece best quality girl', negative_prompt: 'bad hands', model: 'v1-5-pruned-emaonly.ckpt', seed: 513173432917412 });
    expect(params.warnings).toEqual([
      'LoRA "epiNoiseoffset_v2.safetensors" (LoraLoader node "10", strength model 1, strength clip 1) is not applied',
      'LoRA "theovercomer8sContrastFix_sd15.safetensors" (LoraLoader node "11", strength model 1, strength clip 1) is not applied',
    ]);
  });

  it('a hypernetwork, and a sampler this app lacks left unset', () => {
    const params = read('hypernetwork_example');
    expect(params.scheduler).toBeUndefined();
    expect(params.warnings).toEqual([
      'sampler "uni_pc_bh2" is not one this app has (euler, euler_ancestral, ddim, dpmpp_2m, lcm)',
      'hypernetwork "dantionMarbleStatues_10.pt" (HypernetworkLoader node "10", strength 1) is not applied',
    ]);
  });

  it('a ControlNet with its model, strength and the image it is fed (through Canny)', () => {
    const params = read('flux_controlnet_example');
    expect(params).toMatchObject({ prompt: 'anime girl smiling with long hair standing in a football arena with a single massive sword hanging from her back', negative_prompt: '', model: 'flux1-dev-fp8.safetensors' });
    expect(params.warnings).toEqual([
      'ControlNet "instantx_flux_canny.safetensors" (ControlNetApplySD3 node "14", strength 0.4, image "girl_in_field.png") is not applied',
      'Flux guidance 3.5 (FluxGuidance node "26") is not a setting this app has',
    ]);
  });

  it('a model-only LoRA and image conditioning (Flux depth LoRA)', () => {
    const params = read('flux_depth_lora_example');
    expect(params).toMatchObject({ prompt: 'a photograph of a shark in the sea', model: 'flux1-dev.safetensors', steps: 20 });
    expect(params.warnings).toEqual([
      'InstructPixToPixConditioning node "35" (image "shark_depthmap.png") changes the prompt\'s conditioning, which is not applied',
      'Flux guidance 10 (FluxGuidance node "26") is not a setting this app has',
      'LoRA "flux1-depth-dev-lora.safetensors" (LoraLoaderModelOnly node "37", strength model 1) is not applied',
    ]);
  });

  it('img2img: the input image named, denoise as strength, the prompt kept with its trailing newline', () => {
    const params = read('img2img');
    expect(params).toMatchObject({
      prompt: 'photograph of victorian woman with wings, sky clouds, meadow grass\n',
      negative_prompt: 'watermark, text\n',
      strength: 0.8700000000000001,
      scheduler: 'dpmpp_2m',
      model: 'v1-5-pruned-emaonly.ckpt',
    });
    expect(params.warnings).toEqual(['img2img: sampling starts from image "example.png" encoded by VAEEncode node "12", which is not loaded here']);
  });

  it('CLIP skip on the prompts\' path is named', () => {
    const graph = graphOf('lora_multiple');
    graph['12'] = { class_type: 'CLIPSetLastLayer', inputs: { stop_at_clip_layer: -2, clip: ['10', 1] } };
    graph['6'].inputs.clip = ['12', 0];
    expect(readComfyPrompt(JSON.stringify(graph)).warnings).toContain('CLIP skip (stop at layer -2, CLIPSetLastLayer node "12") is not a setting this app has');
  });

  it('SD 3.5 with EmptySD3LatentImage', () => {
    expect(read('sd3.5_simple_example')).toMatchObject({ width: 1024, height: 1024, guidance_scale: 4.01, steps: 20, model: 'sd3.5_large_fp8_scaled.safetensors', negative_prompt: '' });
  });
});

describe('custom-sampler graphs with odd values', () => {
  it('never throw anything but ComfyParamsError', async () => {
    const { ComfyParamsError } = await import('../../src/media/comfy');
    let state = 777;
    const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31) % n);
    const odd: unknown[] = [null, true, -1, 0, 1e308, '', 'x', [], {}, ['13', 0], ['25', 9], ['nope', 0], [1, 2, 3], '__proto__', 2 ** 64];
    for (const file of ['flux_dev_example', 'sdxlturbo_example']) {
      for (let i = 0; i < 1000; i++) {
        const graph = graphOf(file) as Record<string, unknown>;
        const ids = Object.keys(graph);
        const node = graph[ids[random(ids.length)]] as Record<string, unknown>;
        const inputs = node.inputs as Record<string, unknown>;
        const keys = Object.keys(inputs);
        if (keys.length === 0) continue;
        inputs[keys[random(keys.length)]] = odd[random(odd.length)];
        try {
          readComfyPrompt(JSON.stringify(graph));
        } catch (e) {
          expect(e).toBeInstanceOf(ComfyParamsError);
        }
      }
    }
  });
});
