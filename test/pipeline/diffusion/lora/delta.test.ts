import { describe, expect, it } from 'vitest';
import { addDelta, deltaFits, loraDelta } from '../../../../src/pipeline/diffusion/lora';

const matrix = (shape: number[], values: number[]) => ({ shape, data: Float32Array.from(values) });

describe('LoRA delta maths', () => {
  it('ΔW = weight · alpha/rank · up · down, shaped [out, in] (worked by hand)', () => {
    // up [3, 2], down [2, 2], alpha 1, rank 2, weight 4: scale 2.
    const d = loraDelta({ up: matrix([3, 2], [1, 0, 0, 1, 1, 1]), down: matrix([2, 2], [1, 2, 3, 4]), alpha: 1, rank: 2 }, 4);
    expect(d.shape).toEqual([3, 2]);
    expect(Array.from(d.data)).toEqual([2, 4, 6, 8, 8, 12]);
  });

  it('conv: down [r, in, kh, kw] and up [out, r, 1, 1] give [out, in, kh, kw] in torch order', () => {
    const down = matrix([1, 2, 1, 2], [1, 2, 3, 4]); // in 2, kernel 1×2
    const d = loraDelta({ up: matrix([2, 1, 1, 1], [1, -1]), down, alpha: 1, rank: 1 }, 1);
    expect(d.shape).toEqual([2, 2, 1, 2]);
    expect(Array.from(d.data)).toEqual([1, 2, 3, 4, -1, -2, -3, -4]);
  });

  it('adds into [out, in] as stored and into [in, out] transposed', () => {
    const d = loraDelta({ up: matrix([2, 1], [1, 2]), down: matrix([1, 3], [1, 10, 100]), alpha: 1, rank: 1 }, 1);
    const outIn = new Float32Array(6);
    addDelta(outIn, d, 'out_in');
    expect(Array.from(outIn)).toEqual([1, 10, 100, 2, 20, 200]);
    const inOut = new Float32Array(6).fill(1);
    addDelta(inOut, d, 'in_out');
    expect(Array.from(inOut)).toEqual([2, 3, 11, 21, 101, 201]);
  });

  it('fits only weights of the right shape; [in, out] only for a plain Linear', () => {
    const linear = loraDelta({ up: matrix([2, 1], [1, 1]), down: matrix([1, 3], [1, 1, 1]), alpha: 1, rank: 1 }, 1);
    expect(deltaFits(linear, [2, 3], 'out_in')).toBe(true);
    expect(deltaFits(linear, [2, 3, 1, 1], 'out_in')).toBe(true);
    expect(deltaFits(linear, [3, 2], 'in_out')).toBe(true);
    expect(deltaFits(linear, [3, 2], 'out_in')).toBe(false);
    expect(deltaFits(linear, [2, 4], 'out_in')).toBe(false);
    const conv = loraDelta({ up: matrix([2, 1, 1, 1], [1, 1]), down: matrix([1, 1, 1, 3], [1, 1, 1]), alpha: 1, rank: 1 }, 1);
    expect(deltaFits(conv, [2, 1, 1, 3], 'out_in')).toBe(true);
    expect(deltaFits(conv, [3, 2], 'in_out')).toBe(false);
  });
});
