/**
 * Random-weight checkpoint bytes for the graph builder's tests: weights named as diffusers names
 * them, laid out as a safetensors data section (after a stand-in header) in one buffer, with the
 * TensorRefs a reader would give and the float64 values the references compute with (float16
 * weights rounded as the file stores them).
 */
import type { TensorRef } from '../../src/registry/checkpoint/architecture';
import { fileLocation, type WeightSource } from '../../src/registry/checkpoint/build/graph-builder';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/pipeline/float16';
import { seededRandom } from '../fixtures/tiny-diffusion/factory';

export const CHECKPOINT_LOCATION = 'checkpoint.safetensors';

export interface Param {
  data: Float64Array;
  dims: number[];
}

export class FakeCheckpoint {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  readonly refs = new Map<string, TensorRef>();
  readonly params = new Map<string, Param>();
  readonly random: () => number;

  /**
   * `headerBytes` stands in for 8 + the JSON header, so offsets are checked to count from the
   * data section.
   */
  constructor(
    seed = 1,
    readonly dtype: 'F32' | 'F16' | 'BF16' = 'F32',
    readonly headerBytes = 88,
  ) {
    this.random = seededRandom(seed);
  }

  /** Adds `name` with `values`, or uniform values in ±scale (default 1/√fan-in). */
  add(name: string, dims: number[], scale?: number | ArrayLike<number>, dtype = this.dtype): this {
    const n = dims.reduce((a, b) => a * b, 1);
    let values: ArrayLike<number>;
    if (typeof scale === 'object') values = scale;
    else {
      const s = scale ?? 1 / Math.sqrt(dims.length > 1 ? n / dims[0] : n);
      values = Array.from({ length: n }, () => (this.random() * 2 - 1) * s);
    }
    const width = dtype === 'F32' ? 4 : 2;
    const bytes = new Uint8Array(n * width);
    const view = new DataView(bytes.buffer);
    const stored = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (dtype === 'F16') {
        const bits = float32ToFloat16Bits(values[i]);
        view.setUint16(i * 2, bits, true);
        stored[i] = float16BitsToFloat32(bits);
      } else if (dtype === 'BF16') {
        // bfloat16 is float32's upper half (truncated here).
        const f32 = new DataView(new ArrayBuffer(4));
        f32.setFloat32(0, values[i], true);
        const bits = f32.getUint16(2, true);
        view.setUint16(i * 2, bits, true);
        f32.setUint16(0, 0, true);
        stored[i] = f32.getFloat32(0, true);
      } else {
        view.setFloat32(i * 4, values[i], true);
        stored[i] = view.getFloat32(i * 4, true);
      }
    }
    // A gap between tensors, so a wrong offset reads the wrong numbers.
    const gap = new Uint8Array(8).fill(0x7f);
    this.chunks.push(gap);
    this.size += gap.length;
    this.refs.set(name, { key: `ldm.${name}`, dtype, shape: dims, begin: this.size, end: this.size + bytes.length });
    this.chunks.push(bytes);
    this.size += bytes.length;
    this.params.set(name, { data: stored, dims });
    return this;
  }

  /** Linear `[out, in]` weight and bias under `prefix`. */
  linear(prefix: string, inp: number, out: number, bias = true): this {
    this.add(`${prefix}.weight`, [out, inp]);
    if (bias) this.add(`${prefix}.bias`, [out], 0.1);
    return this;
  }

  conv(prefix: string, inp: number, out: number, k: number): this {
    return this.add(`${prefix}.weight`, [out, inp, k, k]).add(`${prefix}.bias`, [out], 0.1);
  }

  /** A norm's weight around 1 and bias around 0. */
  norm(prefix: string, channels: number): this {
    this.add(`${prefix}.weight`, [channels], Array.from({ length: channels }, () => 1 + (this.random() * 2 - 1) * 0.2));
    return this.add(`${prefix}.bias`, [channels], 0.1);
  }

  p(name: string): Param {
    const p = this.params.get(name);
    if (!p) throw new Error(`test weight missing: ${name}`);
    return p;
  }

  /** The whole stand-in file: header bytes, then the data section. */
  file(): Uint8Array {
    const out = new Uint8Array(this.headerBytes + this.size);
    let at = this.headerBytes;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  source(): WeightSource {
    return { weights: this.refs, locate: fileLocation(CHECKPOINT_LOCATION, this.headerBytes) };
  }
}
