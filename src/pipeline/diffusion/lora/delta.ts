/**
 * The LoRA merge's maths: `ΔW = weight · (alpha / rank) · up · down` (float32 values, each sum
 * accumulated in double), shaped as the torch weight it is added to (`[out, in]` for a Linear,
 * `[out, in, kh, kw]` for a Conv2d), and its addition into a weight stored in either of the
 * layouts ONNX exports keep.
 */
import type { LoraModule } from './file';

export interface LoraDelta {
  /** Row-major `[out, cols]`, cols = in · kh · kw: the torch weight's own element order. */
  data: Float32Array;
  out: number;
  cols: number;
  /** The torch weight's shape: `[out, in]` or `[out, in, kh, kw]`. */
  shape: number[];
}

/**
 * How a weight's elements lie in its initializer: `out_in` as torch stores it (Conv, a Linear read
 * through a Transpose or Gemm transB=1); `in_out` transposed (`[in, out]`, what a MatMul takes
 * directly, as optimum's exports store Linear weights, or Gemm transB=0).
 */
export type WeightLayout = 'out_in' | 'in_out';

export function loraScale(module: Pick<LoraModule, 'alpha' | 'rank'>, weight: number): number {
  return (weight * module.alpha) / module.rank;
}

export function loraDelta(module: Pick<LoraModule, 'down' | 'up' | 'alpha' | 'rank'>, weight: number): LoraDelta {
  const { down, up, rank } = module;
  const out = up.shape[0];
  const cols = down.data.length / rank;
  const scale = loraScale(module, weight);
  const data = new Float32Array(out * cols);
  // down transposed to [cols, rank]: each element is then a dot product over two contiguous runs
  // of `rank` values, summed in a register and stored once (about 2× faster than row updates).
  const downT = new Float32Array(cols * rank);
  for (let r = 0; r < rank; r++) for (let c = 0; c < cols; c++) downT[c * rank + r] = down.data[r * cols + c];
  const upData = up.data;
  for (let o = 0; o < out; o++) {
    const u = o * rank;
    const row = o * cols;
    for (let c = 0; c < cols; c++) {
      const d = c * rank;
      // Four partial sums: independent chains the CPU overlaps.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let r = 0;
      for (; r + 3 < rank; r += 4) {
        s0 += upData[u + r] * downT[d + r];
        s1 += upData[u + r + 1] * downT[d + r + 1];
        s2 += upData[u + r + 2] * downT[d + r + 2];
        s3 += upData[u + r + 3] * downT[d + r + 3];
      }
      for (; r < rank; r++) s0 += upData[u + r] * downT[d + r];
      data[row + c] = (s0 + s1 + s2 + s3) * scale;
    }
  }
  return { data, out, cols, shape: [out, ...down.shape.slice(1)] };
}

/**
 * Whether a weight of `dims` in `layout` is the one `delta` belongs to: same element count and
 * out dimension where the layout puts it (`in_out` only for a plain Linear or a 1×1 kernel).
 */
export function deltaFits(delta: Pick<LoraDelta, 'out' | 'cols' | 'shape'>, dims: readonly number[], layout: WeightLayout): boolean {
  const count = dims.reduce((p, d) => p * d, 1);
  if (count !== delta.out * delta.cols) return false;
  if (layout === 'out_in') return dims[0] === delta.out;
  const kernel = delta.shape.slice(2).reduce((p, d) => p * d, 1);
  return kernel === 1 && dims.length === 2 && dims[1] === delta.out;
}

/** `weight += delta` in the weight's layout (see `deltaFits`). */
export function addDelta(weight: Float32Array, delta: LoraDelta, layout: WeightLayout): void {
  const { data, out, cols } = delta;
  if (weight.length !== data.length) throw new Error(`a LoRA delta of ${data.length} values cannot be added to a weight of ${weight.length}`);
  if (layout === 'out_in') {
    for (let i = 0; i < data.length; i++) weight[i] += data[i];
    return;
  }
  for (let o = 0; o < out; o++) for (let c = 0; c < cols; c++) weight[c * out + o] += data[o * cols + c];
}
