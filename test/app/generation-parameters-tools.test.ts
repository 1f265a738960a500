// @vitest-environment node
/**
 * readPngParameters on PNGs of other tools: Fooocus, RuinedFooocus, ComfyUI custom samplers,
 * InvokeAI (3 forms) and NovelAI. The text chunks are real ones (or documented-format ones) from
 * test/fixtures/png-metadata (README there), written into a PNG and read back from its bytes.
 */
import { describe, expect, it } from 'vitest';
import { fromPngTextChunks, readPngParameters, SOURCE_LABELS } from '../../src/app/lib/generation-parameters';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { fixtureChunks } from '../media/png-metadata-fixtures';

const pngWith = (chunks: ReadonlyArray<{ keyword: string; text: string }>) =>
  addPngTextChunks(encodePng(createRgbaImage(4, 4, new Uint8ClampedArray(64).fill(200))), chunks.map(({ keyword, text }) => ({ keyword, text })));
const readFixture = (file: string) => readPngParameters(pngWith(fixtureChunks(file)));

describe('readPngParameters: other tools', () => {
  it('Fooocus: the JSON parameters chunk is read as Fooocus, not as A1111 text', () => {
    const loaded = readFixture('fooocus/fooocus1.chunks.json');
    expect(loaded.source).toBe('fooocus');
    expect(SOURCE_LABELS[loaded.source]).toBe('Fooocus');
    expect(loaded.parameters).toEqual({
      prompt: 'a smiling goldfish',
      negative_prompt: '',
      model: 'juggernautXL_v8Rundiffusion',
      steps: 30,
      guidance_scale: 4,
      width: 768,
      height: 1280,
      hires_fix: null,
      refiner: null,
      detailer: null,
      upscaler: null,
    });
    // The 19-digit seed is quoted as the file writes it, and the sampler it lacks left unset.
    expect(loaded.unmapped).toContain('seed 6952411511246973023 is outside the range this app can reproduce (0 to 2^53 - 1)');
    expect(loaded.unmapped.join('\n')).toMatch(/sampler "dpmpp_2m_sde_gpu" is not one this app has/);
    expect(loaded.unmapped.join('\n')).not.toMatch(/A1111/);
  });

  it('RuinedFooocus: LoRA named, Karras kept with DPM++ 2M', () => {
    const loaded = readFixture('ruinedfooocus/documented.chunks.json');
    expect(loaded.source).toBe('fooocus');
    expect(loaded.parameters).toMatchObject({ prompt: 'a lighthouse on a cliff at dusk, (oil painting:1.2)', scheduler: 'dpmpp_2m', karras: true, width: 1152, height: 896 });
    expect(loaded.parameters.seed).toBeUndefined();
    expect(loaded.unmapped).toContain('LoRA "sd_xl_offset_example-lora_1.0.safetensors" (weight 0.5) is not applied');
  });

  it('A1111 infotext in the parameters chunk is still A1111', () => {
    const loaded = readPngParameters(pngWith([{ keyword: 'parameters', text: 'a fox\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512' }]));
    expect(loaded.source).toBe('a1111');
    expect(loaded.parameters).toMatchObject({ prompt: 'a fox', seed: 1 });
  });

  it('ComfyUI SamplerCustomAdvanced (Flux) is read, not refused', () => {
    const loaded = readFixture('comfyui/flux_dev_example.chunks.json');
    expect(loaded.source).toBe('comfyui');
    expect(loaded.parameters).toMatchObject({ seed: 219670278747233, steps: 20, guidance_scale: 1, scheduler: 'euler', width: 1024, height: 1024, model: 'flux1-dev.safetensors' });
    expect(loaded.unmapped).toContain('Flux guidance 3.5 (FluxGuidance node "26") is not a setting this app has');
  });

  it('ComfyUI LoRAs, hypernetworks, ControlNets and img2img reach the notes', () => {
    expect(readFixture('comfyui/lora_multiple.chunks.json').unmapped).toHaveLength(2);
    expect(readFixture('comfyui/hypernetwork_example.chunks.json').unmapped).toContain(
      'hypernetwork "dantionMarbleStatues_10.pt" (HypernetworkLoader node "10", strength 1) is not applied',
    );
    expect(readFixture('comfyui/flux_controlnet_example.chunks.json').unmapped[0]).toMatch(/^ControlNet "instantx_flux_canny.safetensors"/);
    const img2img = readFixture('comfyui/img2img.chunks.json');
    expect(img2img.unmapped).toEqual([
      'img2img: sampling starts from image "example.png" encoded by VAEEncode node "12", which is not loaded here',
      'denoising strength 0.8700000000000001 is for img2img, which the Generate view does not do',
    ]);
  });

  it('InvokeAI invokeai_metadata', () => {
    const loaded = readFixture('invokeai/invokeai_metadata.chunks.json');
    expect(loaded.source).toBe('invokeai');
    expect(loaded.parameters).toMatchObject({ seed: 3293022630, steps: 35, guidance_scale: 8, scheduler: 'euler', width: 1024, height: 1024, model: 'juggernautXL' });
    expect(loaded.unmapped).toEqual(['IP-Adapter "ip-adapter-plus_sdxl_vit-h" (weight 0.45) is not applied', 'VAE "VAEFix" is not applied']);
  });

  it('InvokeAI 2.3: sd-metadata is preferred to the Dream line beside it (it has the model)', () => {
    const loaded = readFixture('invokeai/sd-metadata.chunks.json');
    expect(loaded.source).toBe('invokeai');
    expect(loaded.parameters).toMatchObject({ model: 'deliberateForInvoke_v08', negative_prompt: 'rendering, glowing eyes, skinny', seed: 2980747362 });
    expect(loaded.parameters.scheduler).toBeUndefined();
    const dream = readFixture('invokeai/dream.chunks.json');
    expect(dream.parameters).toMatchObject({ steps: 50, width: 512, height: 768, guidance_scale: 5 });
    expect(dream.parameters.model).toBeUndefined();
  });

  it('NovelAI: Comment with Description and Software', () => {
    const loaded = readFixture('novelai/novelai1.chunks.json');
    expect(loaded.source).toBe('novelai');
    expect(loaded.parameters).toMatchObject({ prompt: 'masterpiece, best quality,  cat, space, icon', seed: 2253955223, steps: 50, guidance_scale: 10, scheduler: 'euler_a' });
    expect(loaded.unmapped).toEqual([]);
    const v3 = readFixture('novelai/documented-v3.chunks.json');
    expect(v3.parameters).toMatchObject({ width: 832, height: 1216, scheduler: 'dpmpp_2m', karras: true });
  });

  it('a broken reader falls back to the next chunk, with the failure noted', () => {
    const loaded = fromPngTextChunks([
      { keyword: 'invokeai_metadata', text: '{"positive_prompt": ', kind: 'tEXt' },
      ...fixtureChunks('invokeai/dream.chunks.json'),
    ]);
    expect(loaded.parameters.seed).toBe(2980747362);
    expect(loaded.unmapped[0]).toMatch(/^the InvokeAI parameters could not be read: could not read InvokeAI parameters: the metadata is not valid JSON/);
  });

  it('a plain Comment is not NovelAI: still no parameters', () => {
    expect(() => fromPngTextChunks([{ keyword: 'Comment', text: 'hello', kind: 'tEXt' }])).toThrow(/holds no generation parameters/);
  });
});
