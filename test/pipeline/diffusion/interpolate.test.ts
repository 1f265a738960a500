import { describe, expect, it } from 'vitest';
import { interpolateBilinear } from '../../../src/pipeline/diffusion/latents';

const t = (dims: number[], values: number[]) => ({ data: Float32Array.from(values), dims });

/**
 * Expected values computed by hand with torch's rule for mode='bilinear', align_corners=False:
 * source = (i + 0.5)·in/out − 0.5, negative → 0, neighbours clamped to the last pixel.
 */
describe('interpolateBilinear (torch interpolate, bilinear, align_corners=False)', () => {
  it('2×2 → 4×4: the well-known torch result', () => {
    const out = interpolateBilinear(t([1, 1, 2, 2], [1, 2, 3, 4]), 4, 4);
    expect(out.dims).toEqual([1, 1, 4, 4]);
    expect([...out.data]).toEqual([
      1, 1.25, 1.75, 2, //
      1.5, 1.75, 2.25, 2.5,
      2.5, 2.75, 3.25, 3.5,
      3, 3.25, 3.75, 4,
    ]);
  });

  it('a non-integer ratio, 3 → 5 wide: sources −0.2→0, 0.4, 1.0, 1.6, 2.2 (clamped neighbour)', () => {
    const out = interpolateBilinear(t([1, 1, 1, 3], [0, 3, 6]), 1, 5);
    [0, 1.2, 3, 4.8, 6].forEach((v, i) => expect(out.data[i]).toBeCloseTo(v, 6));
  });

  it('12 → 18 (the hires ×1.5 latent case): source of 5 is 5.5·⅔ − 0.5 = 3.1667', () => {
    const row = Array.from({ length: 12 }, (_, i) => i * i);
    const out = interpolateBilinear(t([1, 1, 1, 12], row), 1, 18);
    // between 9 (at 3) and 16 (at 4): 9 + (3.1667 − 3)·7
    expect(out.data[5]).toBeCloseTo(9 + (5.5 * (2 / 3) - 0.5 - 3) * 7, 5);
    expect(out.data[0]).toBe(0);
    // last: source 17.5·⅔ − 0.5 = 11.1667 → both neighbours are pixel 11
    expect(out.data[17]).toBe(121);
  });

  it('keeps batch items and channels apart', () => {
    const input = t([2, 2, 1, 2], [0, 4, 10, 20, 100, 200, -1, -3]);
    const out = interpolateBilinear(input, 1, 4);
    expect(out.dims).toEqual([2, 2, 1, 4]);
    expect([...out.data]).toEqual([0, 1, 3, 4, 10, 12.5, 17.5, 20, 100, 125, 175, 200, -1, -1.5, -2.5, -3]);
  });

  it('shrinking without antialias samples between pairs (4 → 2)', () => {
    expect([...interpolateBilinear(t([1, 1, 1, 4], [1, 2, 3, 4]), 1, 2).data]).toEqual([1.5, 3.5]);
  });

  it('the same size is the identity', () => {
    const input = t([1, 1, 2, 3], [1, 2, 3, 4, 5, 6]);
    expect([...interpolateBilinear(input, 2, 3).data]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
