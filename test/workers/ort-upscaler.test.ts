import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../src/media/png';
import { upscaleTiled } from '../../src/pipeline/image/tiling';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { OrtUpscalerProvider } from '../../workers/ort/upscalers';
import { maxTileSize } from '../../workers/ort/tile-size';
import { createNodeUpscalers, modelsDir, nodeOrt } from '../helpers/node-ort';
import { maxAbsDiff } from '../helpers/test-upscaler';

function crop(image: ReturnType<typeof decodePng>, x0: number, y0: number, w: number, h: number) {
  const out = createRgbaImage(w, h);
  for (let y = 0; y < h; y++) {
    out.data.set(image.data.subarray(((y0 + y) * image.width + x0) * 4, ((y0 + y) * image.width + x0 + w) * 4), y * w * 4);
  }
  return out;
}

const chelsea = decodePng(new Uint8Array(readFileSync(new URL('../fixtures/images/chelsea.png', import.meta.url))));

describe('OrtUpscalerProvider (onnxruntime-web WASM in Node, bundled ESRGAN)', () => {
  const provider = createNodeUpscalers();

  it('lists the bundled models', async () => {
    expect(await provider.available()).toEqual([
      { name: 'esrgan-slim-x2', scale: 2, bundled: true },
      { name: 'esrgan-slim-x3', scale: 3, bundled: true },
      { name: 'esrgan-slim-x4', scale: 4, bundled: true },
      { name: 'esrgan-slim-x8', scale: 8, bundled: true },
    ]);
  });

  it('a tiled result equals the whole-image result within 1 grey level (real model)', async () => {
    const model = await provider.load(undefined, 2);
    expect(model.receptiveRadius).toBeGreaterThan(0);
    const image = crop(chelsea, 150, 60, 150, 110);
    const whole = await upscaleTiled(image, model, { tileSize: 1024, overlap: 0 });
    const tiled = await upscaleTiled(image, model, { tileSize: 64, overlap: 2 * (model.receptiveRadius + 2) });
    expect(tiled.tiles).toBe(12);
    expect(maxAbsDiff(tiled.image.data, whole.image.data)).toBeLessThanOrEqual(1);
    // Tiles stitched without overlap differ from the whole image at their edges (2 grey levels
    // measured here), so the comparison above is able to fail.
    const naive = await upscaleTiled(image, model, { tileSize: 64, overlap: 0 });
    expect(maxAbsDiff(naive.image.data, whole.image.data)).toBeGreaterThan(1);
  });

  it('runs ×3 and ×4 with the right output size', async () => {
    const image = crop(chelsea, 0, 0, 24, 20);
    for (const factor of [3, 4]) {
      const model = await provider.load(undefined, factor);
      const out = await upscaleTiled(image, model, { tileSize: model.maxTileSize, overlap: 8 });
      expect([out.image.width, out.image.height]).toEqual([24 * factor, 20 * factor]);
    }
  });

  it('names an unknown model and lists the available ones', async () => {
    await expect(provider.load('nope', 2)).rejects.toThrow(/unknown upscaler model 'nope'; available: esrgan-slim-x2 \(×2\)/);
  });

  it('refuses a model file whose sha256 does not match models.json', async () => {
    const tampered = new OrtUpscalerProvider({
      ort: nodeOrt(),
      backend: 'wasm',
      readModelFile: async (file) => {
        const bytes = new Uint8Array(readFileSync(`${modelsDir}${file}`));
        if (file.endsWith('.onnx')) bytes[bytes.length - 1] ^= 0xff;
        return bytes;
      },
    });
    await expect(tampered.load(undefined, 2)).rejects.toThrow(/is damaged \(sha256/);
  });
});

describe('maxTileSize', () => {
  it('shrinks with scale and channel count and respects a small GPU buffer limit', () => {
    const x2 = maxTileSize(2, 12, 'wasm');
    const x4 = maxTileSize(4, 48, 'wasm');
    expect(x2).toBeGreaterThanOrEqual(x4);
    expect(maxTileSize(4, 48, 'webgpu', { maxBufferBytes: 64 * 2 ** 20 })).toBeLessThan(x4);
    for (const t of [x2, x4]) expect(t % 8).toBe(0);
    // Sub-pixel models (3 channels at output resolution) are bounded by their input-side convs:
    // 64 channels × 5×5 unfolded at 256² is 419 MB, under the 512 MB WASM budget.
    expect(maxTileSize(4, 3, 'wasm')).toBe(256);
    expect(maxTileSize(4, 3, 'webgpu', { maxBufferBytes: 256 * 2 ** 20 })).toBe(144);
  });
});
