/**
 * Letterbox geometry: the image keeps its aspect, is centred, the padding is recorded, and a box
 * found in the model's input maps back onto the original image's pixels.
 */
import { describe, expect, it } from 'vitest';
import { detect } from '../../../src/pipeline/detection/detect';
import { imageToInput, inputToImage, letterbox, letterboxFrame } from '../../../src/pipeline/detection/letterbox';
import { createRgbaImage, type RgbaImage } from '../../../src/pipeline/image/rgba';
import type { DetectorPort } from '../../../src/pipeline/ports';
import type { Tensor } from '../../../src/pipeline/tensor';

function solid(width: number, height: number, rgb: [number, number, number]): RgbaImage {
  const image = createRgbaImage(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([...rgb, 255], i * 4);
  return image;
}

describe('letterbox', () => {
  it('landscape: full width, centred vertically; portrait: full height, centred horizontally', () => {
    expect(letterboxFrame(400, 200, 100)).toEqual({ size: 100, imageWidth: 400, imageHeight: 200, left: 0, top: 25, contentWidth: 100, contentHeight: 50 });
    // 30×90 → 21.33 px wide, rounded to 21; (64 − 21) / 2 = 21.5 → 21 px on the left.
    expect(letterboxFrame(30, 90, 64)).toMatchObject({ left: 21, top: 0, contentWidth: 21, contentHeight: 64 });
    expect(letterboxFrame(256, 256, 256)).toMatchObject({ left: 0, top: 0, contentWidth: 256, contentHeight: 256 });
    // An extreme strip still covers at least one pixel.
    expect(letterboxFrame(1000, 1, 64)).toMatchObject({ contentWidth: 64, contentHeight: 1, top: 31 });
  });

  it('maps pixels into the value range and pads with the given grey', () => {
    const { input, frame } = letterbox(solid(40, 20, [255, 0, 51]), 10, [-1, 1]);
    expect(input.dims).toEqual([1, 3, 10, 10]);
    // 10×5 content, (10 − 5) / 2 = 2.5 → 2 rows above, 3 below.
    expect(frame).toMatchObject({ left: 0, top: 2, contentWidth: 10, contentHeight: 5 });
    const at = (c: number, y: number, x: number) => input.data[c * 100 + y * 10 + x];
    // Padding rows are black (−1); content rows carry the colour: 255 → 1, 0 → −1, 51 → −0.6.
    expect([at(0, 0, 0), at(0, 1, 9), at(0, 7, 5), at(0, 9, 0)]).toEqual([-1, -1, -1, -1]);
    expect([at(0, 2, 0), at(0, 6, 9)]).toEqual([1, 1]);
    expect(at(1, 4, 5)).toBe(-1);
    expect(at(2, 6, 9)).toBeCloseTo(-0.6, 6);
    // Ultralytics pads with grey 114 in [0, 1].
    const yolo = letterbox(solid(40, 20, [0, 0, 0]), 10, [0, 1], 114);
    expect(yolo.input.data[0]).toBeCloseTo(114 / 255, 6);
    expect(yolo.input.data[3 * 10 + 4]).toBe(0);
  });

  it('image → input → image is the identity', () => {
    for (const [w, h, s] of [
      [512, 512, 256],
      [451, 300, 256],
      [300, 451, 192],
      [37, 1000, 128],
    ]) {
      const frame = letterboxFrame(w, h, s);
      for (const [x, y] of [
        [0, 0],
        [w, h],
        [w / 3, h / 7],
      ]) {
        const [ix, iy] = imageToInput(frame, x, y);
        expect(ix).toBeGreaterThanOrEqual(frame.left - 1e-9);
        expect(iy).toBeLessThanOrEqual(frame.top + frame.contentHeight + 1e-9);
        const [bx, by] = inputToImage(frame, ix, iy);
        expect(bx).toBeCloseTo(x, 9);
        expect(by).toBeCloseTo(y, 9);
      }
    }
  });
});

/**
 * A stand-in YOLO model that "detects" the bright pixels of its input: it returns their bounding
 * box in input pixels as one `[1, 5, 1]` box. What `detect` reports must then be the bright
 * rectangle of the original image, to within the resampling's half pixel of input.
 */
function brightSpotDetector(inputSize: number): DetectorPort {
  return {
    id: 'bright-spot',
    layout: 'yolo',
    inputSize,
    valueRange: [0, 1],
    classes: ['spot'],
    async run(input: Tensor): Promise<Tensor[]> {
      const [, , h, w] = input.dims;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (input.data[y * w + x] > 0.75) {
            x0 = Math.min(x0, x);
            y0 = Math.min(y0, y);
            x1 = Math.max(x1, x + 1);
            y1 = Math.max(y1, y + 1);
          }
        }
      }
      // Two boxes so the output has N > 4 + classes (the YOLO signature); the second scores 0.
      const data = new Float32Array([(x0 + x1) / 2, 0, (y0 + y1) / 2, 0, x1 - x0, 0, y1 - y0, 0, 0.9, 0]);
      const n = 6;
      const padded = new Float32Array(5 * n);
      for (let r = 0; r < 5; r++) for (let i = 0; i < 2; i++) padded[r * n + i] = data[r * 2 + i];
      return [{ data: padded, dims: [1, 5, n] }];
    },
  };
}

describe('detect: boxes come back in the original image pixels', () => {
  it.each([
    [400, 200, [100, 60, 260, 140]],
    [200, 400, [20, 300, 120, 380]],
    [1000, 300, [0, 0, 200, 100]],
  ] as const)('%i×%i image, white rectangle %j', async (w, h, rect) => {
    const image = solid(w, h, [0, 0, 0]);
    for (let y = rect[1]; y < rect[3]; y++) for (let x = rect[0]; x < rect[2]; x++) image.data.set([255, 255, 255, 255], (y * w + x) * 4);
    const size = 128;
    const found = await detect(image, brightSpotDetector(size), { threshold: 0.5 });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ class: 'spot', score: expect.closeTo(0.9, 6) });
    // One input pixel is max(w, h) / 128 image pixels: the tolerance of the round trip.
    const pixel = Math.max(w, h) / size;
    found[0].box.forEach((v, i) => expect(Math.abs(v - rect[i])).toBeLessThanOrEqual(pixel));
  });
});
