/**
 * `freshReads`: a reader that hands out a new buffer per read lets the merge patch the weights
 * file in that buffer: the same bytes as a merge into a copy, less memory held, and `model.onnx`
 * (which a reader may cache) never written.
 */
import { describe, expect, it } from 'vitest';
import { checkpointFolder } from '../../../src/registry/checkpoint/virtual-folder';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { loraFolder } from '../../../src/registry/lora/merge';
import { readSafetensorsHeader } from '../../../src/registry/safetensors';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../../fixtures/ldm-checkpoint';
import { kohyaFile, loraModulesOf, randomLayer } from '../../fixtures/lora/lora-files';

describe('loraFolder freshReads', () => {
  it('patches the read buffer itself, with the bytes a copy gets; model.onnx stays untouched', async () => {
    const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1', { vocab: 1000 }), 'F16'), 7);
    const header = await readSafetensorsHeader(new Blob([bytes]));
    const folder = checkpointFolder(planCheckpoint(header, 'tiny.safetensors'), { dataOffset: 8 + header.headerBytes, read: async (b, e) => bytes.slice(b, e) });
    const handed: Uint8Array[] = [];
    const read = async (path: string) => {
      const out = await folder.read(path);
      if (out) handed.push(out);
      return out;
    };
    const modules = await loraModulesOf(
      kohyaFile({
        lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: randomLayer(1, 4, 32, 32),
        lora_te_text_model_encoder_layers_0_self_attn_q_proj: randomLayer(2, 4, 32, 32),
      }),
    );
    const loras = [{ name: 'x', modules, weight: 1 }];
    const copy = await loraFolder(read, loras);
    const fresh = await loraFolder(read, loras, { freshReads: true });
    expect(fresh.patchedFiles).toEqual(copy.patchedFiles);
    for (const file of fresh.patchedFiles) {
      const a = await copy.read(file);
      const b = await fresh.read(file);
      expect(b).toEqual(a);
      // In place for external-data files (the buffer the reader handed out), a copy for model.onnx.
      expect(handed.includes(b!)).toBe(!file.endsWith('/model.onnx'));
    }
    const unpatched = await folder.read('unet/model.onnx');
    expect(await folder.read('unet/model.onnx')).toEqual(unpatched);
    expect(fresh.largestCopyBytes).toBeLessThan(copy.largestCopyBytes);
    expect(fresh.largestCopyBytes).toBeGreaterThan(0);
  });
});
