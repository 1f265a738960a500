/**
 * Float64 references for the checkpoint graph builder's tests, written from the layers'
 * definitions (torch / diffusers / transformers semantics) as plain loops, sharing no code with
 * the builder. Tensors are row-major `{ data, dims }`.
 */
import type { Param } from './fake-checkpoint';

export interface T64 {
  data: Float64Array;
  dims: number[];
}
/** A parameter by its full name. */
export type Params = (name: string) => Param;

export const t64 = (data: ArrayLike<number>, dims: number[]): T64 => ({ data: Float64Array.from(data), dims });
const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

export function randomT(random: () => number, dims: number[], scale = 1): T64 {
  return t64(Array.from({ length: size(dims) }, () => (random() * 2 - 1) * scale), dims);
}

export function map(x: T64, f: (v: number) => number): T64 {
  return { data: x.data.map(f), dims: x.dims };
}
export function add(a: T64, b: T64): T64 {
  if (a.data.length !== b.data.length) throw new Error(`add: [${a.dims}] vs [${b.dims}]`);
  return { data: a.data.map((v, i) => v + b.data[i]), dims: a.dims };
}

/** x [..., in] · Wᵀ + b, W [out, in] (or a 1×1 conv [out, in, 1, 1]). */
export function linearRef(x: T64, w: Param, b?: Param): T64 {
  const [out, inp] = w.dims;
  const rows = x.data.length / inp;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < inp; i++) s += x.data[r * inp + i] * w.data[o * inp + i];
      y[r * out + o] = s;
    }
  }
  return { data: y, dims: [...x.dims.slice(0, -1), out] };
}

/** NCHW convolution; pads [top, left, bottom, right]. */
export function conv2dRef(x: T64, w: Param, b: Param | undefined, stride = 1, pads?: number[]): T64 {
  const [n, c, h, wd] = x.dims;
  const [o, ci, kh, kw] = w.dims.length === 2 ? [w.dims[0], w.dims[1], 1, 1] : w.dims;
  if (ci !== c) throw new Error(`conv: ${c} channels in, kernel takes ${ci}`);
  const [pt, pl, pb, pr] = pads ?? [kh >> 1, kw >> 1, kh >> 1, kw >> 1];
  const oh = Math.floor((h + pt + pb - kh) / stride) + 1;
  const ow = Math.floor((wd + pl + pr - kw) / stride) + 1;
  const y = new Float64Array(n * o * oh * ow);
  for (let bi = 0; bi < n; bi++)
    for (let oc = 0; oc < o; oc++)
      for (let yy = 0; yy < oh; yy++)
        for (let xx = 0; xx < ow; xx++) {
          let s = b ? b.data[oc] : 0;
          for (let ic = 0; ic < c; ic++)
            for (let ky = 0; ky < kh; ky++) {
              const iy = yy * stride + ky - pt;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xx * stride + kx - pl;
                if (ix < 0 || ix >= wd) continue;
                s += x.data[((bi * c + ic) * h + iy) * wd + ix] * w.data[((oc * ci + ic) * kh + ky) * kw + kx];
              }
            }
          y[((bi * o + oc) * oh + yy) * ow + xx] = s;
        }
  return { data: y, dims: [n, o, oh, ow] };
}

/** GroupNorm over NCHW (biased variance, as torch). */
export function groupNormRef(x: T64, groups: number, eps: number, gamma: Param, beta: Param): T64 {
  const [n, c] = x.dims;
  const hw = x.data.length / (n * c);
  const per = (c / groups) * hw;
  const y = new Float64Array(x.data.length);
  for (let bi = 0; bi < n; bi++)
    for (let gi = 0; gi < groups; gi++) {
      const start = (bi * c + gi * (c / groups)) * hw;
      let mean = 0;
      for (let i = 0; i < per; i++) mean += x.data[start + i];
      mean /= per;
      let v = 0;
      for (let i = 0; i < per; i++) v += (x.data[start + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / per + eps);
      for (let i = 0; i < per; i++) {
        const ch = gi * (c / groups) + Math.floor(i / hw);
        y[start + i] = (x.data[start + i] - mean) * inv * gamma.data[ch] + beta.data[ch];
      }
    }
  return { data: y, dims: x.dims };
}

export function layerNormRef(x: T64, eps: number, gamma: Param, beta: Param): T64 {
  const c = x.dims[x.dims.length - 1];
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / c; r++) {
    let mean = 0;
    for (let i = 0; i < c; i++) mean += x.data[r * c + i];
    mean /= c;
    let v = 0;
    for (let i = 0; i < c; i++) v += (x.data[r * c + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / c + eps);
    for (let i = 0; i < c; i++) y[r * c + i] = (x.data[r * c + i] - mean) * inv * gamma.data[i] + beta.data[i];
  }
  return { data: y, dims: x.dims };
}

export const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
export const siluRef = (x: T64) => map(x, (v) => v * sigmoid(v));
export const quickGeluRef = (x: T64) => map(x, (v) => v * sigmoid(1.702 * v));

/** erf by its Maclaurin series (|x| < 3) or the continued fraction of erfc, to ~1e-12. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))).
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}
export const geluRef = (x: T64) => map(x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));

/** softmax(q·kᵀ/√d [causal]) · v per head; q [b, s, h·d], k and v [b, s', h·d]. */
export function attentionRef(q: T64, k: T64, v: T64, heads: number, causal = false): T64 {
  const [b, s, inner] = q.dims;
  const sk = k.dims[1];
  const d = inner / heads;
  const y = new Float64Array(b * s * inner);
  const scores = new Float64Array(sk);
  for (let bi = 0; bi < b; bi++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < s; i++) {
        let max = -Infinity;
        for (let j = 0; j < sk; j++) {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q.data[(bi * s + i) * inner + h * d + e] * k.data[(bi * sk + j) * inner + h * d + e];
          scores[j] = causal && j > i ? -Infinity : dot / Math.sqrt(d);
          max = Math.max(max, scores[j]);
        }
        let total = 0;
        for (let j = 0; j < sk; j++) total += scores[j] = Math.exp(scores[j] - max);
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < sk; j++) acc += (scores[j] / total) * v.data[(bi * sk + j) * inner + h * d + e];
          y[(bi * s + i) * inner + h * d + e] = acc;
        }
      }
  return { data: y, dims: [b, s, inner] };
}

/** NCHW → [b, hw, c] and back. */
export function toTokens(x: T64): T64 {
  const [b, c, h, w] = x.dims;
  const y = new Float64Array(x.data.length);
  for (let bi = 0; bi < b; bi++) for (let ci = 0; ci < c; ci++) for (let p = 0; p < h * w; p++) y[(bi * h * w + p) * c + ci] = x.data[(bi * c + ci) * h * w + p];
  return { data: y, dims: [b, h * w, c] };
}
export function toMap(x: T64, h: number, w: number): T64 {
  const [b, hw, c] = x.dims;
  const y = new Float64Array(x.data.length);
  for (let bi = 0; bi < b; bi++) for (let ci = 0; ci < c; ci++) for (let p = 0; p < hw; p++) y[(bi * c + ci) * hw + p] = x.data[(bi * hw + p) * c + ci];
  return { data: y, dims: [b, c, h, w] };
}

/** Channel concatenation of NCHW maps, `[a, b]`. */
export function concatChannels(a: T64, b: T64): T64 {
  const [n, ca, h, w] = a.dims;
  const cb = b.dims[1];
  const y = new Float64Array(n * (ca + cb) * h * w);
  for (let bi = 0; bi < n; bi++) {
    y.set(a.data.subarray(bi * ca * h * w, (bi + 1) * ca * h * w), bi * (ca + cb) * h * w);
    y.set(b.data.subarray(bi * cb * h * w, (bi + 1) * cb * h * w), (bi * (ca + cb) + ca) * h * w);
  }
  return { data: y, dims: [n, ca + cb, h, w] };
}

export function upsampleNearest2(x: T64): T64 {
  const [n, c, h, w] = x.dims;
  const y = new Float64Array(n * c * 4 * h * w);
  for (let p = 0; p < n * c; p++)
    for (let yy = 0; yy < 2 * h; yy++) for (let xx = 0; xx < 2 * w; xx++) y[(p * 2 * h + yy) * 2 * w + xx] = x.data[(p * h + (yy >> 1)) * w + (xx >> 1)];
  return { data: y, dims: [n, c, 2 * h, 2 * w] };
}

/** diffusers' Timesteps(dim, flip_sin_to_cos=True, shift 0): [cos(t·f), sin(t·f)]. */
export function timestepEmbeddingRef(timesteps: number[], dim: number): T64 {
  const half = dim / 2;
  const y = new Float64Array(timesteps.length * dim);
  timesteps.forEach((t, b) => {
    for (let i = 0; i < half; i++) {
      const arg = t * Math.exp((-Math.log(10000) * i) / half);
      y[b * dim + i] = Math.cos(arg);
      y[b * dim + half + i] = Math.sin(arg);
    }
  });
  return { data: y, dims: [timesteps.length, dim] };
}
