/**
 * Mask and crop geometry for inpainting and the detailer, following AUTOMATIC1111's webui
 * (modules/processing.py `StableDiffusionProcessingImg2Img.init` and `apply_overlay`,
 * modules/masking.py) and ADetailer (adetailer/mask.py `dilate_erode`).
 *
 * A1111 does these steps with OpenCV and Pillow on 8-bit images; the integer arithmetic of those
 * libraries is reproduced here so that results match byte for byte (see each function for where
 * that holds and where it does not).
 */
import { createRgbaImage, type RgbaImage } from './rgba';
import { resizeImage } from './resize';

/** A single-channel 8-bit mask, row-major: 255 = redraw, 0 = keep, values between blend. */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * A crop rectangle in A1111's `crop_region` order: x2 and y2 are exclusive, so the width is
 * x2 − x1 (what PIL's `crop` and `getbbox` use).
 */
export interface CropBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** A1111's "Inpaint area": the whole picture, or only the masked region upscaled to the model. */
export type InpaintArea = 'whole_picture' | 'only_masked';

export function createMask(width: number, height: number, data?: Uint8Array): Mask {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`mask size must be positive integers, got ${width}×${height}`);
  }
  if (data && data.length !== width * height) {
    throw new Error(`mask data has ${data.length} bytes, ${width}×${height} needs ${width * height}`);
  }
  return { width, height, data: data ?? new Uint8Array(width * height) };
}

/** Pillow's DIV255: a/255 rounded to nearest, exact for every product of two bytes. */
function div255(a: number): number {
  const t = a + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * The mask a user's mask PNG means, at the size of the image it applies to.
 *
 * The decoder gives every PNG layout (grey, grey+alpha, RGB, RGBA, palette) as RGBA, so one rule
 * covers them all: the value is the luminance (Pillow's `convert('L')`, ITU-R 601 weights in
 * 16-bit fixed point) multiplied by alpha. Weighting by alpha makes a transparent pixel 0 whatever
 * colour it stores, so white strokes on a transparent canvas (what a mask editor exports) mean
 * "redraw the strokes", and an opaque mask is unaffected. A1111 differs for masks with real alpha:
 * `create_binary_mask` then takes the alpha channel alone and thresholds it at 128, which would
 * make black strokes on transparency redraw too — the opposite of "white = redraw".
 *
 * A mask of another size is resized nearest-neighbour (Pillow's NEAREST sampling: the source
 * pixel under each target pixel's centre), so its values stay the painted ones; `resized` says
 * so for the metadata.
 */
export function maskFromImage(image: RgbaImage, width: number, height: number): { mask: Mask; resized: boolean } {
  const source = createMask(image.width, image.height);
  const px = image.data;
  for (let i = 0, p = 0; i < source.data.length; i++, p += 4) {
    const luminance = (px[p] * 19595 + px[p + 1] * 38470 + px[p + 2] * 7471 + 0x8000) >> 16;
    source.data[i] = div255(luminance * px[p + 3]);
  }
  if (image.width === width && image.height === height) return { mask: source, resized: false };
  return { mask: resizeMaskNearest(source, width, height), resized: true };
}

/** Nearest-neighbour resize: target pixel x samples source ⌊(x + ½)·sw/tw⌋, in exact integers. */
export function resizeMaskNearest(mask: Mask, width: number, height: number): Mask {
  const out = createMask(width, height);
  const columns = new Int32Array(width);
  for (let x = 0; x < width; x++) columns[x] = Math.floor(((2 * x + 1) * mask.width) / (2 * width));
  for (let y = 0; y < height; y++) {
    const sourceRow = Math.floor(((2 * y + 1) * mask.height) / (2 * height)) * mask.width;
    for (let x = 0; x < width; x++) out.data[y * width + x] = mask.data[sourceRow + columns[x]];
  }
  return out;
}

/**
 * ADetailer's "dilate erode": px > 0 dilates, px < 0 erodes, 0 returns a copy. ADetailer uses
 * `cv2.dilate`/`cv2.erode` once with a |px|×|px| `MORPH_RECT` kernel (a square, not an ellipse).
 * OpenCV anchors the kernel at ⌊|px|/2⌋, so an even size reaches one pixel further right and down
 * than left and up (px = 4: a pixel grows 1 px up/left and 2 px down/right), and pixels outside
 * the image take no part (OpenCV's default morphology border). Exact.
 *
 * A rectangle is separable, so this is a 1-D max (or min) along rows, then along columns.
 */
export function dilateMask(mask: Mask, px: number): Mask {
  if (!Number.isInteger(px)) throw new Error(`dilate/erode must be a whole number of pixels, got ${px}`);
  const size = Math.abs(px);
  if (size <= 1) return createMask(mask.width, mask.height, mask.data.slice());
  const anchor = size >> 1;
  const grow = px > 0;
  const { width, height } = mask;
  const rows = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    morphLine(mask.data, rows, y * width, 1, width, size, anchor, grow);
  }
  const out = createMask(width, height);
  for (let x = 0; x < width; x++) {
    morphLine(rows, out.data, x, width, height, size, anchor, grow);
  }
  return out;
}

/** One line of a rectangular dilation/erosion: out[i] = max/min of in[i − anchor … i − anchor + size − 1]. */
function morphLine(
  input: Uint8Array,
  output: Uint8Array,
  start: number,
  stride: number,
  length: number,
  size: number,
  anchor: number,
  grow: boolean,
): void {
  for (let i = 0; i < length; i++) {
    const from = Math.max(0, i - anchor);
    const to = Math.min(length - 1, i - anchor + size - 1);
    let value = grow ? 0 : 255;
    for (let j = from; j <= to; j++) {
      const v = input[start + j * stride];
      value = grow ? (v > value ? v : value) : v < value ? v : value;
    }
    output[start + i * stride] = value;
  }
}

/**
 * A1111's kernel size for a mask blur of sigma s: 2·⌊2.5·s + 0.5⌋ + 1 taps, so the blur reaches
 * ⌊2.5·s + 0.5⌋ px (10 px for the default 4).
 */
export function blurKernelSize(sigma: number): number {
  return 2 * Math.floor(2.5 * sigma + 0.5) + 1;
}

/**
 * The Gaussian taps OpenCV's bit-exact 8-bit `GaussianBlur` uses (`getGaussianKernelBitExact`):
 * the normalised Gaussian rounded half-to-even to 8 fractional bits (units of 1/256), with the
 * centre tap set so the taps sum to exactly 256.
 */
export function gaussianKernelQ8(sigma: number, size: number): Int32Array {
  if (size < 1 || size % 2 === 0) throw new Error(`kernel size must be odd and positive, got ${size}`);
  const half = (size - 1) / 2;
  // OpenCV walks x in half-pixel units from 1 − size: exp(−(x/2)²/(2σ²)) = exp(x²·(−0.125/σ²)).
  const scale = -0.125 / (sigma * sigma);
  const sides: number[] = [];
  let sum = 0;
  for (let i = 0, x = 1 - size; i < half; i++, x += 2) {
    const t = Math.exp(x * x * scale);
    sides.push(t);
    sum += t;
  }
  sum = sum * 2 + 1; // the centre tap is exp(0)
  const norm = 1 / sum;
  const kernel = new Int32Array(size);
  let sideTotal = 0;
  for (let i = 0; i < half; i++) {
    const tap = roundHalfEven(sides[i] * norm * 256);
    kernel[i] = tap;
    kernel[size - 1 - i] = tap;
    sideTotal += tap;
  }
  kernel[half] = 256 - 2 * sideTotal;
  return kernel;
}

function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** OpenCV's BORDER_REFLECT_101 (its default): …c b | a b c … y z | y x…, edge pixel not repeated. */
function reflect101(p: number, length: number): number {
  if (length === 1) return 0;
  while (p < 0 || p >= length) p = p < 0 ? -p : 2 * (length - 1) - p;
  return p;
}

/**
 * The mask blur of A1111 ≥ 1.6 (`StableDiffusionProcessingImg2Img.init`): `cv2.GaussianBlur` with a
 * (k, 1) kernel and sigma `mask_blur_x`, back to 8 bits, then a second call with (1, k) and
 * `mask_blur_y`; an axis with blur 0 is skipped. Each pass is OpenCV's fixed-point path for 8-bit
 * images: Σ tap·value in units of 1/256, rounded half up, with reflect-101 borders.
 *
 * Exact, assuming the taps match: they are computed with `Math.exp` where OpenCV uses a soft-float
 * exp, which can differ only in the last bit and so changes a tap only if it lands within ~1e-13
 * of a rounding tie.
 */
export function blurMask(mask: Mask, blurX: number, blurY: number = blurX): Mask {
  if (!(blurX >= 0) || !(blurY >= 0)) throw new Error(`mask blur must be ≥ 0, got ${blurX}, ${blurY}`);
  let current = mask;
  if (blurX > 0) current = blurAxis(current, blurX, true);
  if (blurY > 0) current = blurAxis(current, blurY, false);
  return current === mask ? createMask(mask.width, mask.height, mask.data.slice()) : current;
}

function blurAxis(mask: Mask, sigma: number, horizontal: boolean): Mask {
  const size = blurKernelSize(sigma);
  const kernel = gaussianKernelQ8(sigma, size);
  return horizontal ? blurRows(mask, kernel) : blurColumns(mask, kernel);
}

// Both passes walk the mask row by row (a column walk misses the cache on large masks), fold the
// symmetric taps (k, size − 1 − k) into one multiply, and copy windows whose values are all equal:
// the taps sum to 256, so such a window gives (256·v + 128) >> 8 = v, the same as summing it.
// Detailer masks are mostly flat 0 and 255, so only their edges are summed. Integer sums do not
// depend on order: the output is what the plain Σ tap·value gives, byte for byte.

/** The (k, 1) pass: each row reflected into a padded buffer, then convolved. */
function blurRows(mask: Mask, kernel: Int32Array): Mask {
  const size = kernel.length;
  const half = (size - 1) >> 1;
  const centre = kernel[half];
  const { width, height, data } = mask;
  const out = createMask(width, height);
  const dst = out.data;
  const padded = width + 2 * half;
  const line = new Uint8Array(padded);
  // Where each padding position reads from in its row (reflect-101, however far the kernel reaches).
  const from = new Int32Array(padded);
  for (let p = 0; p < padded; p++) from[p] = reflect101(p - half, width);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    line.set(data.subarray(row, row + width), half);
    for (let p = 0; p < half; p++) line[p] = data[row + from[p]];
    for (let p = half + width; p < padded; p++) line[p] = data[row + from[p]];
    // change: the first padded position after i whose value differs from the one before it.
    let change = 1;
    while (change < padded && line[change] === line[change - 1]) change++;
    if (change === padded) {
      dst.fill(line[0], row, row + width); // a flat row (most of a detailer mask) stays as it is
      continue;
    }
    for (let i = 0; i < width; i++) {
      if (change <= i) change = i + 1;
      while (change < padded && line[change] === line[change - 1]) change++;
      if (change >= i + size) {
        dst[row + i] = line[i];
        continue;
      }
      let acc = centre * line[i + half];
      for (let k = 0; k < half; k++) acc += kernel[k] * (line[i + k] + line[i + size - 1 - k]);
      dst[row + i] = (acc + 128) >> 8;
    }
  }
  return out;
}

/** The (1, k) pass: output rows from bottom to top, so each column's run of equal values is known. */
function blurColumns(mask: Mask, kernel: Int32Array): Mask {
  const size = kernel.length;
  const half = (size - 1) >> 1;
  const centre = kernel[half];
  const { width, height, data } = mask;
  const out = createMask(width, height);
  const dst = out.data;
  const padded = height + 2 * half;
  // The offset in `data` of each padded row (reflect-101).
  const rowAt = new Int32Array(padded);
  for (let p = 0; p < padded; p++) rowAt[p] = reflect101(p - half, height) * width;
  // runEnd[x]: the first padded row after the current one whose value in column x differs.
  const runEnd = new Int32Array(width).fill(padded);
  for (let p = padded - 1; p >= 0; p--) {
    const here = rowAt[p];
    const below = p < padded - 1 ? rowAt[p + 1] : here;
    if (p >= height) {
      for (let x = 0; x < width; x++) if (data[here + x] !== data[below + x]) runEnd[x] = p + 1;
      continue;
    }
    // Padded row p starts the window of output row p.
    const row = p * width;
    for (let x = 0; x < width; x++) {
      const v = data[here + x];
      if (v !== data[below + x]) runEnd[x] = p + 1;
      if (runEnd[x] >= p + size) {
        dst[row + x] = v;
        continue;
      }
      let acc = centre * data[rowAt[p + half] + x];
      for (let k = 0; k < half; k++) acc += kernel[k] * (data[rowAt[p + k] + x] + data[rowAt[p + size - 1 - k] + x]);
      dst[row + x] = (acc + 128) >> 8;
    }
  }
  return out;
}

/**
 * The mask the overlay composites through. For the whole picture A1111 doubles the blurred mask
 * (clipped to 255) so the redrawn area is fully opaque a little way into the blur; for "only
 * masked" it uses the blurred mask as is.
 */
export function maskForOverlay(blurred: Mask, area: InpaintArea): Mask {
  if (area === 'only_masked') return createMask(blurred.width, blurred.height, blurred.data.slice());
  const out = createMask(blurred.width, blurred.height);
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.min(255, blurred.data[i] * 2);
  return out;
}

/**
 * A1111's `get_crop_region_v2`: the bounding box of the non-zero pixels (PIL `getbbox`), grown by
 * `padding` on every side and clamped to the mask; null when nothing is painted (A1111 then
 * falls back to plain img2img; the caller decides).
 */
export function maskBounds(mask: Mask, padding = 0): CropBox | null {
  const { width, height, data } = mask;
  let x1 = width, y1 = height, x2 = 0, y2 = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (data[row + x] === 0) continue;
      if (x < x1) x1 = x;
      if (x >= x2) x2 = x + 1;
      if (y < y1) y1 = y;
      y2 = y + 1;
    }
  }
  if (x2 === 0) return null;
  return {
    x1: Math.max(x1 - padding, 0),
    y1: Math.max(y1 - padding, 0),
    x2: Math.min(x2 + padding, width),
    y2: Math.min(y2 + padding, height),
  };
}

/**
 * A1111's `expand_crop_region`: grows the short side of the box so it has the aspect of the
 * model's target size, half the growth on each side (the odd pixel after), then shifts it back
 * inside the image; if the image is too small on that axis the box is clamped to it and keeps a
 * different aspect (the crop is then stretched when resized to the model). Exact, including the
 * truncation of the float growth to whole pixels.
 */
export function expandToAspect(
  box: CropBox,
  targetWidth: number,
  targetHeight: number,
  imageWidth: number,
  imageHeight: number,
): CropBox {
  let { x1, y1, x2, y2 } = box;
  const boxRatio = (x2 - x1) / (y2 - y1);
  const targetRatio = targetWidth / targetHeight;
  if (boxRatio > targetRatio) {
    [y1, y2] = growSpan(y1, y2, (x2 - x1) / targetRatio, imageHeight);
  } else {
    [x1, x2] = growSpan(x1, x2, (y2 - y1) * targetRatio, imageWidth);
  }
  return { x1, y1, x2, y2 };
}

/** One axis of expand_crop_region: grow [lo, hi) to `desired`, then shift and clamp into [0, limit]. */
function growSpan(lo: number, hi: number, desired: number, limit: number): [number, number] {
  const growth = Math.trunc(desired - (hi - lo));
  lo -= Math.floor(growth / 2);
  hi += growth - Math.floor(growth / 2);
  if (hi >= limit) {
    const over = hi - limit;
    hi -= over;
    lo -= over;
  }
  if (lo < 0) {
    hi -= lo;
    lo = 0;
  }
  if (hi >= limit) hi = limit;
  return [lo, hi];
}

function checkBox(box: CropBox, width: number, height: number): void {
  const { x1, y1, x2, y2 } = box;
  const whole = [x1, y1, x2, y2].every(Number.isInteger);
  if (!whole || x1 < 0 || y1 < 0 || x2 > width || y2 > height || x2 <= x1 || y2 <= y1) {
    throw new Error(`crop box (${x1}, ${y1}, ${x2}, ${y2}) is not a non-empty area inside ${width}×${height}`);
  }
}

/** The pixels of `box` as a new image (PIL `crop` for a box inside the image). */
export function cropImage(image: RgbaImage, box: CropBox): RgbaImage {
  checkBox(box, image.width, image.height);
  const width = box.x2 - box.x1;
  const out = createRgbaImage(width, box.y2 - box.y1);
  for (let y = 0; y < out.height; y++) {
    const from = ((box.y1 + y) * image.width + box.x1) * 4;
    out.data.set(image.data.subarray(from, from + width * 4), y * width * 4);
  }
  return out;
}

/** The values of `box` as a new mask (A1111 crops the blurred mask to the region in "only masked"). */
export function cropMask(mask: Mask, box: CropBox): Mask {
  checkBox(box, mask.width, mask.height);
  const width = box.x2 - box.x1;
  const out = createMask(width, box.y2 - box.y1);
  for (let y = 0; y < out.height; y++) {
    const from = (box.y1 + y) * mask.width + box.x1;
    out.data.set(mask.data.subarray(from, from + width), y * width);
  }
  return out;
}

/**
 * A1111's resize mode 1 ("crop and resize"), which `apply_overlay` uses to fit the model's output
 * into the crop box: scale to cover the box, keeping the aspect, then take the centre. The
 * scaling here is resize.ts's area/bilinear filter where A1111 uses Lanczos, so a patch that needs
 * resizing differs from A1111's by the filter (a few levels); a patch already at the box size is
 * used unchanged, as in A1111.
 */
export function fitToBox(patch: RgbaImage, width: number, height: number): RgbaImage {
  if (patch.width === width && patch.height === height) return patch;
  const boxIsWider = width / height > patch.width / patch.height;
  const scaledWidth = boxIsWider ? width : Math.floor((patch.width * height) / patch.height);
  const scaledHeight = boxIsWider ? Math.floor((patch.height * width) / patch.width) : height;
  const scaled = resizeImage(patch, scaledWidth, scaledHeight);
  // A1111 pastes the scaled image at (w//2 − sw//2, h//2 − sh//2), i.e. crops this far in.
  const left = (scaledWidth >> 1) - (width >> 1);
  const top = (scaledHeight >> 1) - (height >> 1);
  return cropImage(scaled, { x1: left, y1: top, x2: left + width, y2: top + height });
}

/**
 * A1111's `apply_overlay`: the redrawn `patch` is fitted into `box` (null: the whole image, for
 * "whole picture") over a transparent canvas, and the original is alpha-composited on top with
 * alpha 255 − mask — so where the overlay mask is 0 the original is put back byte for byte, and
 * where it is 255 the patch shows. The overlay is built as A1111 builds it with Pillow: the
 * original premultiplied by that alpha (`paste` into an RGBa image), un-premultiplied
 * (`convert('RGBA')`, truncating), then `alpha_composite` with its 7-bit-precision integer
 * blend. Exact to Pillow.
 *
 * `overlayMask` is the blurred mask after `maskForOverlay`. The result keeps the original's alpha
 * channel (A1111 flattens the input and returns RGB; callers flatten first if they need that).
 */
export function pasteWithMask(original: RgbaImage, patch: RgbaImage, box: CropBox | null, overlayMask: Mask): RgbaImage {
  const { width, height } = original;
  if (overlayMask.width !== width || overlayMask.height !== height) {
    throw new Error(`overlay mask is ${overlayMask.width}×${overlayMask.height}, image is ${width}×${height}`);
  }
  const area = box ?? { x1: 0, y1: 0, x2: width, y2: height };
  checkBox(area, width, height);
  const fitted = fitToBox(patch, area.x2 - area.x1, area.y2 - area.y1);
  const out = createRgbaImage(width, height);
  const src = original.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const p = i * 4;
      const inBox = x >= area.x1 && x < area.x2 && y >= area.y1 && y < area.y2;
      // The canvas under the overlay: the opaque patch inside the box, transparent black outside.
      const f = inBox ? ((y - area.y1) * fitted.width + (x - area.x1)) * 4 : -1;
      const canvasAlpha = inBox ? 255 : 0;
      const alpha = 255 - overlayMask.data[i];
      for (let c = 0; c < 3; c++) {
        const canvas = inBox ? fitted.data[f + c] : 0;
        out.data[p + c] = overlayChannel(src[p + c], alpha, canvas, canvasAlpha);
      }
      out.data[p + 3] = src[p + 3];
    }
  }
  return out;
}

/** One colour channel of Pillow's overlay pipeline: paste → RGBa→RGBA → alpha_composite. */
function overlayChannel(value: number, alpha: number, canvas: number, canvasAlpha: number): number {
  // paste(mask = alpha) onto zeros: the premultiplied colour; the pasted alpha is alpha itself.
  const premultiplied = div255(value * alpha);
  const overlay = alpha === 0 || alpha === 255 ? premultiplied : Math.min(255, Math.floor((255 * premultiplied) / alpha));
  if (alpha === 0) return canvas;
  const outAlpha255 = alpha * 255 + canvasAlpha * (255 - alpha);
  const coefOverlay = Math.floor((alpha * 255 * 255 * 128) / outAlpha255);
  const coefCanvas = 255 * 128 - coefOverlay;
  const t = overlay * coefOverlay + canvas * coefCanvas + (0x80 << 7);
  return (((t >> 8) + t) >> 8) >> 7;
}
