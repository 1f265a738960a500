// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { textToImage } from '../../src/pipeline/diffusion/text-to-image';
import type { ConditioningCache } from '../../workers/ort/diffusion-ports';
import { loadTinyModel } from '../helpers/tiny-models';

const created = (unet: unknown) => (unet as { conditioning: ConditioningCache }).conditioning.created;

describe('the UNet port converts the text conditioning once per job, not once per step', () => {
  it('a dynamic-batch UNet: one conditioning tensor for 6 steps with guidance, one more for the next job', async () => {
    const tiny = await loadTinyModel('sd15-fp32-dynamic');
    try {
      const params = { prompt: 'a boat', width: 64, height: 64, steps: 6, guidance_scale: 7, seed: 1 };
      const first = await textToImage(tiny, params);
      expect(created(tiny.unet)).toBe(1);
      const again = await textToImage(tiny, params);
      expect(created(tiny.unet)).toBe(2);
      // Reusing the tensor across steps changes nothing in the result.
      expect(again.data).toEqual(first.data);
    } finally {
      await tiny.release();
    }
  });

  it('a UNet fixed at batch 1 with guidance: two (unconditional and conditional halves) for all steps', async () => {
    const tiny = await loadTinyModel('sd15-fp32-dynamic', { unet: { batch: 1 } } as never);
    try {
      await textToImage(tiny, { prompt: 'a boat', width: 64, height: 64, steps: 5, guidance_scale: 7, seed: 1 });
      expect(tiny.unet.maxBatch).toBe(1);
      expect(created(tiny.unet)).toBe(2);
    } finally {
      await tiny.release();
    }
  });
});
