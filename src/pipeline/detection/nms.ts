/**
 * Non-maximum suppression: MediaPipe's weighted variant (overlapping boxes are averaged, weighted
 * by score, into the best one) for its face and palm detectors, plain greedy NMS for YOLO.
 */
import type { Box, Candidate } from './types';

/** Intersection over union; 0 for disjoint or degenerate boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Highest score first; ties keep their decoding order so results are reproducible. */
const byScore = (list: readonly Candidate[]) => [...list].sort((a, b) => b.score - a.score);

/**
 * MediaPipe's WEIGHTED algorithm: take the best remaining box, gather every remaining box whose
 * IoU with it is above `iouThreshold` (itself included), replace its box and keypoints by the
 * score-weighted mean of the gathered ones, keep its own score, drop the gathered, repeat.
 */
export function weightedNms(candidates: readonly Candidate[], iouThreshold: number, maxDetections = Infinity): Candidate[] {
  let remaining = byScore(candidates);
  const kept: Candidate[] = [];
  while (remaining.length > 0 && kept.length < maxDetections) {
    const best = remaining[0];
    const cluster: Candidate[] = [];
    const rest: Candidate[] = [];
    for (const c of remaining) (iou(c.box, best.box) > iouThreshold ? cluster : rest).push(c);
    const merged: Candidate = { ...best, box: [...best.box], keypoints: best.keypoints.map((k) => [...k]) };
    if (cluster.length > 0) {
      const total = cluster.reduce((sum, c) => sum + c.score, 0);
      const mean = (value: (c: Candidate) => number) => cluster.reduce((sum, c) => sum + value(c) * c.score, 0) / total;
      merged.box = [mean((c) => c.box[0]), mean((c) => c.box[1]), mean((c) => c.box[2]), mean((c) => c.box[3])];
      merged.keypoints = best.keypoints.map((_, k) => [mean((c) => c.keypoints[k][0]), mean((c) => c.keypoints[k][1])]);
    }
    kept.push(merged);
    // A degenerate best box overlaps nothing, not even itself: MediaPipe stops there rather than loop.
    if (rest.length === remaining.length) break;
    remaining = rest;
  }
  return kept;
}

/** Greedy NMS: keep the best box, drop those overlapping a kept one by more than `iouThreshold`. */
export function nms(
  candidates: readonly Candidate[],
  iouThreshold: number,
  options: { maxDetections?: number; perClass?: boolean } = {},
): Candidate[] {
  const { maxDetections = Infinity, perClass = false } = options;
  const kept: Candidate[] = [];
  for (const c of byScore(candidates)) {
    if (kept.length >= maxDetections) break;
    const suppressed = kept.some((k) => (!perClass || k.classIndex === c.classIndex) && iou(k.box, c.box) > iouThreshold);
    if (!suppressed) kept.push(c);
  }
  return kept;
}
