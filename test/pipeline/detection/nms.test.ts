/** NMS on hand-made boxes: MediaPipe's weighted variant and plain greedy NMS. */
import { describe, expect, it } from 'vitest';
import { iou, nms, weightedNms } from '../../../src/pipeline/detection/nms';
import type { Box, Candidate } from '../../../src/pipeline/detection/types';

const cand = (score: number, box: Box, keypoints: Array<[number, number]> = [], classIndex = 0): Candidate => ({ classIndex, score, box, keypoints });

describe('iou', () => {
  it('intersection over union; 0 for disjoint, touching or empty boxes', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 12);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(iou([5, 5, 5, 5], [0, 0, 10, 10])).toBe(0);
  });
});

describe('weighted NMS (MediaPipe WEIGHTED)', () => {
  it('merges a cluster into the best box by score-weighted means, keeping the best score', () => {
    const a = cand(0.9, [0, 0, 10, 10], [[2, 2]]);
    const b = cand(0.6, [1, 1, 11, 11], [[4, 4]]); // IoU with a = 81/119 ≈ 0.68
    const c = cand(0.3, [2, 0, 12, 10], [[8, 2]]); // IoU with a = 80/120 ≈ 0.67
    const far = cand(0.5, [50, 50, 60, 60], [[55, 55]]);
    const out = weightedNms([c, far, b, a], 0.3);
    expect(out).toHaveLength(2);
    const [merged, second] = out;
    const total = 0.9 + 0.6 + 0.3;
    expect(merged.score).toBe(0.9);
    expect(merged.box[0]).toBeCloseTo((0 * 0.9 + 1 * 0.6 + 2 * 0.3) / total, 12); // 0.666…
    expect(merged.box[1]).toBeCloseTo((0 * 0.9 + 1 * 0.6 + 0 * 0.3) / total, 12);
    expect(merged.box[2]).toBeCloseTo((10 * 0.9 + 11 * 0.6 + 12 * 0.3) / total, 12);
    expect(merged.box[3]).toBeCloseTo((10 * 0.9 + 11 * 0.6 + 10 * 0.3) / total, 12);
    expect(merged.keypoints[0][0]).toBeCloseTo((2 * 0.9 + 4 * 0.6 + 8 * 0.3) / total, 12);
    // The far box is alone in its cluster: unchanged.
    expect(second).toEqual(far);
    // The inputs are not modified.
    expect(a.box).toEqual([0, 0, 10, 10]);
  });

  it('merges only above the threshold (strictly), and honours maxDetections', () => {
    const a = cand(0.9, [0, 0, 10, 10]);
    const b = cand(0.8, [5, 0, 15, 10]); // IoU 1/3
    expect(weightedNms([a, b], 1 / 3)).toHaveLength(2);
    expect(weightedNms([a, b], 0.3)).toHaveLength(1);
    expect(weightedNms([a, b, cand(0.1, [40, 40, 50, 50])], 0.3, 1)).toHaveLength(1);
  });

  it('stops at a degenerate best box, as MediaPipe does (it overlaps nothing, not even itself)', () => {
    const out = weightedNms([cand(0.9, [5, 5, 5, 5]), cand(0.5, [0, 0, 10, 10])], 0.3);
    expect(out).toEqual([cand(0.9, [5, 5, 5, 5])]);
  });
});

describe('plain NMS', () => {
  it('keeps the best of overlapping boxes untouched, drops the rest', () => {
    const a = cand(0.9, [0, 0, 10, 10]);
    const b = cand(0.95, [1, 1, 11, 11]);
    const c = cand(0.4, [30, 0, 40, 10]);
    expect(nms([a, b, c], 0.5)).toEqual([b, c]);
    expect(nms([a, b, c], 0.7)).toEqual([b, a, c]); // IoU 81/119 ≈ 0.68 ≤ 0.7: both kept
  });

  it('per class: boxes of different classes do not suppress each other', () => {
    const face = cand(0.9, [0, 0, 10, 10], [], 0);
    const hand = cand(0.8, [0, 0, 10, 10], [], 1);
    expect(nms([face, hand], 0.5)).toEqual([face]);
    expect(nms([face, hand], 0.5, { perClass: true })).toEqual([face, hand]);
    expect(nms([face, hand], 0.5, { perClass: true, maxDetections: 1 })).toEqual([face]);
  });
});
