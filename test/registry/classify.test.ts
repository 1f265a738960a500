// @vitest-environment node
/**
 * Component roles from ONNX signatures (the tiny diffusion factory's exports, the bundled
 * upscalers, hand-made detector signatures), declared-type contradictions and the size limits of
 * onnxruntime-web. Family defaults: family.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ModelType, TensorSignature } from '../../src/protocol/models';
import { checkDeclaredType, classifyOnnx, ModelTypeMismatchError, type Classification, type Role, type SignatureInfo } from '../../src/registry/classify';
import { checkLoadable, MAX_BUFFER_BYTES, ModelTooLargeError } from '../../src/registry/limits';
import { inspectOnnx, type OnnxInfo } from '../../src/registry/onnx-inspect';
import { presetFiles, type PresetName } from '../fixtures/tiny-diffusion/factory';

const MODELS = fileURLToPath(new URL('../../public/models', import.meta.url));

const inspectBytes = (bytes: Uint8Array) => inspectOnnx(new Blob([bytes as Uint8Array<ArrayBuffer>]));
const t = (name: string, type: string, shape: Array<number | string>): TensorSignature => ({ name, type, shape });
const sig = (inputs: TensorSignature[], outputs: TensorSignature[]): SignatureInfo => ({ inputs, outputs });

async function classifyPreset(preset: PresetName): Promise<Record<string, Classification>> {
  const out: Record<string, Classification> = {};
  for (const [path, bytes] of presetFiles(preset)) {
    if (path.endsWith('.onnx')) out[path.split('/')[0]] = classifyOnnx(await inspectBytes(bytes));
  }
  return out;
}

describe('classifyOnnx: Stable Diffusion components from the tiny factory', () => {
  it('sd15-fp32-dynamic (optimum-style, dynamic dims, 8-channel VAE encoder)', async () => {
    const c = await classifyPreset('sd15-fp32-dynamic');
    expect(c.text_encoder).toMatchObject({ role: 'text_encoder', details: { hidden: 768, sequenceLength: null, idsType: 'int32', output: 'last_hidden_state' } });
    expect(c.unet).toMatchObject({
      role: 'unet',
      details: { inChannels: 4, inpainting: false, timestep: { type: 'int64', shape: ['steps'] }, hidden: 768, latentSize: null, batch: null, extraInputs: [] },
    });
    expect(c.unet.unsupported).toBeUndefined();
    expect(c.vae_decoder).toMatchObject({ role: 'vae_decoder', details: { latentChannels: 4, outChannels: 3, latentSize: null } });
    expect(c.vae_encoder).toMatchObject({ role: 'vae_encoder', details: { outChannels: 8, latentParameters: true, output: 'latent_parameters' } });
  });

  it('sd15-fp16-static77 (static shapes, float16 timestep, batch-2 UNet)', async () => {
    const c = await classifyPreset('sd15-fp16-static77');
    expect(c.text_encoder).toMatchObject({ role: 'text_encoder', details: { hidden: 768, sequenceLength: 77, idsType: 'int64' } });
    expect(c.unet).toMatchObject({ role: 'unet', details: { inChannels: 4, timestep: { type: 'float16', shape: [2] }, latentSize: [64, 64], batch: 2, hidden: 768 } });
    expect(c.vae_decoder).toMatchObject({ role: 'vae_decoder', details: { latentSize: [64, 64], batch: 1 } });
    expect(c.vae_encoder).toMatchObject({ role: 'vae_encoder', details: { outChannels: 4, latentParameters: false, imageSize: [512, 512] } });
  });

  it('inpaint-9ch: a 9-channel UNet with a scalar float timestep', async () => {
    const c = await classifyPreset('inpaint-9ch');
    expect(c.unet).toMatchObject({ role: 'unet', details: { inChannels: 9, inpainting: true, timestep: { type: 'float32', shape: [] } } });
    expect(c.unet.description).toMatch(/inpainting/);
  });

  it('sd-turbo: hidden 1024, dynamic channel axes', async () => {
    const c = await classifyPreset('sd-turbo');
    expect(Object.keys(c).sort()).toEqual(['text_encoder', 'unet', 'vae_decoder']);
    expect(c.text_encoder).toMatchObject({ role: 'text_encoder', details: { hidden: 1024 } });
    expect(c.unet).toMatchObject({ role: 'unet', details: { inChannels: null, inpainting: false, hidden: 1024 } });
    expect(c.unet.unsupported).toBeUndefined();
    expect(c.vae_decoder).toMatchObject({ role: 'vae_decoder', details: { latentChannels: null, outChannels: null } });
  });

  it('a VAE encoder with dynamic channels is known by its latent_* output', () => {
    const c = classifyOnnx(sig([t('sample', 'float32', ['b', 'num_channels', 'h', 'w'])], [t('latent_sample', 'float32', ['b', 'num_channels_latent', 'hl', 'wl'])]));
    expect(c).toMatchObject({ role: 'vae_encoder', details: { outChannels: null, latentParameters: false } });
  });

  it('UNets the studio cannot run are still named, with the reason', () => {
    const base = [t('timestep', 'int64', [1]), t('encoder_hidden_states', 'float16', [2, 77, 768])];
    const pix2pix = classifyOnnx(sig([t('sample', 'float16', [2, 8, 64, 64]), ...base], [t('out_sample', 'float16', [2, 4, 64, 64])]));
    expect(pix2pix.role).toBe('unet');
    expect(pix2pix.unsupported).toMatch(/8 input channels/);
    const sdxl = classifyOnnx(sig([t('sample', 'float16', ['b', 4, 'h', 'w']), ...base, t('text_embeds', 'float16', ['b', 1280]), t('time_ids', 'float16', ['b', 6])], [t('out_sample', 'float16', ['b', 4, 'h', 'w'])]));
    expect(sdxl).toMatchObject({ role: 'unet', details: { extraInputs: ['text_embeds', 'time_ids'] } });
    expect(sdxl.unsupported).toMatch(/text_embeds, time_ids/);
  });
});

describe('classifyOnnx: upscalers', () => {
  for (const scale of [2, 3, 4, 8]) {
    it(`bundled esrgan-slim-x${scale}: an upscaler whose scale the probe decides`, async () => {
      const info = await inspectBytes(new Uint8Array(readFileSync(join(MODELS, `esrgan-slim-x${scale}.onnx`))));
      expect(classifyOnnx(info)).toMatchObject({ role: 'upscaler', details: { input: 'input', output: 'output', channels: 3, layout: 'NCHW', scale: null } });
    });
  }

  it('scale from static shapes, NCHW and NHWC', () => {
    expect(classifyOnnx(sig([t('x', 'float32', [1, 3, 64, 64])], [t('y', 'float32', [1, 3, 256, 256])]))).toMatchObject({ role: 'upscaler', details: { scale: 4, layout: 'NCHW' } });
    expect(classifyOnnx(sig([t('x', 'float16', [1, 48, 48, 3])], [t('y', 'float16', [1, 96, 96, 3])]))).toMatchObject({ role: 'upscaler', details: { scale: 2, layout: 'NHWC' } });
    expect(classifyOnnx(sig([t('x', 'float32', [1, 1, 32, 32])], [t('y', 'float32', [1, 1, 'h', 'w'])]))).toMatchObject({ role: 'upscaler', details: { scale: null, channels: 1 } });
  });

  it('image → image with no integer scale, or a channel change, is not an upscaler', () => {
    expect(classifyOnnx(sig([t('x', 'float32', [1, 3, 64, 64])], [t('y', 'float32', [1, 3, 100, 100])])).role).toBe('unknown');
    expect(classifyOnnx(sig([t('x', 'float32', [1, 3, 64, 64])], [t('y', 'float32', [1, 3, 32, 32])])).role).toBe('unknown');
    expect(classifyOnnx(sig([t('image', 'float32', [1, 3, 'h', 'w'])], [t('mask', 'float32', [1, 1, 'h', 'w'])])).role).toBe('unknown');
  });
});

describe('classifyOnnx: detectors', () => {
  it('BlazeFace: regressors [1, 896, 16] + classificators [1, 896, 1], NHWC input', () => {
    const c = classifyOnnx(sig([t('input', 'float32', [1, 128, 128, 3])], [t('regressors', 'float32', [1, 896, 16]), t('classificators', 'float32', [1, 896, 1])]));
    expect(c).toMatchObject({ role: 'detector', details: { style: 'blazeface', layout: 'NHWC', inputSize: [128, 128], outputs: ['regressors', 'classificators'] } });
  });

  it('BlazeFace-shaped outputs with other names (palm detection: 18 = box + 7 keypoints)', () => {
    const c = classifyOnnx(sig([t('input_1', 'float32', [1, 3, 192, 192])], [t('Identity', 'float32', [1, 2016, 18]), t('Identity_1', 'float32', [1, 2016, 1])]));
    expect(c).toMatchObject({ role: 'detector', details: { style: 'blazeface', layout: 'NCHW' } });
  });

  it('YOLO: [1, 84, 8400]', () => {
    const c = classifyOnnx(sig([t('images', 'float32', [1, 3, 640, 640])], [t('output0', 'float32', [1, 84, 8400])]));
    expect(c).toMatchObject({ role: 'detector', details: { style: 'yolo', inputSize: [640, 640] } });
  });

  it('named boxes and scores, uint8 input with dynamic size', () => {
    const c = classifyOnnx(
      sig([t('input_tensor', 'uint8', [1, 'h', 'w', 3])], [t('detection_boxes', 'float32', [1, 100, 4]), t('detection_scores', 'float32', [1, 100]), t('num_detections', 'float32', [1])]),
    );
    expect(c).toMatchObject({ role: 'detector', details: { style: 'generic', inputSize: null, inputType: 'uint8' } });
  });
});

describe('classifyOnnx: unknown', () => {
  it('the safety checker (two image inputs) and a classifier are unknown, described by signature', () => {
    const safety = classifyOnnx(
      sig([t('clip_input', 'float32', ['batch', 3, 224, 224]), t('images', 'float32', ['batch', 'height', 'width', 3])], [t('out_images', 'float32', ['batch', 'height', 'width', 3]), t('has_nsfw_concepts', 'bool', ['batch'])]),
    );
    expect(safety.role).toBe('unknown');
    expect(safety.description).toBe(
      'not a model the studio recognises (inputs: clip_input float32 [batch, 3, 224, 224], images float32 [batch, height, width, 3]; outputs: out_images float32 [batch, height, width, 3], has_nsfw_concepts bool [batch])',
    );
    const classifier = classifyOnnx(sig([t('pixel_values', 'float32', [1, 3, 224, 224])], [t('logits', 'float32', [1, 1000])]));
    expect(classifier.role).toBe('unknown');
    expect(classifyOnnx(sig([], [])).description).toMatch(/inputs: none; outputs: none/);
  });
});

describe('checkDeclaredType', () => {
  const cases: Array<[Role, ModelType, RegExp | null]> = [
    ['unet', 'checkpoint', null],
    ['vae_decoder', 'checkpoint', null],
    ['upscaler', 'upscaler', null],
    ['detector', 'detector', null],
    ['unet', 'upscaler', /^this file is a Stable Diffusion UNet, not an upscaler; import the whole model folder as a checkpoint$/],
    ['vae_decoder', 'upscaler', /^this file is a VAE decoder, not an upscaler; import the whole model folder as a checkpoint$/],
    ['text_encoder', 'detector', /^this file is a Stable Diffusion text encoder, not a detector; import the whole model folder as a checkpoint$/],
    ['vae_encoder', 'lora', /^this file is a VAE encoder, not a LoRA; import the whole model folder/],
    ['upscaler', 'checkpoint', /^this file is an upscaler, not part of a Stable Diffusion checkpoint; import it as an upscaler$/],
    ['detector', 'upscaler', /^this file is a detector, not an upscaler; import it as a detector$/],
    ['upscaler', 'embedding', /^this file is an upscaler, not a textual-inversion embedding/],
    ['unknown', 'upscaler', /^this file is not an upscaler: the studio does not recognise its signature$/],
  ];
  for (const [role, declared, error] of cases) {
    it(`${role} declared as ${declared}: ${error ? 'refused' : 'accepted'}`, () => {
      if (!error) return expect(() => checkDeclaredType(role, declared)).not.toThrow();
      expect(() => checkDeclaredType(role, declared)).toThrow(error);
      expect(() => checkDeclaredType(role, declared)).toThrow(ModelTypeMismatchError);
    });
  }

  it('takes a classification and quotes an unknown signature', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const unet = classifyOnnx(await inspectBytes(files.get('unet/model.onnx')!));
    expect(() => checkDeclaredType(unet, 'upscaler')).toThrow('this file is a Stable Diffusion UNet, not an upscaler');
    const unknown = classifyOnnx(sig([t('pixel_values', 'float32', [1, 3, 224, 224])], [t('logits', 'float32', [1, 1000])]));
    expect(() => checkDeclaredType(unknown, 'detector')).toThrow(
      'this file is not a detector: the studio does not recognise its signature (inputs: pixel_values float32 [1, 3, 224, 224]; outputs: logits float32 [1, 1000])',
    );
  });
});

describe('checkLoadable', () => {
  const GB = 1e9;
  /** A synthetic inspect result with just the size facts. */
  function sizes(o: { protobuf: number; weights: number; dtype?: string; external?: Array<{ location: string; bytes: number }> }): OnnxInfo {
    const dtype = o.dtype ?? 'float16';
    return {
      irVersion: 8,
      opsets: [],
      producer: { name: '', version: '' },
      inputs: [],
      outputs: [],
      initializers: { count: 700, bytes: o.weights, byType: { [dtype]: o.weights } },
      externalData: o.external ?? [],
      largestInitializerBytes: 0,
      weightDtype: dtype,
      protobufBytes: o.protobuf,
      nodeCount: 0,
      opTypes: [],
      metadata: {},
    };
  }

  it('a float32 SD 1.x UNet (3.4 GB) is refused: use float16 with external data', () => {
    const info = sizes({ protobuf: 0.8e6, weights: 3.44 * GB, dtype: 'float32', external: [{ location: 'model.onnx_data', bytes: 3.44 * GB }] });
    const error = (() => {
      try {
        checkLoadable(info, { component: 'unet/model.onnx', role: 'unet' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ModelTooLargeError);
    expect((error as Error).message).toBe(
      "unet/model.onnx: a float32 UNet of 3.4 GB will not fit in the browser's memory for onnxruntime-web; use a float16 export (half the size) with external data",
    );
    expect(error).toMatchObject({ bytes: 3.44 * GB, limit: 2.5 * GB });
  });

  it('a float16 SD UNet (1.7 GB) in external data loads; so do the tiny models', async () => {
    expect(() => checkLoadable(sizes({ protobuf: 0.9e6, weights: 1.72 * GB, external: [{ location: 'model.onnx_data', bytes: 1.72 * GB }] }), { component: 'unet/model.onnx', role: 'unet' })).not.toThrow();
    for (const [path, bytes] of presetFiles('sd15-fp32-dynamic')) {
      if (path.endsWith('.onnx')) expect(() => checkLoadable(sizes({ protobuf: bytes.length, weights: 0 }), { component: path, role: 'unet' })).not.toThrow();
    }
    const real = await inspectBytes(presetFiles('sd15-fp32-dynamic').get('unet/model.onnx')!);
    expect(() => checkLoadable(real, { component: 'unet/model.onnx', role: 'unet' })).not.toThrow();
  });

  it('a protobuf over 2 GiB (weights inline) is refused: use external data', () => {
    const info = sizes({ protobuf: 2.3 * GB, weights: 2.29 * GB });
    expect(() => checkLoadable(info, { component: 'text_encoder/model.onnx', role: 'text_encoder' })).toThrow(
      "text_encoder/model.onnx: the model file is 2.3 GB with its weights inside, over protobuf's limit of 2.1 GB (2 GiB), so onnxruntime cannot parse it; re-export it with the weights in an external data file (model.onnx + model.onnx_data)",
    );
  });

  it('one external data file over the single-buffer limit is refused unless the limit is raised', () => {
    const info = sizes({ protobuf: 1e6, weights: 2.2 * GB, external: [{ location: 'weights.pb', bytes: 2.2 * GB }] });
    expect(() => checkLoadable(info, { component: 'unet/model.onnx', role: 'unet' })).toThrow(
      /^unet\/model\.onnx: its external data file weights\.pb is 2\.2 GB, more than the 2\.1 GB the browser allows in one buffer; re-export it with the weights split over several external data files/,
    );
    expect(() => checkLoadable(info, { component: 'unet/model.onnx', role: 'unet', maxBufferBytes: 4 * 2 ** 30 })).not.toThrow();
    // Split over two files, the same weights load.
    const split = sizes({ protobuf: 1e6, weights: 2.2 * GB, external: [{ location: 'a.bin', bytes: 1.1 * GB }, { location: 'b.bin', bytes: 1.1 * GB }] });
    expect(() => checkLoadable(split, { component: 'unet/model.onnx', role: 'unet' })).not.toThrow();
    expect(MAX_BUFFER_BYTES).toBe(2 ** 31 - 1);
  });

  it('weights too large even in float16 (an SDXL UNet) are refused without suggesting float16', () => {
    const info = sizes({ protobuf: 1e6, weights: 5.1 * GB, external: [{ location: 'model.onnx_data', bytes: 5.1 * GB }] });
    expect(() => checkLoadable(info, { component: 'unet/model.onnx', role: 'unet' })).toThrow(/its weights \(5\.1 GB, float16\) will not fit .*; this model is too large for the browser/);
    // A float32 component other than a UNet that would fit in float16 gets that advice.
    const te = sizes({ protobuf: 1e6, weights: 2.8 * GB, dtype: 'float32', external: [{ location: 'model.onnx_data', bytes: 1.4 * GB }] });
    expect(() => checkLoadable(te, { component: 'text_encoder/model.onnx', role: 'text_encoder' })).toThrow(/2\.8 GB, float32.*use a float16 export \(half the size\)/);
  });
});
