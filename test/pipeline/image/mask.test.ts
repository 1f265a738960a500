import { describe, expect, it } from 'vitest';
import {
  blurKernelSize,
  blurMask,
  createMask,
  cropImage,
  cropMask,
  dilateMask,
  expandToAspect,
  gaussianKernelQ8,
  maskBounds,
  maskForOverlay,
  maskFromImage,
  pasteWithMask,
  resizeMaskNearest,
  type Mask,
} from '../../../src/pipeline/image/mask';
import { createRgbaImage, type RgbaImage } from '../../../src/pipeline/image/rgba';
import { createRng } from '../../../src/pipeline/random';

/** A mask from rows of numbers (tests read as pictures). */
function maskOf(rows: number[][]): Mask {
  return createMask(rows[0].length, rows.length, Uint8Array.from(rows.flat()));
}
function rowsOf(mask: Mask): number[][] {
  return Array.from({ length: mask.height }, (_, y) => [...mask.data.subarray(y * mask.width, (y + 1) * mask.width)]);
}
/** A w×h mask with 255 at the given (x, y) points. */
function points(width: number, height: number, ...at: Array<[number, number]>): Mask {
  const mask = createMask(width, height);
  for (const [x, y] of at) mask.data[y * width + x] = 255;
  return mask;
}
/** The set columns / rows of a binary mask, to state a dilated square briefly. */
function extent(mask: Mask): { xs: number[]; ys: number[] } {
  const xs = new Set<number>();
  const ys = new Set<number>();
  mask.data.forEach((v, i) => {
    if (v) {
      xs.add(i % mask.width);
      ys.add(Math.floor(i / mask.width));
    }
  });
  return { xs: [...xs].sort((a, b) => a - b), ys: [...ys].sort((a, b) => a - b) };
}
function solid(width: number, height: number, rgba: [number, number, number, number]): RgbaImage {
  const img = createRgbaImage(width, height);
  for (let i = 0; i < width * height; i++) img.data.set(rgba, i * 4);
  return img;
}
function randomImage(width: number, height: number, seed: number): RgbaImage {
  const rng = createRng(seed);
  const img = createRgbaImage(width, height);
  for (let i = 0; i < img.data.length; i++) img.data[i] = i % 4 === 3 ? 255 : Math.floor(rng.next() * 256);
  return img;
}

describe('maskFromImage', () => {
  it('reads luminance (Pillow L: 19595·R + 38470·G + 7471·B, 16-bit fixed point) times alpha', () => {
    const img = createRgbaImage(5, 1);
    img.data.set([255, 255, 255, 255], 0); // opaque white → 255
    img.data.set([255, 0, 0, 255], 4); // red: (255·19595 + 32768) >> 16 = 76
    img.data.set([255, 255, 255, 0], 8); // transparent white counts as 0
    img.data.set([255, 255, 255, 128], 12); // half-transparent white: round(255·128/255) = 128
    img.data.set([90, 90, 90, 255], 16); // grey stays its level (the weights sum to 65536)
    const { mask, resized } = maskFromImage(img, 5, 1);
    expect([...mask.data]).toEqual([255, 76, 0, 128, 90]);
    expect(resized).toBe(false);
  });

  it('resizes a mask of another size nearest-neighbour and says so', () => {
    const img = createRgbaImage(3, 1);
    [0, 128, 255].forEach((v, i) => img.data.set([v, v, v, 255], i * 4));
    // 3 → 2: target x samples ⌊(x + ½)·3/2⌋ = 0, 2.
    const { mask, resized } = maskFromImage(img, 2, 2);
    expect(rowsOf(mask)).toEqual([[0, 255], [0, 255]]);
    expect(resized).toBe(true);
    // 2 → 4 doubles each pixel; 5 → 3 samples ⌊(x + ½)·5/3⌋ = 0, 2, 4.
    expect(rowsOf(resizeMaskNearest(maskOf([[1, 2]]), 4, 1))).toEqual([[1, 1, 2, 2]]);
    expect(rowsOf(resizeMaskNearest(maskOf([[1, 2, 3, 4, 5]]), 3, 1))).toEqual([[1, 3, 5]]);
  });
});

describe('dilateMask (ADetailer dilate_erode: cv2 with a |px|×|px| MORPH_RECT kernel)', () => {
  it('dilates with a square anchored at ⌊px/2⌋: an even size reaches one further right/down', () => {
    // px = 4: anchor 2, so out(x) = max in(x − 2 … x + 1); a pixel at 3 lights 2…5.
    expect(extent(dilateMask(points(8, 8, [3, 3]), 4))).toEqual({ xs: [2, 3, 4, 5], ys: [2, 3, 4, 5] });
    // px = 3: anchor 1, symmetric 2…4; the square kernel fills the corners (not an ellipse).
    const three = dilateMask(points(8, 8, [3, 3]), 3);
    expect(extent(three)).toEqual({ xs: [2, 3, 4], ys: [2, 3, 4] });
    expect(three.data.reduce((n, v) => n + (v ? 1 : 0), 0)).toBe(9);
  });

  it('ignores pixels outside the image (a mask touching the border grows inward only)', () => {
    expect(extent(dilateMask(points(6, 4, [0, 0]), 4))).toEqual({ xs: [0, 1, 2], ys: [0, 1, 2] });
    expect(extent(dilateMask(points(6, 4, [5, 3]), 4))).toEqual({ xs: [4, 5], ys: [2, 3] });
  });

  it('erodes with the same kernel for negative px; a full mask stays full', () => {
    const block = createMask(8, 8);
    for (let y = 1; y <= 6; y++) for (let x = 1; x <= 6; x++) block.data[y * 8 + x] = 255;
    // px = −4: out(x) = min in(x − 2 … x + 1); inside 1…6 needs x − 2 ≥ 1 and x + 1 ≤ 6 → 3…5.
    expect(extent(dilateMask(block, -4))).toEqual({ xs: [3, 4, 5], ys: [3, 4, 5] });
    const full = createMask(5, 3, new Uint8Array(15).fill(255));
    expect([...dilateMask(full, -4).data]).toEqual([...full.data]);
  });

  it('keeps grey levels (max/min filter) and copies for 0 and ±1', () => {
    const grey = maskOf([[0, 40, 0, 200, 0]]);
    expect(rowsOf(dilateMask(grey, 3))).toEqual([[40, 40, 200, 200, 200]]);
    for (const px of [0, 1, -1]) {
      const copy = dilateMask(grey, px);
      expect(copy.data).toEqual(grey.data);
      expect(copy.data).not.toBe(grey.data);
    }
  });
});

describe('blurMask (A1111 ≥ 1.6: cv2.GaussianBlur per axis, kernel 2·⌊2.5·blur + 0.5⌋ + 1)', () => {
  it('uses the kernel size rule and OpenCV’s 8-bit fixed-point taps', () => {
    expect([1, 2, 4, 8].map(blurKernelSize)).toEqual([7, 11, 21, 41]);
    // σ = 1: exp(−x²/2) for x = 3, 2, 1 → 0.011109, 0.135335, 0.606531; their sum ·2 + 1 = 2.505950;
    // normalised ·256 = 1.135, 13.825, 61.961 → 1, 14, 62; centre 256 − 2·77 = 102.
    expect([...gaussianKernelQ8(1, 7)]).toEqual([1, 14, 62, 102, 62, 14, 1]);
    for (const s of [0.5, 2, 4, 7]) {
      expect(gaussianKernelQ8(s, blurKernelSize(s)).reduce((a, b) => a + b, 0)).toBe(256);
    }
  });

  it('blurs an impulse to its taps, rounding Σ tap·v / 256 half up', () => {
    // A one-row mask: the vertical pass on height 1 reflects onto itself and changes nothing.
    // (255·102 + 128) >> 8 = 102, (255·62 + 128) >> 8 = 62, 14, 1.
    const row = maskOf([[0, 0, 0, 0, 255, 0, 0, 0, 0]]);
    expect(rowsOf(blurMask(row, 1))).toEqual([[0, 1, 14, 62, 102, 62, 14, 1, 0]]);
  });

  it('reflects at the border without repeating the edge pixel (BORDER_REFLECT_101)', () => {
    // Impulse at x = 1 of 5, taps 1 14 62 102 62 14 1 at offsets −3…3; reflect-101 maps −1 → 1 and
    // 7 → 1, so each output sums the taps that land on 1 either way:
    // x=0: +1, −1 → 62 + 62; x=1: 0, −2 → 102 + 14; x=2: −1, −3 → 62 + 1; x=3: −2 → 14;
    // x=4: −3, +3 (7 → 1) → 1 + 1. Each (255·Σ + 128) >> 8 = Σ.
    expect(rowsOf(blurMask(maskOf([[0, 255, 0, 0, 0]]), 1))).toEqual([[124, 116, 63, 14, 2]]);
  });

  it('blurs x then y, each pass rounded to 8 bits', () => {
    const mask = points(9, 9, [4, 4]);
    const out = blurMask(mask, 1);
    // Row 4 after the x pass is 0 1 14 62 102 62 14 1 0; the y pass multiplies by the taps again:
    // centre (102·102 + 128) >> 8 = 41, beside it (62·102 + 128) >> 8 = 25, diagonal (62·62 + 128) >> 8 = 15.
    expect(out.data[4 * 9 + 4]).toBe(41);
    expect(out.data[4 * 9 + 3]).toBe(25);
    expect(out.data[3 * 9 + 4]).toBe(25);
    expect(out.data[3 * 9 + 3]).toBe(15);
    // Only x: the column through the impulse stays a single row.
    expect(extent(blurMask(mask, 1, 0)).ys).toEqual([4]);
    expect(blurMask(mask, 0).data).toEqual(mask.data);
  });

  it('equals the plain Σ tap·value per pixel on any mask (the fast paths skip work, not values)', () => {
    // The definition, pixel by pixel: reflect-101 borders (applied as often as the kernel needs),
    // x pass rounded to 8 bits, then the y pass.
    const reflect = (p: number, n: number) => {
      if (n === 1) return 0;
      while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
      return p;
    };
    const pass = (m: Mask, sigma: number, horizontal: boolean): Mask => {
      const taps = gaussianKernelQ8(sigma, blurKernelSize(sigma));
      const half = (taps.length - 1) / 2;
      const out = createMask(m.width, m.height);
      for (let y = 0; y < m.height; y++)
        for (let x = 0; x < m.width; x++) {
          let acc = 0;
          taps.forEach((t, k) => {
            const sx = horizontal ? reflect(x + k - half, m.width) : x;
            const sy = horizontal ? y : reflect(y + k - half, m.height);
            acc += t * m.data[sy * m.width + sx];
          });
          out.data[y * m.width + x] = (acc + 128) >> 8;
        }
      return out;
    };
    const rng = createRng(7);
    // Flat 0 and 255 areas with a noisy patch and a grey run: every fast path and every edge case.
    const sample = (width: number, height: number) => {
      const m = createMask(width, height);
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) {
          const i = y * width + x;
          if (x > width / 3 && x < (2 * width) / 3 && y > height / 4) m.data[i] = 255;
          if (x < width / 4 && y < height / 3) m.data[i] = Math.floor(rng.next() * 256);
          if (y === height - 1 && x > width / 2) m.data[i] = 128;
        }
      return m;
    };
    for (const [width, height] of [[1, 1], [1, 9], [9, 1], [3, 2], [17, 11], [64, 40]]) {
      for (const [bx, by] of [[4, 4], [1, 2.5], [8, 0], [0, 0.3]]) {
        const m = sample(width, height);
        let expected = m;
        if (bx > 0) expected = pass(expected, bx, true);
        if (by > 0) expected = pass(expected, by, false);
        expect(blurMask(m, bx, by).data, `${width}×${height}, blur ${bx}, ${by}`).toEqual(expected.data);
      }
    }
  });

  it('reaches at most ⌊2.5·blur + 0.5⌋ px (10 px for the default 4)', () => {
    const out = blurMask(points(41, 41, [20, 20]), 4);
    const { xs, ys } = extent(out);
    expect(xs[0]).toBeGreaterThanOrEqual(10);
    expect(xs[xs.length - 1]).toBeLessThanOrEqual(30);
    expect(ys[0]).toBeGreaterThanOrEqual(10);
  });
});

describe('maskForOverlay', () => {
  it('doubles (clipped) for the whole picture, keeps the blurred mask for only masked', () => {
    const blurred = maskOf([[0, 1, 100, 127, 128, 255]]);
    expect(rowsOf(maskForOverlay(blurred, 'whole_picture'))).toEqual([[0, 2, 200, 254, 255, 255]]);
    expect(rowsOf(maskForOverlay(blurred, 'only_masked'))).toEqual([[0, 1, 100, 127, 128, 255]]);
  });
});

describe('maskBounds (A1111 get_crop_region_v2)', () => {
  it('is null for an empty mask', () => {
    expect(maskBounds(createMask(7, 5))).toBeNull();
    expect(maskBounds(createMask(7, 5), 32)).toBeNull();
  });

  it('is the exclusive bounding box of non-zero pixels, padded and clamped', () => {
    const mask = points(10, 8, [2, 3], [5, 4]);
    mask.data[6 * 10 + 4] = 1; // faint counts: any non-zero
    expect(maskBounds(mask)).toEqual({ x1: 2, y1: 3, x2: 6, y2: 7 });
    expect(maskBounds(mask, 1)).toEqual({ x1: 1, y1: 2, x2: 7, y2: 8 });
    expect(maskBounds(mask, 32)).toEqual({ x1: 0, y1: 0, x2: 10, y2: 8 });
  });

  it('handles a mask touching the borders', () => {
    expect(maskBounds(points(5, 3, [0, 0], [4, 2]))).toEqual({ x1: 0, y1: 0, x2: 5, y2: 3 });
    expect(maskBounds(points(5, 3, [4, 1]), 2)).toEqual({ x1: 2, y1: 0, x2: 5, y2: 3 });
  });
});

describe('expandToAspect (A1111 expand_crop_region)', () => {
  it('grows the short side to the target aspect, half on each side', () => {
    // 128×32 box, 512×512 model: height → 128, growth 96 split 48 / 48 (A1111's docstring example).
    expect(expandToAspect({ x1: 100, y1: 200, x2: 228, y2: 232 }, 512, 512, 1024, 1024)).toEqual({
      x1: 100, y1: 152, x2: 228, y2: 280,
    });
    // 10×40 box, 512×768 model (ratio ⅔): width 40·⅔ = 26.67 → growth int(16.67) = 16, 8 / 8.
    expect(expandToAspect({ x1: 10, y1: 10, x2: 20, y2: 50 }, 512, 768, 100, 100)).toEqual({
      x1: 2, y1: 10, x2: 28, y2: 50,
    });
  });

  it('puts the odd pixel after and shifts a box that leaves the image back inside', () => {
    // 11×40 box, square: growth 29 → 14 before, 15 after → x1 = −4, x2 = 36 → shifted right by 4.
    expect(expandToAspect({ x1: 10, y1: 10, x2: 21, y2: 50 }, 512, 512, 100, 100)).toEqual({
      x1: 0, y1: 10, x2: 40, y2: 50,
    });
    // At the bottom: y 952…1080 → y2 ≥ 1024, shifted up by 56.
    expect(expandToAspect({ x1: 100, y1: 1000, x2: 228, y2: 1032 }, 512, 512, 1024, 1024)).toEqual({
      x1: 100, y1: 896, x2: 228, y2: 1024,
    });
    // At the top: y −48…80 → shifted down by 48.
    expect(expandToAspect({ x1: 100, y1: 0, x2: 228, y2: 32 }, 512, 512, 1024, 1024)).toEqual({
      x1: 100, y1: 0, x2: 228, y2: 128,
    });
  });

  it('clamps to the image when it is too small for the aspect', () => {
    // 100×10 in a 100×40 image, square: −45…55 → up 15 → −60…40 → down 60 → 0…100 → clamp 40.
    expect(expandToAspect({ x1: 0, y1: 0, x2: 100, y2: 10 }, 512, 512, 100, 40)).toEqual({
      x1: 0, y1: 0, x2: 100, y2: 40,
    });
  });

  it('leaves a box already at the aspect alone', () => {
    expect(expandToAspect({ x1: 3, y1: 5, x2: 67, y2: 101 }, 512, 768, 200, 200)).toEqual({
      x1: 3, y1: 5, x2: 67, y2: 101,
    });
  });
});

describe('cropImage / cropMask', () => {
  it('copies the box (x2, y2 exclusive) and refuses boxes outside the image', () => {
    const img = createRgbaImage(4, 3);
    for (let i = 0; i < 12; i++) img.data[i * 4] = i;
    const crop = cropImage(img, { x1: 1, y1: 1, x2: 3, y2: 3 });
    expect([crop.width, crop.height]).toEqual([2, 2]);
    expect([...crop.data].filter((_, i) => i % 4 === 0)).toEqual([5, 6, 9, 10]);
    expect(rowsOf(cropMask(maskOf([[1, 2, 3], [4, 5, 6]]), { x1: 1, y1: 0, x2: 3, y2: 2 }))).toEqual([[2, 3], [5, 6]]);
    expect(() => cropImage(img, { x1: 2, y1: 0, x2: 5, y2: 1 })).toThrow(/inside 4×3/);
    expect(() => cropImage(img, { x1: 2, y1: 0, x2: 2, y2: 1 })).toThrow();
  });
});

describe('pasteWithMask (A1111 apply_overlay with Pillow’s integer compositing)', () => {
  it('keeps the original where the mask is 0, shows the patch where it is 255', () => {
    const original = solid(3, 1, [200, 100, 50, 255]);
    const patch = solid(3, 1, [10, 20, 30, 255]);
    const out = pasteWithMask(original, patch, null, maskOf([[0, 255, 0]]));
    expect([...out.data]).toEqual([200, 100, 50, 255, 10, 20, 30, 255, 200, 100, 50, 255]);
  });

  it('blends partial mask values exactly as Pillow does', () => {
    // Mask 128 → overlay alpha 127. paste: round(200·127/255) = 100; RGBa→RGBA: ⌊255·100/127⌋ = 200;
    // alpha_composite over an opaque 0: coef = 127·128 = 16256, t = 200·16256 + 16384 = 3267584,
    // ((t >> 8) + t) >> 8 >> 7 = 100.
    // Mask 1 → alpha 254 over 0 with value 255: coef 254·128 = 32512, t = 8306944 → 254.
    const original = solid(2, 1, [200, 255, 0, 255]);
    const patch = solid(2, 1, [0, 0, 0, 255]);
    const out = pasteWithMask(original, patch, null, maskOf([[128, 1]]));
    expect([out.data[0], out.data[5]]).toEqual([100, 254]);
  });

  it('is byte-identical where the mask is 0 for every channel value', () => {
    const original = createRgbaImage(256, 1);
    for (let v = 0; v < 256; v++) original.data.set([v, 255 - v, (v * 7) % 256, 255], v * 4);
    const out = pasteWithMask(original, solid(256, 1, [255, 0, 128, 255]), null, createMask(256, 1));
    expect(out.data).toEqual(original.data);
  });

  it('pastes into a box, fitting a patch of another aspect by centre crop (resize mode 1)', () => {
    const original = solid(4, 3, [9, 9, 9, 255]);
    // A 4×2 patch for a 2×2 box: scaled to cover is 4×2 itself, pasted at (1 − 2, 0) → columns 1, 2.
    const patch = createRgbaImage(4, 2);
    for (let i = 0; i < 8; i++) patch.data.set([i * 10, 0, 0, 255], i * 4);
    const box = { x1: 1, y1: 1, x2: 3, y2: 3 };
    const mask = createMask(4, 3);
    for (let y = 1; y < 3; y++) for (let x = 1; x < 3; x++) mask.data[y * 4 + x] = 255;
    const out = pasteWithMask(original, patch, box, mask);
    const reds = [...out.data].filter((_, i) => i % 4 === 0);
    expect(reds).toEqual([9, 9, 9, 9, 9, 10, 20, 9, 9, 50, 60, 9]);
  });
});

describe('the unchanged-outside-the-mask guarantee', () => {
  // A painted blob on an odd-sized random image, dilated and blurred with the detailer defaults,
  // redrawn with noise in both inpaint areas.
  const width = 61;
  const height = 47;
  const dilate = 4;
  const blur = 4;
  const original = randomImage(width, height, 7);
  const painted = createMask(width, height);
  for (let y = 18; y < 27; y++) for (let x = 25; x < 33; x++) painted.data[y * width + x] = 255;
  const blurred = blurMask(dilateMask(painted, dilate), blur);

  function checkUnchanged(out: RgbaImage, overlay: Mask) {
    let unchanged = 0;
    let kept = 0;
    for (let i = 0; i < overlay.data.length; i++) {
      if (overlay.data[i] !== 0) continue;
      kept++;
      const same = [0, 1, 2, 3].every((c) => out.data[i * 4 + c] === original.data[i * 4 + c]);
      if (same) unchanged++;
    }
    expect(kept).toBeGreaterThan(width * height / 2);
    expect(unchanged).toBe(kept);
    // Farther than 2.5·blur + dilate px from the paint, the mask is 0: those pixels are among the kept.
    const reach = Math.floor(2.5 * blur + 0.5) + dilate;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (x < 25 - reach || x >= 33 + reach || y < 18 - reach || y >= 27 + reach) {
          expect(overlay.data[y * width + x]).toBe(0);
        }
      }
    }
  }

  it('holds for the whole picture', () => {
    const overlay = maskForOverlay(blurred, 'whole_picture');
    const out = pasteWithMask(original, randomImage(width, height, 8), null, overlay);
    checkUnchanged(out, overlay);
    expect(out.data).not.toEqual(original.data);
  });

  it('holds for only masked (crop, aspect, redraw at model size, paste back)', () => {
    const region = maskBounds(blurred, 32);
    expect(region).not.toBeNull();
    const box = expandToAspect(region!, 64, 48, width, height);
    const overlay = maskForOverlay(blurred, 'only_masked');
    const redrawn = randomImage(64, 48, 9); // the model's output at its native size
    const out = pasteWithMask(original, redrawn, box, overlay);
    checkUnchanged(out, overlay);
    expect(out.data).not.toEqual(original.data);
  });
});
