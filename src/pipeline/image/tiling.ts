/**
 * Tiled super-resolution: any image size fits in memory. Tiles overlap; inside each overlap the
 * two tiles are cross-faded with a linear ramp that skips `margin` pixels at each tile edge, where
 * the model's output is distorted by zero padding. With margin ≥ the model's receptive radius the
 * blend only mixes pixels both tiles computed exactly, so the result matches a whole-image run.
 */
import type { Tensor } from '../tensor';
import { createRgbaImage, type RgbaImage } from './rgba';

export interface TileSpan {
  /** First input pixel of the tile along this axis. */
  start: number;
  /** Tile length along this axis (input pixels). */
  length: number;
}

/**
 * Evenly spaced spans of at most `tile` pixels, neighbours sharing at least `overlap` pixels.
 * Uses as few spans as possible and then the shortest length that still covers the axis, so
 * little work is spent on overlaps (each overlap pixel is computed twice).
 */
export function planSpans(size: number, tile: number, overlap: number): TileSpan[] {
  if (size <= tile) return [{ start: 0, length: size }];
  if (overlap >= tile) throw new Error(`tile overlap ${overlap} must be smaller than the tile size ${tile}`);
  const count = Math.ceil((size - overlap) / (tile - overlap));
  // +1 absorbs the rounding of the start positions below.
  const length = Math.min(tile, Math.ceil((size + (count - 1) * overlap) / count) + 1);
  const spans: TileSpan[] = [];
  for (let i = 0; i < count; i++) {
    spans.push({ start: Math.round((i * (size - length)) / (count - 1)), length });
  }
  return spans;
}

/**
 * Blend weight of tile `index` at continuous input coordinate `p`: ramps up across the overlap
 * with the previous tile and down across the overlap with the next.
 */
export function spanWeight(spans: TileSpan[], index: number, p: number, margin: number): number {
  let w = 1;
  const cur = spans[index];
  const prev = spans[index - 1];
  const next = spans[index + 1];
  if (prev) w *= ramp(p, cur.start, prev.start + prev.length, margin);
  if (next) w *= 1 - ramp(p, next.start, cur.start + cur.length, margin);
  return w;
}

/** 0 before `from + m`, 1 after `to − m`, linear between (m shrinks if the overlap is narrow). */
function ramp(p: number, from: number, to: number, margin: number): number {
  const m = Math.min(margin, Math.floor((to - from) / 2));
  const a = from + m - 0.5;
  const b = to - m - 0.5;
  if (b <= a) return p < a ? 0 : 1;
  return Math.min(1, Math.max(0, (p - a) / (b - a)));
}

export interface TiledModel {
  scale: number;
  valueRange: readonly [number, number];
  run(input: Tensor): Promise<Tensor>;
}

export interface TiledUpscaleOptions {
  tileSize: number;
  overlap: number;
  /** Pixels at each inner tile edge left out of the blend; defaults to overlap / 2. */
  margin?: number;
  onTile?: (done: number, total: number) => void;
  /** Awaited before each tile; throw from it to stop (e.g. when cancelled). */
  beforeTile?: () => void | Promise<void>;
}

export interface TiledUpscaleResult {
  image: RgbaImage;
  tiles: number;
  tileSize: number;
  overlap: number;
}

/** Upscales the RGB of `image` tile by tile; alpha is resized bilinearly (models see RGB only). */
export async function upscaleTiled(
  image: RgbaImage,
  model: TiledModel,
  options: TiledUpscaleOptions,
): Promise<TiledUpscaleResult> {
  const { width, height } = image;
  const s = model.scale;
  const outW = width * s;
  const outH = height * s;
  const tile = Math.max(1, Math.floor(options.tileSize));
  const overlap = Math.max(0, Math.min(Math.floor(options.overlap), tile - 1));
  const margin = options.margin ?? Math.floor(overlap / 2);
  const xs = planSpans(width, tile, overlap);
  const ys = planSpans(height, tile, overlap);
  const total = xs.length * ys.length;

  const weightsX = axisWeights(xs, s, margin);
  const weightsY = axisWeights(ys, s, margin);
  // Weighted sums of the three channels; weights are normalised per axis, so they add to 1.
  const acc = new Float32Array(outW * outH * 3);
  const [lo, hi] = model.valueRange;
  const toModel = (hi - lo) / 255;
  let done = 0;
  for (let ty = 0; ty < ys.length; ty++) {
    for (let tx = 0; tx < xs.length; tx++) {
      await options.beforeTile?.();
      const sx = xs[tx];
      const sy = ys[ty];
      const input = cropToTensor(image, sx.start, sy.start, sx.length, sy.length, lo, toModel);
      const output = await model.run(input);
      const tw = sx.length * s;
      const th = sy.length * s;
      const expected = [1, 3, th, tw];
      if (output.dims.length !== 4 || output.dims.some((d, i) => d !== expected[i])) {
        throw new Error(
          `upscaler returned [${output.dims.join(', ')}] for a ${sx.length}×${sy.length} tile; expected [${expected.join(', ')}]`,
        );
      }
      const wx = weightsX[tx];
      const plane = tw * th;
      for (let qy = 0; qy < th; qy++) {
        const wy = weightsY[ty][qy];
        if (wy === 0) continue;
        const outRow = (sy.start * s + qy) * outW + sx.start * s;
        for (let qx = 0; qx < tw; qx++) {
          const w = wy * wx[qx];
          if (w === 0) continue;
          const o = (outRow + qx) * 3;
          const i = qy * tw + qx;
          acc[o] += w * output.data[i];
          acc[o + 1] += w * output.data[plane + i];
          acc[o + 2] += w * output.data[2 * plane + i];
        }
      }
      done++;
      options.onTile?.(done, total);
    }
  }

  const out = createRgbaImage(outW, outH);
  const fromModel = 255 / (hi - lo);
  for (let p = 0, n = outW * outH; p < n; p++) {
    // Uint8ClampedArray rounds half to even and clamps, as canvas does.
    out.data[p * 4] = (acc[p * 3] - lo) * fromModel;
    out.data[p * 4 + 1] = (acc[p * 3 + 1] - lo) * fromModel;
    out.data[p * 4 + 2] = (acc[p * 3 + 2] - lo) * fromModel;
  }
  resizeAlphaBilinear(image, out);
  return { image: out, tiles: total, tileSize: tile, overlap };
}

/**
 * Per-tile weights along one axis at output resolution, divided by their sum at each output
 * pixel, so that the 2-D weights (products of the two axes) add to exactly 1 everywhere.
 */
export function axisWeights(spans: TileSpan[], scale: number, margin: number): Float32Array[] {
  const last = spans[spans.length - 1];
  const sum = new Float64Array((last.start + last.length) * scale);
  const raw = spans.map((span, i) => {
    const w = new Float64Array(span.length * scale);
    for (let q = 0; q < w.length; q++) {
      w[q] = spanWeight(spans, i, span.start + (q + 0.5) / scale - 0.5, margin);
      sum[span.start * scale + q] += w[q];
    }
    return w;
  });
  return raw.map((w, i) => {
    const offset = spans[i].start * scale;
    const out = new Float32Array(w.length);
    for (let q = 0; q < w.length; q++) {
      const total = sum[offset + q];
      if (total <= 0) throw new Error(`tile weights vanish at output pixel ${offset + q}`);
      out[q] = w[q] / total;
    }
    return out;
  });
}

/** RGB of a crop as NCHW `[1, 3, h, w]`, mapped from 0–255 to the model's range. */
export function cropToTensor(
  image: RgbaImage,
  x0: number,
  y0: number,
  w: number,
  h: number,
  lo = 0,
  perLevel = 1,
): Tensor {
  const data = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let y = 0; y < h; y++) {
    let src = ((y0 + y) * image.width + x0) * 4;
    for (let x = 0; x < w; x++, src += 4) {
      const i = y * w + x;
      data[i] = lo + image.data[src] * perLevel;
      data[plane + i] = lo + image.data[src + 1] * perLevel;
      data[2 * plane + i] = lo + image.data[src + 2] * perLevel;
    }
  }
  return { data, dims: [1, 3, h, w] };
}

/** Fills `out`'s alpha from `src`'s, resized bilinearly with pixel-centre alignment. */
export function resizeAlphaBilinear(src: RgbaImage, out: RgbaImage): void {
  let opaque = true;
  for (let i = 3; i < src.data.length; i += 4) {
    if (src.data[i] !== 255) {
      opaque = false;
      break;
    }
  }
  if (opaque) {
    for (let i = 3; i < out.data.length; i += 4) out.data[i] = 255;
    return;
  }
  const fx = src.width / out.width;
  const fy = src.height / out.height;
  for (let y = 0; y < out.height; y++) {
    const sy = Math.min(Math.max((y + 0.5) * fy - 0.5, 0), src.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, src.height - 1);
    const ay = sy - y0;
    for (let x = 0; x < out.width; x++) {
      const sx = Math.min(Math.max((x + 0.5) * fx - 0.5, 0), src.width - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, src.width - 1);
      const ax = sx - x0;
      const a00 = src.data[(y0 * src.width + x0) * 4 + 3];
      const a01 = src.data[(y0 * src.width + x1) * 4 + 3];
      const a10 = src.data[(y1 * src.width + x0) * 4 + 3];
      const a11 = src.data[(y1 * src.width + x1) * 4 + 3];
      const top = a00 + (a01 - a00) * ax;
      const bottom = a10 + (a11 - a10) * ax;
      out.data[(y * out.width + x) * 4 + 3] = top + (bottom - top) * ay;
    }
  }
}
