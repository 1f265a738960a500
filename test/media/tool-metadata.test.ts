// @vitest-environment node
/**
 * Fooocus / RuinedFooocus, InvokeAI and NovelAI readers on real metadata (sd-parsers' test images)
 * and on files written from the documented formats: test/fixtures/png-metadata/README.md.
 */
import { describe, expect, it } from 'vitest';
import { fooocusFlavour, readFooocusParameters } from '../../src/media/fooocus';
import { readInvokeAiDream, readInvokeAiMetadata, readInvokeAiSdMetadata } from '../../src/media/invokeai';
import { isNovelAi, readNovelAi } from '../../src/media/novelai';
import { largeIntegerLiterals, ToolMetadataError } from '../../src/media/tool-metadata';
import { fixtureChunks, fixtureText } from './png-metadata-fixtures';

const INVOKE2_PROMPT =
  'professional full body photo of young woman, hyper long brunette hair, elegant hair, wearing a bikini top and asymmetric short skirt, curvy body, long legs, (imperfect skin), detailed skin, intense freckles, super long eye lashes, at night, outside, city background, 8k ultra detailed, realistic, high quality, film grain, low contrast';

describe('largeIntegerLiterals', () => {
  it('keeps the digits of integers past 2^53 - 1, outside strings only', () => {
    const map = largeIntegerLiterals('{"a": 18446744073709551615, "b": "99999999999999999999", "c": 9007199254740991, "d": "\\"", "e": 12345678901234567890}');
    expect([...map.values()]).toEqual(['18446744073709551615', '12345678901234567890']);
    expect(map.get(18446744073709551615)).toBe('18446744073709551615');
  });
});

describe('Fooocus', () => {
  const text = fixtureText('fooocus/fooocus1.chunks.json', 'parameters');

  it('is told apart from A1111 infotext and other JSON', () => {
    expect(fooocusFlavour(text)).toBe('fooocus');
    expect(fooocusFlavour(fixtureText('ruinedfooocus/documented.chunks.json', 'parameters'))).toBe('ruinedfooocus');
    expect(fooocusFlavour('a cat\nSteps: 20, Sampler: Euler a, Seed: 1')).toBeUndefined();
    expect(fooocusFlavour('{"prompt": "x"}')).toBeUndefined();
    expect(fooocusFlavour('{not json')).toBeUndefined();
  });

  it('reads the prompt as typed, steps, CFG, size from resolution and the base model; names styles, the seed past 2^53 and the rest', () => {
    const params = readFooocusParameters(text);
    expect(params).toEqual({
      prompt: 'a smiling goldfish',
      negative_prompt: '',
      steps: 30,
      guidance_scale: 4,
      width: 768,
      height: 1280,
      model: 'juggernautXL_v8Rundiffusion',
      extra: { seed: '6952411511246973023', sampler: 'dpmpp_2m_sde_gpu' },
      warnings: [
        'seed 6952411511246973023 is outside the range this app can reproduce (0 to 2^53 - 1)',
        'sampler "dpmpp_2m_sde_gpu" is not one this app has (euler, euler_ancestral, ddim, dpmpp_2m, lcm); the sampler is left as it is',
        'Fooocus styles "Fooocus V2", "Fooocus Enhance", "Fooocus Sharp" added text to the prompt; the prompt is read as typed, without them',
        'sharpness 2 is not a setting this app has',
        'adm_guidance "(1.5, 0.8, 0.3)" is not a setting this app has',
        'clip_skip 2 is not a setting this app has',
      ],
    });
  });

  it('a seed that fits, a sampler it has, LoRAs, a refiner and a LoRA-based performance', () => {
    const obj = JSON.parse(text) as Record<string, unknown>;
    Object.assign(obj, {
      seed: '123456',
      sampler: 'dpmpp_2m',
      scheduler: 'karras',
      loras: [['sd_xl_offset_example-lora_1.0.safetensors', 0.1, 'ab12cd34ef']],
      refiner_model: 'sd_xl_refiner_1.0.safetensors',
      refiner_switch: 0.8,
      performance: 'Lightning',
    });
    const params = readFooocusParameters(JSON.stringify(obj));
    expect(params).toMatchObject({ seed: 123456, scheduler: 'dpmpp_2m', karras: true });
    expect(params.warnings).toEqual(
      expect.arrayContaining([
        'LoRA "sd_xl_offset_example-lora_1.0.safetensors" (weight 0.1) is not applied',
        'refiner "sd_xl_refiner_1.0.safetensors" (switch at 0.8) is not applied',
        'performance "Lightning" applies its own LoRA and sampler in Fooocus, which are not applied here',
      ]),
    );
  });

  it('RuinedFooocus (documented format): its own keys, LoRAs and a 2^64 - 1 seed quoted as written', () => {
    const params = readFooocusParameters(fixtureText('ruinedfooocus/documented.chunks.json', 'parameters'));
    expect(params).toEqual({
      prompt: 'a lighthouse on a cliff at dusk, (oil painting:1.2)',
      negative_prompt: 'blurry, text',
      steps: 30,
      guidance_scale: 6.5,
      scheduler: 'dpmpp_2m',
      karras: true,
      width: 1152,
      height: 896,
      model: 'sd_xl_base_1.0_0.9vae.safetensors',
      extra: { seed: '18446744073709551615' },
      warnings: [
        'seed 18446744073709551615 is outside the range this app can reproduce (0 to 2^53 - 1)',
        'LoRA "sd_xl_offset_example-lora_1.0.safetensors" (weight 0.5) is not applied',
        'RuinedFooocus styles "Style: Pencil sketch" added text to the prompt; the prompt is read as typed, without them',
      ],
    });
  });

  it('refuses JSON that is neither', () => {
    expect(() => readFooocusParameters('{"a": 1}')).toThrow(ToolMetadataError);
    expect(() => readFooocusParameters('{"a": ')).toThrow(/not valid JSON/);
    expect(() => readFooocusParameters(' '.repeat(1024 * 1024 + 1))).toThrow(/the most accepted is 1048576/);
  });
});

describe('InvokeAI', () => {
  it('invokeai_metadata (3.x): every field, and the IP-Adapter and VAE named', () => {
    const params = readInvokeAiMetadata(fixtureText('invokeai/invokeai_metadata.chunks.json', 'invokeai_metadata'));
    expect(params).toEqual({
      prompt: 'digital artwork, oil painting. painterly brushstrokes, holidays,',
      negative_prompt: 'grainy+, photo, oversaturated, overexposed, blurry, compressed jpg+, noisy++, unfocused , black and white',
      seed: 3293022630,
      steps: 35,
      guidance_scale: 8,
      scheduler: 'euler',
      karras: false,
      width: 1024,
      height: 1024,
      model: 'juggernautXL',
      extra: {},
      warnings: ['IP-Adapter "ip-adapter-plus_sdxl_vit-h" (weight 0.45) is not applied', 'VAE "VAEFix" is not applied'],
    });
  });

  it('invokeai_metadata: Karras schedulers, LoRAs (3.x and 4.x+ shapes), ControlNets, img2img, a scheduler it lacks', () => {
    const base = JSON.parse(fixtureText('invokeai/invokeai_metadata.chunks.json', 'invokeai_metadata')) as Record<string, unknown>;
    const params = readInvokeAiMetadata(
      JSON.stringify({
        ...base,
        scheduler: 'dpmpp_2m_k',
        model: { key: 'abc', hash: 'blake3:00', name: 'sdxl-base', base: 'sdxl', type: 'main' },
        loras: [{ lora: { model_name: 'detail-tweaker', base_model: 'sd-1' }, weight: 0.75 }, { model: { key: 'k', name: 'pixel-art' }, weight: 1 }],
        controlnets: [{ control_model: { model_name: 'canny-sdxl' }, control_weight: 0.6 }],
        ipAdapters: [],
        generation_mode: 'sdxl_img2img',
        strength: 0.55,
      }),
    );
    expect(params).toMatchObject({ scheduler: 'dpmpp_2m', karras: true, model: 'sdxl-base', strength: 0.55 });
    expect(params.warnings).toEqual([
      'LoRA "detail-tweaker" (weight 0.75) is not applied',
      'LoRA "pixel-art" (weight 1) is not applied',
      'ControlNet "canny-sdxl" (weight 0.6) is not applied',
      'generation mode "sdxl_img2img" starts from an input image, which is not in the file',
      'VAE "VAEFix" is not applied',
    ]);
    const odd = readInvokeAiMetadata(JSON.stringify({ ...base, scheduler: 'dpmpp_2m_sde_k' }));
    expect(odd.scheduler).toBeUndefined();
    expect(odd.warnings[0]).toMatch(/^sampler "dpmpp_2m_sde_k" is not one this app has/);
  });

  it('sd-metadata (2.3): the [bracketed] negative moved as written, model weights, post-processing named', () => {
    const params = readInvokeAiSdMetadata(fixtureText('invokeai/sd-metadata.chunks.json', 'sd-metadata'));
    expect(params).toEqual({
      prompt: INVOKE2_PROMPT,
      negative_prompt: 'rendering, glowing eyes, skinny',
      seed: 2980747362,
      steps: 50,
      guidance_scale: 5,
      width: 512,
      height: 768,
      model: 'deliberateForInvoke_v08',
      extra: { sampler: 'k_lms' },
      warnings: [
        'the [bracketed] text of the InvokeAI prompt is its negative prompt, and was moved there',
        'sampler "k_lms" is not one this app has (euler, euler a, ddim, dpm++ 2m, lcm); the sampler is left as it is',
        'post-processing "codeformer" (strength 0.9, fidelity 0.75) is not applied',
        'post-processing "esrgan" (scale 4, strength 0.95) is not applied',
      ],
    });
  });

  it('Dream (2.x command line): the same image read from its switches, face restoration and upscaling named', () => {
    const params = readInvokeAiDream(fixtureText('invokeai/dream.chunks.json', 'Dream'));
    expect(params).toEqual({
      prompt: INVOKE2_PROMPT,
      negative_prompt: 'rendering, glowing eyes, skinny',
      seed: 2980747362,
      steps: 50,
      guidance_scale: 5,
      width: 512,
      height: 768,
      extra: { sampler: 'k_lms' },
      warnings: [
        'the [bracketed] text of the InvokeAI prompt is its negative prompt, and was moved there',
        'sampler "k_lms" is not one this app has (euler, euler a, ddim, dpm++ 2m, lcm); the sampler is left as it is',
        '-G 0.9 (GFPGAN face restoration strength) is not applied',
        '-cf 0.75 (CodeFormer fidelity) is not applied',
        '-U 4 0.95 (upscaling (factor, strength)) is not applied',
      ],
    });
  });

  it('Dream: samplers it has, img2img, a prompt without brackets kept exactly, escaped quotes', () => {
    const params = readInvokeAiDream('"a \\"quoted\\" cat " -s 20 -S 7 -W 512 -H 512 -C 7.5 -A k_euler_a -I photo.png -f 0.6');
    expect(params).toMatchObject({ prompt: 'a "quoted" cat ', seed: 7, steps: 20, guidance_scale: 7.5, scheduler: 'euler_a', karras: false, strength: 0.6 });
    expect(params.warnings).toEqual(['-I photo.png (init image (img2img)) is not applied']);
    expect(() => readInvokeAiDream('no quotes -s 5')).toThrow(/does not start with a quoted prompt/);
  });
});

describe('NovelAI', () => {
  const chunkMap = (file: string) => {
    const chunks = fixtureChunks(file);
    const get = (k: string) => chunks.find((c) => c.keyword === k)?.text;
    return { comment: get('Comment')!, description: get('Description'), software: get('Software'), source: get('Source') };
  };

  it('2022 PNG: prompt from Description (double space kept), uc, scale, k_euler_ancestral, model from Source', () => {
    const chunks = chunkMap('novelai/novelai1.chunks.json');
    expect(isNovelAi(chunks)).toBe(true);
    const params = readNovelAi(chunks);
    expect(params).toMatchObject({
      prompt: 'masterpiece, best quality,  cat, space, icon',
      seed: 2253955223,
      steps: 50,
      guidance_scale: 10,
      scheduler: 'euler_a',
      karras: false,
      model: 'Stable Diffusion 1D44365E',
      warnings: [],
    });
    expect(params.negative_prompt).toMatch(/^lowres, bad anatomy, bad hands, text, error, missing fingers/);
    // strength / noise are written for every NovelAI image; without an img2img request they are not one.
    expect(params.strength).toBeUndefined();
  });

  it('V3 (documented format): size, Karras from noise_schedule, {} emphasis and SMEA named', () => {
    const params = readNovelAi(chunkMap('novelai/documented-v3.chunks.json'));
    expect(params).toEqual({
      prompt: '1girl, {{silver hair}}, [[smile]], night sky, stars',
      negative_prompt: 'lowres, bad anatomy, bad hands, text, error',
      seed: 1234567890,
      steps: 28,
      guidance_scale: 5,
      width: 832,
      height: 1216,
      model: 'NovelAI Diffusion V3 7BCCAA2C',
      scheduler: 'dpmpp_2m',
      karras: true,
      extra: {},
      warnings: [
        "NovelAI's {…} and […] emphasis weighs words differently from this app's (…) syntax; the prompts are kept as written",
        'SMEA sampling is not a setting this app has',
      ],
    });
  });

  it('img2img requests and samplers it lacks are named; other Comment text is not NovelAI', () => {
    const chunks = chunkMap('novelai/documented-v3.chunks.json');
    const comment = JSON.parse(chunks.comment) as Record<string, unknown>;
    Object.assign(comment, { request_type: 'Img2ImgRequest', strength: 0.7, sampler: 'k_dpmpp_2s_ancestral', sm: false });
    const params = readNovelAi({ ...chunks, comment: JSON.stringify(comment) });
    expect(params).toMatchObject({ strength: 0.7 });
    expect(params.scheduler).toBeUndefined();
    expect(params.warnings).toEqual(
      expect.arrayContaining([
        'sampler "k_dpmpp_2s_ancestral" is not one this app has (k_euler, k_euler_ancestral, ddim, k_dpmpp_2m); the sampler is left as it is',
        'request type "Img2ImgRequest" starts from an input image, which is not in the file',
      ]),
    );
    expect(isNovelAi({ comment: 'made with GIMP', description: 'a photo' })).toBe(false);
    expect(isNovelAi({ comment: '{"uc": "x", "scale": 5}', description: 'a cat' })).toBe(true);
  });
});

describe('odd values in the JSON readers', () => {
  it('are named or refused with ToolMetadataError, never thrown otherwise', () => {
    let state = 4242;
    const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31) % n);
    const odd: unknown[] = [null, true, -1, 0, 1.5, 1e308, '', 'x', '(1, 2)', [], [[1, 2]], {}, { name: 5 }, ['a', 'b'], 2 ** 64, '__proto__'];
    const cases: Array<[string, (text: string) => unknown]> = [
      [fixtureText('fooocus/fooocus1.chunks.json', 'parameters'), readFooocusParameters],
      [fixtureText('ruinedfooocus/documented.chunks.json', 'parameters'), readFooocusParameters],
      [fixtureText('invokeai/invokeai_metadata.chunks.json', 'invokeai_metadata'), readInvokeAiMetadata],
      [fixtureText('invokeai/sd-metadata.chunks.json', 'sd-metadata'), readInvokeAiSdMetadata],
      [fixtureText('novelai/documented-v3.chunks.json', 'Comment'), (comment) => readNovelAi({ comment, description: 'x' })],
    ];
    for (const [text, read] of cases) {
      for (let i = 0; i < 400; i++) {
        const obj = JSON.parse(text) as Record<string, unknown>;
        const target = (obj.image as Record<string, unknown> | undefined) ?? obj;
        const keys = Object.keys(target);
        target[keys[random(keys.length)]] = odd[random(odd.length)];
        try {
          read(JSON.stringify(obj));
        } catch (e) {
          expect(e).toBeInstanceOf(ToolMetadataError);
        }
      }
    }
  });
});
