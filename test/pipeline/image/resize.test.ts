import { describe, expect, it } from 'vitest';
import { axisFilter, resizeImage } from '../../../src/pipeline/image/resize';
import { createRgbaImage } from '../../../src/pipeline/image/rgba';

/** A one-row grey image (r = g = b = value, opaque). */
function row(values: number[], alpha?: number[]) {
  const img = createRgbaImage(values.length, 1);
  values.forEach((v, i) => img.data.set([v, v, v, alpha?.[i] ?? 255], i * 4));
  return img;
}
const reds = (img: { data: Uint8ClampedArray }) => [...img.data].filter((_, i) => i % 4 === 0);

describe('resizeImage', () => {
  it('shrinking by 2 averages each pair (area filter)', () => {
    expect(reds(resizeImage(row([0, 100, 200, 40]), 2, 1))).toEqual([50, 120]);
  });

  it('shrinking by 4/3 weighs partially covered pixels by their coverage', () => {
    // Output 0 covers [0, 4/3): pixel 0 fully, pixel 1 one third → (90·1 + 0·⅓)/(4/3) = 67.5 → 68 (half to even)
    // Output 2 covers [8/3, 4): pixel 2 one third, pixel 3 fully → (30·⅓ + 60)/(4/3) = 52.5 → 52
    const out = resizeImage(row([90, 0, 30, 60]), 3, 1);
    expect(reds(out)).toEqual([68, 15, 52]);
    const f = axisFilter(4, 3);
    expect([...f.start]).toEqual([0, 1, 2]);
    f.weights.forEach((w) => expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12));
  });

  it('growing is bilinear with pixel-centre alignment', () => {
    // 2 → 4: sources −0.25→0, 0.25, 0.75, 1.25→1
    expect(reds(resizeImage(row([0, 200]), 4, 1))).toEqual([0, 50, 150, 200]);
  });

  it('averages colour by alpha, so a transparent pixel does not darken its neighbour', () => {
    const out = resizeImage(row([200, 0], [255, 0]), 1, 1);
    expect([...out.data]).toEqual([200, 200, 200, 128]);
  });

  it('resizes the two axes independently (shrink one, grow the other), and copies at the same size', () => {
    const img = createRgbaImage(4, 2);
    for (let i = 0; i < 8; i++) img.data.set([i * 10, 0, 0, 255], i * 4);
    const out = resizeImage(img, 2, 4);
    expect([out.width, out.height]).toEqual([2, 4]);
    // Row 0 of the input shrinks to [5, 25], row 1 to [45, 65]; vertically 2 → 4 bilinear.
    expect(reds(out)).toEqual([5, 25, 15, 35, 35, 55, 45, 65]);
    const same = resizeImage(img, 4, 2);
    expect(same.data).toEqual(img.data);
    expect(same.data).not.toBe(img.data);
  });
});
