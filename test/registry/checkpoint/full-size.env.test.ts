// @vitest-environment node
/**
 * Full-size SD 1.5 (random weights, fp16, ≈ 2.1 GB written to a temp folder and deleted after):
 * the reader plans the real architecture, the builder makes every component over the file's
 * bytes, and onnxruntime-node runs them (the UNet at 256² to keep it to seconds); the int8
 * weight-only variant runs and tracks the float16 one. Only with MEDIA_LAB_FULL_SIZE=1: it needs
 * ~8 GB of memory and minutes of CPU, so CI stays on the tiny configurations.
 */
import { openAsBlob } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_COMPONENTS, type CheckpointPlan } from '../../../src/registry/checkpoint/architecture';
import { buildTextEncoder, buildUnet, buildVaeDecoder, buildVaeEncoder, fileLocation, type BuiltComponent } from '../../../src/registry/checkpoint/build';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { encodeModel } from '../../../src/registry/convert/onnx-build';
import { readSafetensorsHeader } from '../../../src/registry/safetensors';
import { writeFullSizeCheckpoint, writeInt8Variant, type WrittenCheckpoint } from '../../fixtures/full-size-checkpoint';
import { SD15, ldmTensorSpecs } from '../../fixtures/ldm-checkpoint';

const enabled = process.env.MEDIA_LAB_FULL_SIZE === '1';
const LATENT = 32;

describe.runIf(enabled)('full-size SD 1.5 checkpoint (MEDIA_LAB_FULL_SIZE=1)', { timeout: 900_000 }, () => {
  let dir: string;
  let written: WrittenCheckpoint;
  let plan: CheckpointPlan;
  const built = new Map<string, BuiltComponent>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'media-lab-full-size-test-'));
    written = await writeFullSizeCheckpoint(join(dir, 'sd15.safetensors'), { dtype: 'F16', seed: 7 });
    plan = planCheckpoint(await readSafetensorsHeader(await openAsBlob(written.path)), 'sd15.safetensors');
  }, 600_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the whole file and plans the real SD 1.5 architecture', () => {
    const specs = ldmTensorSpecs(SD15, 'F16');
    const data = specs.reduce((n, s) => n + s.shape.reduce((p, d) => p * d, 1) * { F16: 2, F32: 4, I64: 8 }[s.dtype]!, 0);
    expect(written.bytes).toBe(written.dataOffset + data);
    expect(written.tensors).toBe(specs.length);
    expect(plan.family).toBe('sd1');
    expect(plan.inpainting).toBe(false);
    expect(plan.unet.blockChannels).toEqual([320, 640, 1280, 1280]);
    expect(plan.unet.contextDim).toBe(768);
    expect(plan.text.width).toBe(768);
  });

  it('builds every component over the file, each weight a range inside it', () => {
    const builders = { text_encoder: buildTextEncoder, unet: buildUnet, vae_decoder: buildVaeDecoder, vae_encoder: buildVaeEncoder };
    for (const component of CHECKPOINT_COMPONENTS) {
      const b = builders[component](plan, { locate: fileLocation(basename(written.path), written.dataOffset), compute: 'float32' });
      built.set(component, b);
      expect(b.externalRanges.length).toBeGreaterThan(0);
      for (const r of b.externalRanges) {
        expect(r.offset).toBeGreaterThanOrEqual(written.dataOffset);
        expect(r.offset + r.length).toBeLessThanOrEqual(written.bytes);
      }
    }
    // SD 1.5's UNet: 859.5 M parameters, 2 bytes each.
    const unetBytes = built.get('unet')!.externalRanges.reduce((n, r) => n + r.length, 0);
    expect(unetBytes / 2 / 1e6).toBeCloseTo(859.5, 0);
  });

  async function run(model: string, feeds: Record<string, ort.Tensor>): Promise<ort.Tensor> {
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2, interOpNumThreads: 1 });
    try {
      return Object.values(await session.run(feeds))[0];
    } finally {
      await session.release();
    }
  }

  const unetFeeds = () => {
    const n = LATENT * LATENT * 4;
    return {
      sample: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)), [1, 4, LATENT, LATENT]),
      timestep: new ort.Tensor('int64', new BigInt64Array([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', Float32Array.from({ length: 77 * 768 }, (_, i) => Math.cos(i * 0.11)), [1, 77, 768]),
    };
  };
  const finite = (t: ort.Tensor) => (t.data as Float32Array).every(Number.isFinite);
  let unetOut: Float32Array;

  it('runs the text encoder, the UNet and the VAE decoder on onnxruntime-node', async () => {
    const save = async (component: string) => {
      const path = join(dir, `${component}.onnx`);
      await writeFile(path, encodeModel(built.get(component)!.model));
      return path;
    };
    // int32 ids, as optimum's CLIP exports declare them.
    const ids = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 5 ? 320 + i : 49407));
    const text = await run(await save('text_encoder'), { input_ids: new ort.Tensor('int32', ids, [1, 77]) });
    expect(text.dims).toEqual([1, 77, 768]);
    expect(finite(text)).toBe(true);

    const unet = await run(await save('unet'), unetFeeds());
    expect(unet.dims).toEqual([1, 4, LATENT, LATENT]);
    expect(finite(unet)).toBe(true);
    unetOut = unet.data as Float32Array;

    const image = await run(await save('vae_decoder'), { latent_sample: new ort.Tensor('float32', Float32Array.from({ length: 4 * LATENT * LATENT }, (_, i) => Math.sin(i)), [1, 4, LATENT, LATENT]) });
    expect(image.dims).toEqual([1, 3, 8 * LATENT, 8 * LATENT]);
    expect(finite(image)).toBe(true);
  });

  it('int8 weight-only UNet (QDQ) runs and follows the float16 one', async () => {
    const q = join(dir, 'int8');
    await mkdir(q);
    const { open } = await import('node:fs/promises');
    const handle = await open(written.path, 'r');
    let variant;
    try {
      variant = await writeInt8Variant(built.get('unet')!, async (_, begin, end) => {
        const bytes = new Uint8Array(end - begin);
        await handle.read(bytes, 0, bytes.length, begin);
        return bytes;
      }, q);
    } finally {
      await handle.close();
    }
    // Half the float16 weights, plus per-channel scales and float32 norms and biases.
    expect(variant.dataBytes / 1e6).toBeGreaterThan(859);
    expect(variant.dataBytes / 1e6).toBeLessThan(900);
    const out = (await run(join(q, 'model.onnx'), unetFeeds())).data as Float32Array;
    let dot = 0;
    let a2 = 0;
    let b2 = 0;
    for (let i = 0; i < out.length; i++) {
      dot += out[i] * unetOut[i];
      a2 += out[i] ** 2;
      b2 += unetOut[i] ** 2;
    }
    expect(dot / Math.sqrt(a2 * b2)).toBeGreaterThan(0.95);
  });
});

// Vitest reports a file without tests as failed; this one says why it did nothing.
describe.skipIf(enabled)('full-size SD 1.5 checkpoint', () => {
  it.skip('runs only with MEDIA_LAB_FULL_SIZE=1 (gigabytes of temp files, minutes of CPU)', () => {});
});
