// @vitest-environment node
/**
 * LoRAs merged into tiny checkpoints built by the studio's own builder (diffusers node names,
 * weights as external data in the checkpoint's bytes). The reference takes another route: the
 * LoRA's ΔW = s · up · down is computed here in float64 and added to the weight in the
 * checkpoint's own bytes (found by its LDM key through the checkpoint plan), and a folder is
 * built from that modified file. The merged folder's UNet and text encoder must compute what the
 * reference folder computes.
 */
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import type { LoraModule } from '../../../src/pipeline/diffusion/lora';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/pipeline/float16';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import type { CheckpointBytes } from '../../../src/registry/checkpoint/onnx-folder';
import { checkpointFolder } from '../../../src/registry/checkpoint/virtual-folder';
import { findWeightTargets, LoraApplyError, loraFolder, type FolderReader, type LoraToApply } from '../../../src/registry/lora';
import { inspectOnnx, sliceableBytes } from '../../../src/registry/onnx-inspect';
import { readSafetensorsHeader, type SafetensorsHeader } from '../../../src/registry/safetensors';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../../fixtures/ldm-checkpoint';
import { kohyaFile, loraModulesOf, peftFile, randomLayer, type LayerSpec } from '../../fixtures/lora/lora-files';
import { nodeOrt } from '../../helpers/node-ort';

type Dtype = 'F32' | 'F16';

/** A tiny SD 1.x checkpoint (UNet [32, 64], text width 32) as a folder, with its plan. */
async function tinyCheckpoint(dtype: Dtype | 'BF16') {
  const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1', { vocab: 1000 }), dtype), 7);
  const header = await readSafetensorsHeader(new Blob([bytes]));
  const plan = planCheckpoint(header, 'tiny.safetensors');
  return { bytes, header, plan, folder: folderOf(bytes, header) };
}

function folderOf(bytes: Uint8Array, header: SafetensorsHeader): FolderReader {
  const plan = planCheckpoint(header, 'tiny.safetensors');
  const source: CheckpointBytes = { dataOffset: 8 + header.headerBytes, read: async (b, e) => bytes.slice(b, e) };
  return checkpointFolder(plan, source).read;
}

/** The adapted layers: module path → its LoRA matrices (shapes of the tiny model). */
const UNET_LAYERS: Record<string, LayerSpec> = {
  'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q': randomLayer(11, 4, 32, 32, { alpha: 2 }),
  'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k': randomLayer(12, 4, 32, 32),
  'up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj': randomLayer(13, 2, 256, 32, { alpha: 1 }),
  'down_blocks.1.resnets.0.time_emb_proj': randomLayer(14, 2, 64, 128),
  // SD 1.x proj_in is a 1×1 conv; LoCon stores it [r, in, 1, 1].
  'mid_block.attentions.0.proj_in': randomLayer(15, 2, 64, 64, { kernel: 1 }),
  // LoCon on a 3×3 conv: down [r, in, 3, 3], up [out, r, 1, 1].
  'down_blocks.0.resnets.0.conv1': randomLayer(16, 3, 32, 32, { kernel: 3, alpha: 1.5 }),
};
const TEXT_LAYERS: Record<string, LayerSpec> = {
  'text_model.encoder.layers.0.self_attn.q_proj': randomLayer(21, 4, 32, 32, { alpha: 4 }),
  'text_model.encoder.layers.1.mlp.fc1': randomLayer(22, 2, 128, 32),
};
/** The same UNet layers under the LDM paths some trainers write (written out by hand). */
const LDM_STEMS: Record<string, string> = {
  'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q': 'input_blocks_1_1_transformer_blocks_0_attn1_to_q',
  'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k': 'input_blocks_1_1_transformer_blocks_0_attn2_to_k',
  'up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj': 'output_blocks_3_1_transformer_blocks_0_ff_net_0_proj',
  'down_blocks.1.resnets.0.time_emb_proj': 'input_blocks_3_0_emb_layers_1',
  'mid_block.attentions.0.proj_in': 'middle_block_1_proj_in',
  'down_blocks.0.resnets.0.conv1': 'input_blocks_1_0_in_layers_2',
};

const underscore = (p: string) => p.replace(/\./g, '_');
const kohya = (layers: Record<string, LayerSpec>, prefix: string, stem = underscore) =>
  Object.fromEntries(Object.entries(layers).map(([p, l]) => [`lora_${prefix}_${stem(p)}`, l]));

async function kohyaModules(): Promise<LoraModule[]> {
  return loraModulesOf(kohyaFile({ ...kohya(UNET_LAYERS, 'unet'), ...kohya(TEXT_LAYERS, 'te') }));
}

/**
 * The reference: the checkpoint with W += Σ weight · alpha/rank · up · down (float64) at each
 * layer's LDM key, written back in the file's dtype.
 */
function referenceCheckpoint(
  bytes: Uint8Array,
  header: SafetensorsHeader,
  plan: ReturnType<typeof planCheckpoint>,
  dtype: Dtype,
  edits: Array<{ layers: Record<string, LayerSpec>; component: 'unet' | 'text_encoder'; weight: number }>,
): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  for (const { layers, component, weight } of edits) {
    for (const [path, l] of Object.entries(layers)) {
      const ref = plan.weights[component].get(`${path}.weight`)!;
      const rank = l.down.shape[0];
      const cols = l.down.values.length / rank;
      const rows = l.up.shape[0];
      const scale = (weight * (l.alpha ?? rank)) / rank;
      const start = 8 + header.headerBytes + ref.begin;
      for (let o = 0; o < rows; o++) {
        for (let c = 0; c < cols; c++) {
          let sum = 0;
          for (let r = 0; r < rank; r++) sum += l.up.values[o * rank + r] * l.down.values[r * cols + c];
          const i = o * cols + c;
          if (dtype === 'F32') view.setFloat32(start + 4 * i, view.getFloat32(start + 4 * i, true) + scale * sum, true);
          else view.setUint16(start + 2 * i, float32ToFloat16Bits(float16BitsToFloat32(view.getUint16(start + 2 * i, true)) + scale * sum), true);
        }
      }
    }
  }
  return out;
}

async function session(read: FolderReader, dir: string) {
  const model = (await read(`${dir}/model.onnx`))!;
  const info = await inspectOnnx(sliceableBytes(model));
  const externalData = await Promise.all(info.externalData.map(async (e) => ({ path: e.location, data: (await read(`${dir}/${e.location}`))! })));
  nodeOrt();
  return ort.InferenceSession.create(model, { executionProviders: ['wasm'], externalData });
}

/** The UNet's and text encoder's outputs on fixed inputs. */
async function outputsOf(...reads: FolderReader[]): Promise<Array<{ unet: Float32Array; text: Float32Array }>> {
  // One session at a time: onnxruntime-web mounts external data globally while creating one.
  const out = [];
  for (const read of reads) out.push(await outputs(read));
  return out;
}

async function outputs(read: FolderReader): Promise<{ unet: Float32Array; text: Float32Array }> {
  const unet = await session(read, 'unet');
  const text = await session(read, 'text_encoder');
  try {
    const sample = new ort.Tensor('float32', Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), [1, 4, 8, 8]);
    const context = new ort.Tensor('float32', Float32Array.from({ length: 7 * 32 }, (_, i) => Math.cos(i * 0.11)), [1, 7, 32]);
    const u = await unet.run({ sample, timestep: new ort.Tensor('int64', BigInt64Array.from([500n]), [1]), encoder_hidden_states: context });
    const ids = new ort.Tensor('int32', Int32Array.from([999, 320, 1, 539, 12, 998, 998]), [1, 7]);
    const t = await text.run({ input_ids: ids });
    return { unet: new Float32Array(u.out_sample.data as Float32Array), text: new Float32Array(t.last_hidden_state.data as Float32Array) };
  } finally {
    await unet.release();
    await text.release();
  }
}

/** max |a − b| relative to max(1, max |b|). */
function maxError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

const bytesEqual = (a: Uint8Array | undefined, b: Uint8Array | undefined) => !!a && !!b && Buffer.from(a).equals(Buffer.from(b));

describe('loraFolder on a checkpoint built by the studio', () => {
  it('fp32: kohya LoRA (linear, 1×1 and 3×3 LoCon, text encoder) equals the modified-checkpoint reference within 1e-5', async () => {
    const ck = await tinyCheckpoint('F32');
    const merged = await loraFolder(ck.folder, [{ name: 'style', modules: await kohyaModules(), weight: 0.8 }]);
    expect(merged.report).toEqual([{ name: 'style', matched: 8, total: 8, unmatched: [] }]);
    expect(merged.patchedFiles.sort()).toEqual(['text_encoder/model.onnx_data', 'unet/model.onnx_data']);

    const reference = referenceCheckpoint(ck.bytes, ck.header, ck.plan, 'F32', [
      { layers: UNET_LAYERS, component: 'unet', weight: 0.8 },
      { layers: TEXT_LAYERS, component: 'text_encoder', weight: 0.8 },
    ]);
    const [got, want, base] = await outputsOf(merged.read, folderOf(reference, ck.header), ck.folder);
    expect(maxError(got.unet, want.unet)).toBeLessThan(1e-5);
    expect(maxError(got.text, want.text)).toBeLessThan(1e-5);
    // The LoRA does change the outputs (the comparison above is not between two unmerged models).
    expect(maxError(base.unet, want.unet)).toBeGreaterThan(1e-2);
    expect(maxError(base.text, want.text)).toBeGreaterThan(1e-2);
    expect(merged.largestCopyBytes).toBeGreaterThan(0);
  });

  it('weight 0 gives the unmerged model exactly; a separate UNet weight leaves the text encoder alone', async () => {
    const ck = await tinyCheckpoint('F32');
    const modules = await kohyaModules();
    const zero = await loraFolder(ck.folder, [{ name: 'style', modules, weight: 0 }]);
    expect(zero.report[0].matched).toBe(8);
    expect(zero.patchedFiles).toEqual([]);
    const [a, b] = await outputsOf(zero.read, ck.folder);
    expect(Array.from(a.unet)).toEqual(Array.from(b.unet));
    expect(Array.from(a.text)).toEqual(Array.from(b.text));

    const unetOnly = await loraFolder(ck.folder, [{ name: 'style', modules, weight: 0, unet: 1 }]);
    expect(unetOnly.patchedFiles).toEqual(['unet/model.onnx_data']);
    expect(bytesEqual(await unetOnly.read('text_encoder/model.onnx_data'), await ck.folder('text_encoder/model.onnx_data'))).toBe(true);
  });

  it('two LoRAs add up (and a negative weight subtracts)', async () => {
    const ck = await tinyCheckpoint('F32');
    const other: Record<string, LayerSpec> = {
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q': randomLayer(31, 2, 32, 32),
      'mid_block.attentions.0.transformer_blocks.0.attn2.to_v': randomLayer(32, 2, 64, 32),
    };
    const second = await loraModulesOf(kohyaFile(kohya(other, 'unet')));
    const merged = await loraFolder(ck.folder, [
      { name: 'a', modules: await kohyaModules(), weight: 0.5 },
      { name: 'b', modules: second, weight: -0.7 },
    ]);
    expect(merged.report.map((r) => [r.name, r.matched, r.total])).toEqual([
      ['a', 8, 8],
      ['b', 2, 2],
    ]);
    const reference = referenceCheckpoint(ck.bytes, ck.header, ck.plan, 'F32', [
      { layers: UNET_LAYERS, component: 'unet', weight: 0.5 },
      { layers: TEXT_LAYERS, component: 'text_encoder', weight: 0.5 },
      { layers: other, component: 'unet', weight: -0.7 },
    ]);
    const [got, want] = await outputsOf(merged.read, folderOf(reference, ck.header));
    expect(maxError(got.unet, want.unet)).toBeLessThan(1e-5);
    expect(maxError(got.text, want.text)).toBeLessThan(1e-5);
  });

  it('kohya, peft and LDM-path kohya files of the same weights patch the same bytes', async () => {
    const ck = await tinyCheckpoint('F32');
    const peft = await loraModulesOf(
      peftFile({
        ...Object.fromEntries(Object.entries(UNET_LAYERS).map(([p, l]) => [`unet.${p}`, l])),
        ...Object.fromEntries(Object.entries(TEXT_LAYERS).map(([p, l]) => [`text_encoder.${p}`, l])),
      }),
    );
    const ldm = await loraModulesOf(kohyaFile({ ...kohya(UNET_LAYERS, 'unet', (p) => LDM_STEMS[p]), ...kohya(TEXT_LAYERS, 'te') }));
    const apply = async (modules: LoraModule[]) => loraFolder(ck.folder, [{ name: 'x', modules, weight: 1.3 }]);
    const [k, p, l] = [await apply(await kohyaModules()), await apply(peft), await apply(ldm)];
    for (const merged of [p, l]) {
      expect(merged.report[0]).toEqual({ name: 'x', matched: 8, total: 8, unmatched: [] });
      for (const file of ['unet/model.onnx_data', 'text_encoder/model.onnx_data']) {
        const [a, b] = [await k.read(file), await merged.read(file)];
        expect(bytesEqual(a, b)).toBe(true);
      }
    }
    // And the patch did change the bytes.
    expect(bytesEqual(await k.read('unet/model.onnx_data'), await ck.folder('unet/model.onnx_data'))).toBe(false);
  });

  it('fp16 weights: merged in float32 and written back as float16, within 2e-3 of the reference', async () => {
    const ck = await tinyCheckpoint('F16');
    const merged = await loraFolder(ck.folder, [{ name: 'style', modules: await kohyaModules(), weight: 0.8 }]);
    expect(merged.report[0].matched).toBe(8);
    const reference = referenceCheckpoint(ck.bytes, ck.header, ck.plan, 'F16', [
      { layers: UNET_LAYERS, component: 'unet', weight: 0.8 },
      { layers: TEXT_LAYERS, component: 'text_encoder', weight: 0.8 },
    ]);
    const [got, want, base] = await outputsOf(merged.read, folderOf(reference, ck.header), ck.folder);
    expect(maxError(got.unet, want.unet)).toBeLessThan(2e-3);
    expect(maxError(got.text, want.text)).toBeLessThan(2e-3);
    expect(maxError(base.unet, want.unet)).toBeGreaterThan(1e-2);
    // The patched part keeps its length (the graph and its offsets are unchanged).
    expect((await merged.read('unet/model.onnx_data'))!.byteLength).toBe((await ck.folder('unet/model.onnx_data'))!.byteLength);
  });

  it('bfloat16 weights are written back as bfloat16, rounded to nearest', async () => {
    const ck = await tinyCheckpoint('BF16');
    const path = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
    const merged = await loraFolder(ck.folder, [{ name: 'style', modules: await kohyaModules(), weight: 0.8 }]);
    const target = findWeightTargets((await ck.folder('unet/model.onnx'))!).targets.get(path)!;
    expect([target.type, target.layout]).toEqual(['bfloat16', 'out_in']);
    const bf16 = (bytes: Uint8Array) => Array.from(new Uint16Array(bytes.slice(target.offset, target.offset + target.length).buffer), (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
    const before = bf16((await ck.folder(`unet/${target.file}`))!);
    const after = bf16((await merged.read(`unet/${target.file}`))!);
    const l = UNET_LAYERS[path];
    let changed = 0;
    for (let o = 0; o < 32; o++) {
      for (let c = 0; c < 32; c++) {
        let d = 0;
        for (let r = 0; r < 4; r++) d += l.up.values[o * 4 + r] * l.down.values[r * 32 + c];
        const want = before[o * 32 + c] + 0.8 * (2 / 4) * d;
        // Within half a bfloat16 step (8 significant bits) of the exact sum.
        expect(Math.abs(after[o * 32 + c] - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -8 + 1e-30);
        if (after[o * 32 + c] !== before[o * 32 + c]) changed++;
      }
    }
    expect(changed).toBeGreaterThan(900);
  });

  it('reports modules the model lacks or whose shapes differ; no match at all is an error naming the base model', async () => {
    const ck = await tinyCheckpoint('F32');
    const extra = await loraModulesOf(
      kohyaFile({
        lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: UNET_LAYERS['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'],
        lora_unet_down_blocks_2_attentions_0_proj_in: randomLayer(41, 2, 32, 32),
        lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v: randomLayer(42, 2, 32, 768),
        lora_te2_text_model_encoder_layers_0_mlp_fc1: randomLayer(43, 2, 128, 32),
      }),
    );
    const merged = await loraFolder(ck.folder, [{ name: 'mixed', modules: extra, weight: 1 }]);
    expect(merged.report[0].matched).toBe(1);
    expect(merged.report[0].total).toBe(4);
    expect(merged.report[0].unmatched).toEqual([
      'down_blocks_2_attentions_0_proj_in: no such module in the unet',
      "down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v: the LoRA's [32,768] does not fit down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v's weight [32,32]",
      "text_model_encoder_layers_0_mlp_fc1: text_encoder_2 (SDXL's second text encoder) is not part of this model",
    ]);

    const sdxl = await loraModulesOf(kohyaFile({ lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k: randomLayer(44, 2, 640, 2048) }));
    const attempt = (lora: LoraToApply) => loraFolder(ck.folder, [lora]);
    await expect(attempt({ name: 'xl', modules: sdxl, weight: 1, family: 'sdxl' })).rejects.toThrow(LoraApplyError);
    await expect(attempt({ name: 'xl', modules: sdxl, weight: 1, family: 'sdxl' })).rejects.toThrow(/LoRA `xl`: none of its 1 modules match .* made for SDXL/);
    await expect(attempt({ name: 'xl', modules: sdxl, weight: 1 })).rejects.toThrow(/another base model \(e\.g\. an SDXL LoRA on SD 1\.5\)/);
  });
});
