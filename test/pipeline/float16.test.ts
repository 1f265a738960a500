import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits, fromFloat16Array, toFloat16Array } from '../../src/pipeline/float16';

describe('float16', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to Inf
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // tie → even
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
  ])('%s → 0x%s', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
  });

  it('round-trips every finite half value exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const exp = (bits >>> 10) & 0x1f;
      if (exp === 0x1f) continue;
      expect(float32ToFloat16Bits(float16BitsToFloat32(bits))).toBe(bits);
    }
  });

  it('the array conversions give what the scalar ones give, for every half and the float32s around each rounding boundary', () => {
    const halves = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
    const decoded = fromFloat16Array(halves);
    for (let b = 0; b < 0x10000; b++) expect(Object.is(decoded[b], float16BitsToFloat32(b)), `half bits ${b}`).toBe(true);
    // Float32 bit patterns across every exponent (normal, subnormal, overflow, Inf, NaN) with
    // mantissas at and beside the halfway points where rounding to even decides.
    const bits: number[] = [];
    for (let exp = 0; exp < 256; exp++) {
      for (const mant of [0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fe000, 0x7ff000, 0x7fffff]) {
        for (const sign of [0, 0x80000000]) bits.push((sign | (exp << 23) | mant) >>> 0);
      }
    }
    const values = new Float32Array(Uint32Array.from(bits).buffer);
    const converted = toFloat16Array(values);
    values.forEach((v, i) => expect(converted[i], `float32 bits ${bits[i]!.toString(16)}`).toBe(float32ToFloat16Bits(v)));
  });

  it('converts arrays both ways', () => {
    const values = new Float32Array([0.5, -1.25, 3]);
    expect(Array.from(fromFloat16Array(toFloat16Array(values)))).toEqual([0.5, -1.25, 3]);
  });
});
