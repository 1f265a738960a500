/**
 * RGBA resize for images on their way into a model (hires fix after a pixel upscaler). Each axis
 * is filtered on its own: shrinking averages the covered source area (a box filter with
 * fractional coverage, like OpenCV's INTER_AREA), so detail does not alias; growing is bilinear
 * with pixel-centre alignment. Colours are weighted by alpha, so transparent pixels do not bleed.
 */
import { createRgbaImage, type RgbaImage } from './rgba';

/** For each output pixel along an axis: the first source pixel and the weights from there. */
interface AxisFilter {
  start: Int32Array;
  weights: Float64Array[];
}

export function resizeImage(image: RgbaImage, width: number, height: number): RgbaImage {
  const out = createRgbaImage(width, height);
  if (width === image.width && height === image.height) {
    out.data.set(image.data);
    return out;
  }
  const fx = axisFilter(image.width, width);
  const fy = axisFilter(image.height, height);
  // Horizontal pass into premultiplied floats (r·a, g·a, b·a, a), then vertical.
  const mid = new Float64Array(width * image.height * 4);
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      const w = fx.weights[x];
      for (let k = 0, s = (row + fx.start[x]) * 4; k < w.length; k++, s += 4) {
        const wa = w[k] * image.data[s + 3];
        r += wa * image.data[s];
        g += wa * image.data[s + 1];
        b += wa * image.data[s + 2];
        a += wa;
      }
      const o = (y * width + x) * 4;
      mid[o] = r;
      mid[o + 1] = g;
      mid[o + 2] = b;
      mid[o + 3] = a;
    }
  }
  for (let y = 0; y < height; y++) {
    const w = fy.weights[y];
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0, s = ((fy.start[y]) * width + x) * 4; k < w.length; k++, s += width * 4) {
        r += w[k] * mid[s];
        g += w[k] * mid[s + 1];
        b += w[k] * mid[s + 2];
        a += w[k] * mid[s + 3];
      }
      const o = (y * width + x) * 4;
      // Uint8ClampedArray rounds and clamps; a fully transparent pixel keeps colour 0.
      if (a > 0) {
        out.data[o] = r / a;
        out.data[o + 1] = g / a;
        out.data[o + 2] = b / a;
      }
      out.data[o + 3] = a;
    }
  }
  return out;
}

/** Area weights when shrinking, bilinear (half-pixel centres, edges clamped) when growing. */
export function axisFilter(size: number, outSize: number): AxisFilter {
  const start = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  const ratio = size / outSize;
  for (let i = 0; i < outSize; i++) {
    if (outSize < size) {
      const from = i * ratio;
      const to = (i + 1) * ratio;
      const first = Math.floor(from);
      const last = Math.min(size, Math.ceil(to));
      const w = new Float64Array(last - first);
      for (let j = first; j < last; j++) w[j - first] = (Math.min(j + 1, to) - Math.max(j, from)) / ratio;
      start[i] = first;
      weights.push(w);
    } else {
      const src = Math.min(Math.max((i + 0.5) * ratio - 0.5, 0), size - 1);
      const lo = Math.floor(src);
      const t = src - lo;
      start[i] = lo;
      weights.push(lo + 1 < size ? Float64Array.of(1 - t, t) : Float64Array.of(1));
    }
  }
  return { start, weights };
}
