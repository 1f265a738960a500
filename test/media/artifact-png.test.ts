// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { parseInfotext, toGenerationParams } from '../../src/media/infotext';
import { textChunks } from '../../src/media/artifact-png';
import { refinerArtifact, textToImageArtifact, upscalerArtifact } from '../helpers/stage-metadata';

describe('textChunks (what a PNG of ours carries)', () => {
  it('a refined image: A1111 img2img infotext with its final size, denoising strength and hires fix', () => {
    const metadata = refinerArtifact({
      model: 'tiny-sd15',
      strength: 0.45,
      scheduler: 'dpmpp_2m karras',
      output_size: [96, 128],
      high_res_fix: { scale: 2, upscaler: 'latent', from: [48, 64], to: [96, 128] },
      parameters: { prompt: 'a red fox, snow', negative_prompt: 'blurry', steps: 12, guidance_scale: 6.5, seed: 77, width: 48, height: 64, strength: 0.45 },
    });
    const chunks = textChunks(metadata);
    expect(chunks.map((c) => c.keyword)).toEqual(['parameters', 'media-lab']);
    const parsed = parseInfotext(chunks[0].text);
    expect(parsed.prompt).toBe('a red fox, snow');
    expect(parsed.negative_prompt).toBe('blurry');
    expect(parsed.params).toMatchObject({
      Steps: '12',
      Sampler: 'DPM++ 2M',
      'Schedule type': 'Karras',
      'CFG scale': '6.5',
      Seed: '77',
      Size: '96x128',
      Model: 'tiny-sd15',
      'Denoising strength': '0.45',
      'Hires upscale': '2',
      'Hires upscaler': 'Latent',
    });
    const params = toGenerationParams(parsed);
    expect(params).toMatchObject({ scheduler: 'dpmpp_2m', karras: true, width: 96, height: 128, strength: 0.45 });
    expect(JSON.parse(chunks[1].text)).toEqual(metadata);
  });

  it('a generated image has no denoising strength; an upscaled one only our JSON', () => {
    const generated = textChunks(textToImageArtifact({ model: 'm', prompt: 'p', steps: 4, guidance_scale: 7, scheduler: 'euler_a', seed: 3, width: 64, height: 64 }));
    const parsed = parseInfotext(generated[0].text);
    expect(parsed.params).toMatchObject({ Steps: '4', Sampler: 'Euler a', Seed: '3', Size: '64x64', Model: 'm' });
    expect(parsed.params['Denoising strength']).toBeUndefined();
    expect(textChunks(upscalerArtifact({ upscale_factor: 2 })).map((c) => c.keyword)).toEqual(['media-lab']);
  });

  it("a LoRA's and an embedding's short hashes are written as A1111 writes them, and read back", () => {
    const metadata = {
      ...textToImageArtifact({ model: 'm', prompt: 'a knight <lora:add_detail:0.6>, easynegative', steps: 4, guidance_scale: 7, scheduler: 'euler_a', seed: 3, width: 64, height: 64 }),
      lora_hashes: { add_detail: '7c6bad76eb54' },
      ti_hashes: { easynegative: 'c74b4e810b03' },
    };
    const parsed = parseInfotext(textChunks(metadata)[0].text);
    expect(parsed.prompt).toBe('a knight <lora:add_detail:0.6>, easynegative');
    expect(parsed.params['Lora hashes']).toBe('add_detail: 7c6bad76eb54');
    expect(parsed.params['TI hashes']).toBe('easynegative: c74b4e810b03');
    expect(toGenerationParams(parsed)).toMatchObject({ lora_hashes: { add_detail: '7c6bad76eb54' }, ti_hashes: { easynegative: 'c74b4e810b03' } });
    // None used: no keys.
    const plain = parseInfotext(textChunks(textToImageArtifact({ model: 'm', prompt: 'p', steps: 4, guidance_scale: 7, scheduler: 'euler_a', seed: 3, width: 64, height: 64 }))[0].text);
    expect(Object.keys(plain.params)).not.toContain('Lora hashes');
  });

  it("a variation seed is written as A1111's Variation seed / Variation seed strength and read back", () => {
    const base = textToImageArtifact({ model: 'm', prompt: 'p', steps: 4, guidance_scale: 7, scheduler: 'euler', seed: 3, width: 64, height: 64 });
    const parsed = parseInfotext(textChunks({ ...base, subseed: 77, subseed_strength: 0.25 })[0].text);
    expect(parsed.params).toMatchObject({ Seed: '3', 'Variation seed': '77', 'Variation seed strength': '0.25' });
    expect(toGenerationParams(parsed)).toMatchObject({ seed: 3, subseed: 77, subseed_strength: 0.25 });
    // Strength 0 (or none): no keys, as A1111 leaves them out.
    expect(parseInfotext(textChunks({ ...base, subseed: 77, subseed_strength: 0 })[0].text).params['Variation seed']).toBeUndefined();
  });
});
