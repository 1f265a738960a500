import { describe, expect, it } from 'vitest';
import { axisWeights, planSpans, upscaleTiled } from '../../src/pipeline/image/tiling';
import { createBoxUpscaler, maxAbsDiff, patternImage } from '../helpers/test-upscaler';

describe('planSpans', () => {
  it('uses one span when the image fits', () => {
    expect(planSpans(50, 64, 8)).toEqual([{ start: 0, length: 50 }]);
  });

  it('covers the axis with tiles that overlap by at least the overlap, wasting little', () => {
    const cases: number[][] = [[100, 32, 8], [240, 128, 32], [1000, 200, 24], [65, 64, 16], [512, 136, 24]];
    for (let size = 17; size < 700; size += 7) cases.push([size, 64, 24], [size, 40, 12], [size, 256, 24]);
    for (const [size, tile, overlap] of cases) {
      const spans = planSpans(size, tile, overlap);
      expect(spans[0].start).toBe(0);
      expect(spans.at(-1)!.start + spans.at(-1)!.length).toBe(size);
      for (let i = 1; i < spans.length; i++) {
        expect(spans[i - 1].start + spans[i - 1].length - spans[i].start).toBeGreaterThanOrEqual(overlap);
      }
      expect(spans.every((s) => s.length <= tile)).toBe(true);
      // The fewest tiles of at most `tile` that can cover the axis with this overlap.
      if (size > tile) expect(spans.length).toBe(Math.ceil((size - overlap) / (tile - overlap)));
    }
    // 512 px in tiles of ≤136 with overlap 24: five tiles of 123, not five of 136.
    expect(planSpans(512, 136, 24).map((s) => s.length)).toEqual([123, 123, 123, 123, 123]);
  });

  it('keeps the old layout property: tiles within the image', () => {
    for (const [size, tile, overlap] of [[100, 32, 8], [1000, 200, 24]]) {
      const spans = planSpans(size, tile, overlap);
      for (const s of spans) expect(s.start >= 0 && s.start + s.length <= size).toBe(true);
    }
  });

  it('refuses an overlap as large as the tile', () => {
    expect(() => planSpans(100, 16, 16)).toThrow(/overlap/);
  });
});

describe('axisWeights', () => {
  it('adds to exactly 1 at every output pixel', () => {
    for (const [size, tile, overlap, scale] of [[240, 128, 32, 4], [100, 32, 8, 3], [500, 64, 30, 2]]) {
      const spans = planSpans(size, tile, overlap);
      const weights = axisWeights(spans, scale, Math.floor(overlap / 2));
      const sum = new Float64Array(size * scale);
      spans.forEach((s, i) => weights[i].forEach((w, q) => (sum[s.start * scale + q] += w)));
      for (const v of sum) expect(v).toBeCloseTo(1, 6);
    }
  });

  it('gives no weight to the pixels near an inner tile edge', () => {
    const spans = planSpans(100, 40, 20);
    const w = axisWeights(spans, 1, 10);
    // The second tile's first 10 pixels are distorted by padding: weight 0 there.
    expect(Array.from(w[1].slice(0, 10)).every((v) => v === 0)).toBe(true);
  });
});

describe('upscaleTiled', () => {
  it('equals the whole-image result within 1 grey level', async () => {
    const image = patternImage(150, 97);
    const model = createBoxUpscaler(3, 2, 4096);
    const whole = await upscaleTiled(image, model, { tileSize: 4096, overlap: 0 });
    expect(whole.tiles).toBe(1);
    const tiled = await upscaleTiled(image, model, { tileSize: 40, overlap: 12 });
    expect(tiled.tiles).toBeGreaterThan(4);
    expect(tiled.image.width).toBe(450);
    expect(tiled.image.height).toBe(291);
    expect(maxAbsDiff(tiled.image.data, whole.image.data)).toBeLessThanOrEqual(1);
  });

  it('shows seams when tiles are stitched without overlap (the test can fail)', async () => {
    const image = patternImage(96, 96);
    const model = createBoxUpscaler(2, 2, 4096);
    const whole = await upscaleTiled(image, model, { tileSize: 4096, overlap: 0 });
    const naive = await upscaleTiled(image, model, { tileSize: 32, overlap: 0 });
    expect(maxAbsDiff(naive.image.data, whole.image.data)).toBeGreaterThan(10);
  });

  it('preserves alpha by resizing it', async () => {
    const image = patternImage(33, 21, true);
    const out = await upscaleTiled(image, createBoxUpscaler(2), { tileSize: 16, overlap: 6 });
    // Pixel centres that coincide with source pixels keep the source alpha exactly (bilinear).
    const alphaAt = (img: { width: number; data: Uint8ClampedArray }, x: number, y: number) => img.data[(y * img.width + x) * 4 + 3];
    expect(alphaAt(out.image, 0, 0)).toBe(alphaAt(image, 0, 0));
    expect(alphaAt(out.image, 65, 41)).toBe(alphaAt(image, 32, 20));
    const middle = alphaAt(out.image, 20, 10);
    expect(middle).toBeGreaterThanOrEqual(Math.min(alphaAt(image, 9, 4), alphaAt(image, 10, 5)));
    expect(middle).toBeLessThanOrEqual(Math.max(alphaAt(image, 9, 4), alphaAt(image, 10, 5)));
    // Opaque input → opaque output.
    const opaque = await upscaleTiled(patternImage(10, 10), createBoxUpscaler(2), { tileSize: 16, overlap: 4 });
    expect(opaque.image.data.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
  });

  it('maps pixels into the model value range and back', async () => {
    const seen: number[] = [];
    const unitModel = {
      scale: 2,
      valueRange: [0, 1] as const,
      async run(input: { data: Float32Array; dims: readonly number[] }) {
        seen.push(Math.max(...input.data));
        return createBoxUpscaler(2, 0).run(input);
      },
    };
    const image = patternImage(12, 12);
    const out = await upscaleTiled(image, unitModel, { tileSize: 64, overlap: 0 });
    expect(Math.max(...seen)).toBeLessThanOrEqual(1);
    // Radius-0 box + nearest = pixel replication: exact round trip through [0, 1].
    expect(out.image.data[0]).toBe(image.data[0]);
    expect(out.image.data[(2 * 24 + 2) * 4 + 1]).toBe(image.data[(1 * 12 + 1) * 4 + 1]);
  });

  it('reports progress per tile and stops between tiles', async () => {
    const progress: string[] = [];
    const model = createBoxUpscaler(2);
    let calls = 0;
    await expect(
      upscaleTiled(patternImage(64, 64), model, {
        tileSize: 24,
        overlap: 4,
        onTile: (done, total) => progress.push(`${done}/${total}`),
        beforeTile: () => {
          if (calls++ === 3) throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    expect(model.calls).toHaveLength(3);
    expect(progress).toEqual(['1/9', '2/9', '3/9']);
  });

  it('rejects a model whose output has the wrong shape', async () => {
    const wrong = { scale: 2, valueRange: [0, 255] as const, run: createBoxUpscaler(3).run };
    await expect(upscaleTiled(patternImage(8, 8), wrong, { tileSize: 64, overlap: 0 })).rejects.toThrow(
      /expected \[1, 3, 16, 16\]/,
    );
  });
});
