/**
 * Test-only emulation of torch's CPU generator (`torch.manual_seed(s)`), enough to replay the
 * diffusers scheduler tests that draw noise: MT19937 32-bit outputs; `rand` of float32 takes the
 * low 24 bits / 2^24; `randn` of ≥ 16 float32 values fills uniforms first and then applies
 * Box–Muller to each block of 16 (u1 = 1 − u[j], u2 = u[j + 8], j < 8), as ATen's normal_fill.
 * float32 rounding is applied where ATen computes in float; its vectorised log/sin/cos may differ
 * in the last bit, far below the tests' tolerances.
 */
import type { Tensor } from '../../../../src/pipeline/tensor';

const f32 = Math.fround;

export class TorchCpuGenerator {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** One MT19937 output (unsigned 32-bit). */
  random(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** torch.rand(n) for float32. */
  rand(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.random() & 0xffffff) / 16777216;
    return out;
  }

  /** torch.randn(dims) for float32 (size ≥ 16, a multiple of 16 as in the scheduler tests). */
  randn(dims: readonly number[]): Tensor {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size < 16 || size % 16 !== 0) throw new Error('randn emulation covers sizes that are multiples of 16');
    const data = this.rand(size);
    for (let base = 0; base < size; base += 16) {
      for (let j = 0; j < 8; j++) {
        const u1 = f32(1 - data[base + j]);
        const u2 = data[base + j + 8];
        const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u1)))));
        const theta = f32(2 * Math.PI * u2);
        data[base + j] = f32(radius * f32(Math.cos(theta)));
        data[base + j + 8] = f32(radius * f32(Math.sin(theta)));
      }
    }
    return { data, dims: [...dims] };
  }

  /** As a scheduler noise source (diffusers' randn_tensor with this generator). */
  normalTensor(dims: readonly number[]): Tensor {
    return this.randn(dims);
  }
}
