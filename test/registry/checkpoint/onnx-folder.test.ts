// @vitest-environment node
/**
 * `npm run convert-checkpoint`: a tiny LDM-layout checkpoint (SD 1.x and 2.x styles, fp16 and
 * fp32) becomes a self-contained ONNX folder that onnxruntime-node opens from each component's
 * path alone, that carries the checkpoint's own weight bytes (converted only when asked), and
 * that the studio's folder reader loads and generates from.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensorToImages } from '../../../src/pipeline/diffusion/latents';
import { textToImage } from '../../../src/pipeline/diffusion/text-to-image';
import { float16BitsToFloat32 } from '../../../src/pipeline/float16';
import { runConvertCheckpoint } from '../../../src/registry/checkpoint/cli';
import { buildUnet, fileLocation } from '../../../src/registry/checkpoint/build';
import { convertFloats, DATA_FILE } from '../../../src/registry/checkpoint/onnx-folder';
import { encodeModel } from '../../../src/registry/convert/onnx-build';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { parseSafetensorsHeader } from '../../../src/registry/safetensors';
import { loadDiffusionModel } from '../../../workers/ort/diffusion-model';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../../fixtures/ldm-checkpoint';
import { nodeOrt } from '../../helpers/node-ort';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'media-lab-convert-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COMPONENTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
const IO = {
  text_encoder: [['input_ids'], ['last_hidden_state']],
  unet: [['sample', 'timestep', 'encoder_hidden_states'], ['out_sample']],
  vae_decoder: [['latent_sample'], ['sample']],
  vae_encoder: [['sample'], ['latent_parameters']],
} as const;

/** Writes a tiny checkpoint and converts it; returns the paths. */
async function convert(family: 'sd1' | 'sd2', dtype: 'F16' | 'F32', flags: string[] = []) {
  const name = `${family}-${dtype}${flags.join('')}`;
  const file = join(dir, `${name}.safetensors`);
  const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig(family), dtype), 7);
  writeFileSync(file, bytes);
  const out = join(dir, `${name}-onnx`);
  const written = await runConvertCheckpoint([file, '--out', out, ...flags], () => undefined);
  return { file, bytes, out, written };
}

const initializers = (path: string) => onnx.ModelProto.decode(readFileSync(path)).graph!.initializer!;

describe('convert-checkpoint', () => {
  for (const family of ['sd1', 'sd2'] as const) {
    for (const dtype of ['F16', 'F32'] as const) {
      it(`${family} ${dtype}: every component opens from its path alone with optimum's input and output names`, async () => {
        const { out, written } = await convert(family, dtype);
        expect(written).toEqual(
          expect.arrayContaining(['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', `unet/${DATA_FILE}`]),
        );
        for (const c of COMPONENTS) {
          const session = await ortNode.InferenceSession.create(join(out, c, 'model.onnx'));
          expect(session.inputNames).toEqual(IO[c][0]);
          expect(session.outputNames).toContain(IO[c][1][0]);
          await session.release();
        }
        const scheduler = JSON.parse(readFileSync(join(out, 'scheduler/scheduler_config.json'), 'utf8'));
        expect(scheduler.prediction_type).toBe(family === 'sd2' ? 'v_prediction' : 'epsilon');
      });
    }
  }

  it("keeps the checkpoint's bytes and dtype without a flag; --fp32 / --fp16 convert them", async () => {
    const { bytes, out } = await convert('sd1', 'F16');
    const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerBytes), bytes.byteLength - 8 - headerBytes);
    const plan = planCheckpoint(header, 'x.safetensors');
    const ref = plan.weights.unet.get('conv_in.weight')!;
    const fileBytes = bytes.subarray(8 + header.headerBytes + ref.begin, 8 + header.headerBytes + ref.end);
    const find = (folder: string) => {
      const init = initializers(join(folder, 'unet/model.onnx')).find((t) => t.name?.includes('conv_in') && t.name.endsWith('weight'))!;
      const entry = Object.fromEntries(init.externalData!.map((e) => [e.key, e.value]));
      expect(entry.location).toBe(DATA_FILE);
      const data = readFileSync(join(folder, 'unet', DATA_FILE));
      return { type: init.dataType, bytes: new Uint8Array(data.subarray(Number(entry.offset ?? 0), Number(entry.offset ?? 0) + Number(entry.length))) };
    };
    const kept = find(out);
    expect(kept.type).toBe(onnx.TensorProto.DataType.FLOAT16);
    expect(Buffer.from(kept.bytes).equals(Buffer.from(fileBytes))).toBe(true);

    const { out: out32 } = await convert('sd1', 'F16', ['--fp32']);
    const widened = find(out32);
    expect(widened.type).toBe(onnx.TensorProto.DataType.FLOAT);
    const halves = new Uint16Array(fileBytes.slice().buffer);
    const floats = new Float32Array(widened.bytes.slice().buffer);
    expect(Array.from(floats)).toEqual(Array.from(halves, float16BitsToFloat32));
    const types = new Set(initializers(join(out32, 'unet/model.onnx')).filter((t) => t.externalData?.length).map((t) => t.dataType));
    expect([...types]).toEqual([onnx.TensorProto.DataType.FLOAT]);
  });

  it("the folder's UNet computes exactly what the UNet built over the checkpoint file computes", async () => {
    const { bytes, out } = await convert('sd1', 'F16');
    const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const plan = planCheckpoint(parseSafetensorsHeader(bytes.subarray(8, 8 + headerBytes), bytes.byteLength - 8 - headerBytes), 'x.safetensors');
    const ort = nodeOrt();
    const direct = await ort.InferenceSession.create(encodeModel(buildUnet(plan, { locate: fileLocation('model.safetensors', 8 + headerBytes) }).model), {
      executionProviders: ['wasm'],
      externalData: [{ path: 'model.safetensors', data: bytes }],
    });
    const folder = await ort.InferenceSession.create(new Uint8Array(readFileSync(join(out, 'unet/model.onnx'))), {
      executionProviders: ['wasm'],
      externalData: [{ path: DATA_FILE, data: new Uint8Array(readFileSync(join(out, 'unet', DATA_FILE))) }],
    });
    const sample = Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37));
    const context = Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i * 0.11));
    const feeds = () => ({
      sample: new ort.Tensor('float32', sample, [1, 4, 8, 8]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', context, [1, 77, 32]),
    });
    const a = (await direct.run(feeds())).out_sample!.data as Float32Array;
    const b = (await folder.run(feeds())).out_sample!.data as Float32Array;
    await direct.release();
    await folder.release();
    expect(a.length).toBe(4 * 8 * 8);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('the folder loads in the studio and generates (2 steps): a real image, not noise-free zeros', async () => {
    const { out } = await convert('sd2', 'F32', ['--fp16']);
    const model = await loadDiffusionModel(nodeOrt(), async (path) => {
      try {
        return new Uint8Array(readFileSync(join(out, path)));
      } catch {
        return undefined;
      }
    }, 'wasm');
    try {
      expect(model.schedulerConfig?.prediction_type).toBe('v_prediction');
      const result = await textToImage(model, { prompt: 'a red fox', steps: 2, width: 64, height: 64, seed: 3, guidance_scale: 7 });
      const [image] = tensorToImages(result);
      // 8×8 latents; the tiny VAE has two levels, so it decodes ×2 (SD's four decode ×8).
      expect([image.width, image.height]).toEqual([16, 16]);
      const values = new Set(image.data);
      expect(values.size).toBeGreaterThan(10);
    } finally {
      await model.release();
    }
  });

  it('refuses a LoRA and a truncated file with what they are', async () => {
    const lora = join(dir, 'lora.safetensors');
    const loraSpecs = [
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', dtype: 'F16', shape: [4, 32] },
      { name: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', dtype: 'F16', shape: [32, 4] },
    ];
    writeFileSync(lora, ldmCheckpointBytes(loraSpecs as never, 1));
    await expect(runConvertCheckpoint([lora, '--out', join(dir, 'x')], () => undefined)).rejects.toThrow(/LoRA/);

    const { bytes } = await convert('sd1', 'F16');
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.byteLength - 1000));
    await expect(runConvertCheckpoint([cut, '--out', join(dir, 'y')], () => undefined)).rejects.toThrow(/truncated|past the end|ends/i);
  });
});

describe('convertFloats', () => {
  it('float32 ↔ float16 round trip for representable values; bfloat16 widens exactly', () => {
    const values = new Float32Array([0, 1, -2.5, 0.099975586, 65504, -0.000061035156]);
    const half = convertFloats(new Uint8Array(values.buffer.slice(0)), 'F32', 'F16');
    expect(half.byteLength).toBe(values.length * 2);
    expect(Array.from(new Float32Array(convertFloats(half, 'F16', 'F32').buffer))).toEqual(Array.from(values));
    // bfloat16 bits are a float32's top half.
    const bf = new Uint16Array(values.length);
    const u32 = new Uint32Array(values.buffer);
    for (let i = 0; i < values.length; i++) bf[i] = u32[i]! >>> 16;
    const widened = new Float32Array(convertFloats(new Uint8Array(bf.buffer), 'BF16', 'F32').buffer);
    for (let i = 0; i < values.length; i++) expect(widened[i]).toBe(new Float32Array(new Uint32Array([bf[i]! << 16]).buffer)[0]);
  });
});
