// @vitest-environment node
/**
 * A1111's batch rule: image i of a batch is seed + i, with noise of its own at every draw (start
 * noise and each ancestral step), so generating seed + i alone at batch 1 gives the same image
 * (within 1 grey level: the UNet runs a batch of 2 or 1, whose float sums may differ in the last bits).
 */
import { describe, expect, it } from 'vitest';
import { tensorToImages } from '../../src/pipeline/diffusion/latents';
import { textToImage } from '../../src/pipeline/diffusion/text-to-image';
import { planCheckpoint } from '../../src/registry/checkpoint/ldm-keys';
import { checkpointFolder } from '../../src/registry/checkpoint/virtual-folder';
import { readSafetensorsHeader } from '../../src/registry/safetensors';
import { loadDiffusionModel } from '../../workers/ort/diffusion-model';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../fixtures/ldm-checkpoint';
import { nodeOrt } from '../helpers/node-ort';

const maxDiff = (a: Uint8ClampedArray, b: Uint8ClampedArray) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('the seeds of a batch', () => {
  it('image i is seed + i: generated alone at batch 1 it comes out the same (euler_a: step noise per image too)', async () => {
    const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1'), 'F32'), 7);
    const header = await readSafetensorsHeader(new Blob([bytes]));
    const folder = checkpointFolder(planCheckpoint(header, 'tiny.safetensors'), { dataOffset: 8 + header.headerBytes, read: async (b, e) => bytes.slice(b, e) });
    const model = await loadDiffusionModel(nodeOrt(), folder.read, 'wasm');
    try {
      const run = async (seed: number, batch: number) => {
        const result = await textToImage(model, { prompt: 'a red fox', steps: 3, width: 64, height: 64, seed, batch_size: batch, guidance_scale: 7, scheduler: 'euler_a' });
        return { images: tensorToImages(result), seeds: result.info.seeds };
      };
      const batch = await run(100, 3);
      expect(batch.seeds).toEqual([100, 101, 102]);
      const third = await run(102, 1);
      expect(third.seeds).toEqual([102]);
      expect(maxDiff(batch.images[2]!.data, third.images[0]!.data)).toBeLessThanOrEqual(1);
      const first = await run(100, 1);
      expect(maxDiff(batch.images[0]!.data, first.images[0]!.data)).toBeLessThanOrEqual(1);
      // …and the images of a batch differ from one another (each its own noise).
      expect(maxDiff(batch.images[0]!.data, batch.images[1]!.data)).toBeGreaterThan(10);
    } finally {
      await model.release();
    }
  }, 120_000);
});

describe('the variation seed (A1111 subseed)', () => {
  it('strength 0 is the seed’s image and strength 1 the subseed’s, exactly; between, a blend of both', async () => {
    const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1'), 'F32'), 7);
    const header = await readSafetensorsHeader(new Blob([bytes]));
    const folder = checkpointFolder(planCheckpoint(header, 'tiny.safetensors'), { dataOffset: 8 + header.headerBytes, read: async (b, e) => bytes.slice(b, e) });
    const model = await loadDiffusionModel(nodeOrt(), folder.read, 'wasm');
    try {
      const run = async (seed: number, variation?: { subseed: number; subseed_strength: number }) =>
        tensorToImages(await textToImage(model, { prompt: 'a red fox', steps: 3, width: 64, height: 64, seed, guidance_scale: 7, scheduler: 'euler', ...variation }))[0]!.data;
      const seed = await run(5);
      const sub = await run(6);
      expect(maxDiff(await run(5, { subseed: 6, subseed_strength: 0 }), seed)).toBe(0);
      expect(maxDiff(await run(5, { subseed: 6, subseed_strength: 1 }), sub)).toBe(0);
      const half = await run(5, { subseed: 6, subseed_strength: 0.5 });
      expect(maxDiff(half, seed)).toBeGreaterThan(5);
      expect(maxDiff(half, sub)).toBeGreaterThan(5);
    } finally {
      await model.release();
    }
  }, 120_000);

  it('slerp keeps the noise’s scale (a straight blend of two independent normals would shrink it by √2 at 0.5)', async () => {
    const { slerpPerImage } = await import('../../src/pipeline/diffusion/text-to-image');
    const { createRng } = await import('../../src/pipeline/random');
    const a = createRng(1).normalTensor([2, 4, 16, 16]);
    const b = createRng(2).normalTensor([2, 4, 16, 16]);
    const mid = slerpPerImage(0.5, a, b);
    const norm = (t: Float32Array) => Math.sqrt(t.reduce((s, v) => s + v * v, 0));
    const per = 4 * 16 * 16;
    for (let n = 0; n < 2; n++) {
      const part = (t: { data: Float32Array }) => t.data.subarray(n * per, (n + 1) * per);
      expect(norm(part(mid)) / Math.sqrt((norm(part(a)) ** 2 + norm(part(b)) ** 2) / 2)).toBeGreaterThan(0.97);
    }
    expect(Array.from(slerpPerImage(0, a, b).data)).toEqual(Array.from(a.data));
  });
});
