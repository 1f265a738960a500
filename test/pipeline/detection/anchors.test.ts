/**
 * SSD anchors against MediaPipe's SsdAnchorsCalculator rules, worked out by hand for a small
 * configuration, and the anchor counts of the real models (896 for BlazeFace, 2944 for the
 * 256 px palm detector, whose outputs are [1, 2944, 19]).
 */
import { describe, expect, it } from 'vitest';
import { ssdAnchorGroups, ssdAnchors, type SsdAnchorOptions } from '../../../src/pipeline/detection/anchors';
import {
  BLAZEFACE_BACK_256,
  BLAZEFACE_FULL_RANGE_192,
  BLAZEFACE_SHORT_RANGE_128,
  PALM_192,
  PALM_256,
} from '../../../src/pipeline/detection/specs';

/**
 * 64 px input, three layers (strides 8, 16, 16), scales 0.2 → 0.8, aspect ratios 1 and 2, plus
 * the interpolated anchor, sizes not fixed.
 */
const small: SsdAnchorOptions = {
  inputWidth: 64,
  inputHeight: 64,
  minScale: 0.2,
  maxScale: 0.8,
  anchorOffsetX: 0.5,
  anchorOffsetY: 0.5,
  numLayers: 3,
  strides: [8, 16, 16],
  aspectRatios: [1, 2],
  interpolatedScaleAspectRatio: 1,
  reduceBoxesInLowestLayer: false,
  fixedAnchorSize: false,
};

describe('SSD anchors (MediaPipe SsdAnchorsCalculator semantics)', () => {
  it('a small configuration, worked out by hand', () => {
    const groups = ssdAnchorGroups(small);
    // Stride 8 → an 8×8 grid with layer 0's anchors: ratio 1, ratio 2, interpolated = 3 per cell.
    // Strides 16, 16 share a 4×4 grid: layers 1 and 2 each add 3 = 6 per cell.
    expect(groups.map((g) => [g.stride, g.rows, g.cols, g.perCell, g.anchors.length])).toEqual([
      [8, 8, 8, 3, 192],
      [16, 4, 4, 6, 96],
    ]);
    const anchors = ssdAnchors(small);
    expect(anchors).toHaveLength(288);
    // Layer scales: 0.2 + 0.6·i/2 → 0.2, 0.5, 0.8. Cell (0, 0) of the 8×8 grid is centred at 0.5/8.
    const s0 = 0.2;
    expect(anchors[0]).toEqual({ x: 0.0625, y: 0.0625, w: s0, h: s0 });
    expect(anchors[1].x).toBe(0.0625);
    expect(anchors[1].w).toBeCloseTo(s0 * Math.SQRT2, 12); // ratio 2: w = s·√2, h = s/√2
    expect(anchors[1].h).toBeCloseTo(s0 / Math.SQRT2, 12);
    expect(anchors[2].w).toBeCloseTo(Math.sqrt(0.2 * 0.5), 7); // interpolated: √(s0·s1), ratio 1
    expect(anchors[2].h).toBeCloseTo(Math.sqrt(0.2 * 0.5), 7);
    // The next cell along x: centre 1.5/8.
    expect(anchors[3]).toMatchObject({ x: 0.1875, y: 0.0625 });
    // First anchor of the 4×4 grid: layer 1, ratio 1, scale 0.5, centre 0.5/4.
    expect(anchors[192].x).toBe(0.125);
    expect(anchors[192].w).toBeCloseTo(0.5, 7);
    // Last anchor: cell (3, 3), layer 2's interpolated anchor, √(0.8·1) (1.0 after the last layer).
    const last = anchors[287];
    expect([last.x, last.y]).toEqual([0.875, 0.875]);
    expect(last.w).toBeCloseTo(Math.sqrt(0.8), 7);
    expect(last.h).toBeCloseTo(Math.sqrt(0.8), 7);
  });

  it('fixed anchor sizes, offsets, no interpolated anchor, the reduced lowest layer', () => {
    const fixed = ssdAnchors({ ...small, fixedAnchorSize: true, anchorOffsetX: 0, anchorOffsetY: 1 });
    expect(fixed[0]).toEqual({ x: 0, y: 0.125, w: 1, h: 1 });
    expect(ssdAnchors({ ...small, interpolatedScaleAspectRatio: 0 })).toHaveLength(8 * 8 * 2 + 4 * 4 * 4);
    // Layer 0 gets MediaPipe's three predefined anchors: (ratio 1, scale 0.1), (2, s0), (0.5, s0).
    const reduced = ssdAnchors({ ...small, reduceBoxesInLowestLayer: true });
    expect(reduced.slice(0, 3).map((a) => [a.w, a.h].map((v) => +v.toFixed(6)))).toEqual([
      [0.1, 0.1],
      [+(0.2 * Math.SQRT2).toFixed(6), +(0.2 / Math.SQRT2).toFixed(6)],
      [+(0.2 / Math.SQRT2).toFixed(6), +(0.2 * Math.SQRT2).toFixed(6)],
    ]);
    expect(() => ssdAnchors({ ...small, numLayers: 2 })).toThrow(/3 strides for 2 layers/);
  });

  it('the real models: BlazeFace 896 (2304 full-range), palm 2944 at 256 px (2016 at 192 px)', () => {
    const counts = (o: SsdAnchorOptions) => ssdAnchorGroups(o).map((g) => g.anchors.length);
    // BlazeFace back: 16×16 cells × 2 (stride 16) + 8×8 cells × 6 (three stride-32 layers × 2).
    expect(counts(BLAZEFACE_BACK_256.anchors)).toEqual([512, 384]);
    expect(counts(BLAZEFACE_SHORT_RANGE_128.anchors)).toEqual([512, 384]);
    expect(counts(BLAZEFACE_FULL_RANGE_192.anchors)).toEqual([2304]);
    // Palm 256: 32×32 × 2 + 16×16 × 2 + 8×8 × 6.
    expect(counts(PALM_256.anchors)).toEqual([2048, 512, 384]);
    expect(counts(PALM_192.anchors)).toEqual([1152, 864]);
  });

  it('palm anchors: centres of each grid, all of size 1 (boxes regressed in input pixels)', () => {
    const anchors = ssdAnchors(PALM_256.anchors);
    expect(anchors.every((a) => a.w === 1 && a.h === 1)).toBe(true);
    // Two anchors per cell; cell (0, 0) of the 32×32 grid is at 0.5/32.
    expect(anchors[0]).toMatchObject({ x: 0.015625, y: 0.015625 });
    expect(anchors[1]).toMatchObject({ x: 0.015625, y: 0.015625 });
    expect(anchors[2]).toMatchObject({ x: 0.046875, y: 0.015625 });
    expect(anchors[2047]).toMatchObject({ x: 0.984375, y: 0.984375 });
    // The 16×16 grid starts at 0.5/16, the 8×8 grid (6 per cell) at 0.5/8 and ends at 7.5/8.
    expect(anchors[2048]).toMatchObject({ x: 0.03125, y: 0.03125 });
    expect(anchors[2560]).toMatchObject({ x: 0.0625, y: 0.0625 });
    expect(anchors[2943]).toMatchObject({ x: 0.9375, y: 0.9375 });
  });
});
