// @vitest-environment node
/**
 * The worker's LoRA deltas through onnxruntime's MatMul: the patched weights equal the JS loop's
 * (float32 within 1e-5 of each weight's scale; float16 identical or one unit of rounding apart).
 */
import { describe, expect, it } from 'vitest';
import { fromFloat16Array } from '../../src/pipeline/float16';
import { checkpointFolder } from '../../src/registry/checkpoint/virtual-folder';
import { planCheckpoint } from '../../src/registry/checkpoint/ldm-keys';
import { loraFolder } from '../../src/registry/lora/merge';
import { readSafetensorsHeader } from '../../src/registry/safetensors';
import { ortMatrixProduct } from '../../workers/ort/matrix-product';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../fixtures/ldm-checkpoint';
import { kohyaFile, loraModulesOf, randomLayer } from '../fixtures/lora/lora-files';
import { nodeOrt } from '../helpers/node-ort';

async function folder(dtype: 'F32' | 'F16') {
  const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1', { vocab: 1000 }), dtype), 7);
  const header = await readSafetensorsHeader(new Blob([bytes]));
  const plan = planCheckpoint(header, 'tiny.safetensors');
  return checkpointFolder(plan, { dataOffset: 8 + header.headerBytes, read: async (b, e) => bytes.slice(b, e) }).read;
}

describe('ortMatrixProduct', () => {
  for (const dtype of ['F32', 'F16'] as const) {
    it(`${dtype}: the merged weights match the JS product's`, async () => {
      const modules = await loraModulesOf(
        kohyaFile({
          lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: randomLayer(1, 4, 32, 32, { alpha: 2 }),
          lora_unet_up_blocks_1_attentions_1_transformer_blocks_0_ff_net_0_proj: randomLayer(2, 2, 256, 32),
          lora_unet_down_blocks_0_resnets_0_conv1: randomLayer(3, 3, 32, 32, { kernel: 3 }),
          lora_te_text_model_encoder_layers_1_mlp_fc1: randomLayer(4, 2, 128, 32),
        }),
      );
      const read = await folder(dtype);
      const loras = [{ name: 'x', modules, weight: 0.8 }];
      const product = ortMatrixProduct(nodeOrt());
      try {
        const js = await loraFolder(read, loras);
        const ort = await loraFolder(read, loras, { multiply: product.multiply });
        expect(ort.patchedFiles).toEqual(js.patchedFiles);
        expect(js.patchedFiles.length).toBeGreaterThan(0);
        for (const file of js.patchedFiles) {
          const [a, b, original] = [await js.read(file), await ort.read(file), await read(file)];
          const floats = (x: Uint8Array) => (dtype === 'F32' ? new Float32Array(x.slice().buffer) : fromFloat16Array(new Uint16Array(x.slice().buffer)));
          const [fa, fb, fo] = [floats(a!), floats(b!), floats(original!)];
          let changed = 0;
          let worst = 0;
          for (let i = 0; i < fa.length; i++) {
            if (fa[i] !== fo[i]) changed++;
            worst = Math.max(worst, Math.abs(fa[i] - fb[i]) / Math.max(1, Math.abs(fa[i])));
          }
          expect(changed).toBeGreaterThan(0);
          expect(worst).toBeLessThanOrEqual(dtype === 'F32' ? 1e-5 : 1e-3);
        }
      } finally {
        await product.release();
      }
    });
  }
});
