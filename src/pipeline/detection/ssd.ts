/**
 * Decoding of MediaPipe SSD detector outputs (TensorsToDetectionsCalculator's rules for its face
 * and palm graphs: x before y, sizes over fixed anchors, clipped sigmoid scores) into candidate
 * boxes in the model's input pixels.
 */
import type { Tensor } from '../tensor';
import { anchorCount, coordsPerAnchor, DetectorLayoutError, specAnchors } from './layouts';
import type { SsdModelSpec } from './specs';
import type { Candidate } from './types';

/** Per-anchor logits and coordinates, in anchor order. */
export interface SsdRaw {
  logits: Float32Array;
  /** `4 + 2·keypoints` values per anchor: x, y, w, h, then x, y of each keypoint. */
  coords: Float32Array;
}

/** One stretch of consecutive anchors: the outputs that hold its scores and coordinates. */
interface Segment {
  size: number;
  logits?: (i: number) => number;
  coords?: (i: number, k: number) => number;
}

/**
 * Puts the outputs in anchor order. Outputs split per grid (BlazeFace back: 512 anchors of the
 * 16-px grid, 384 of the 32-px grids) are placed by their anchor counts, which the grids' sizes
 * fix; outputs of equal size keep the model's output order.
 */
export function gatherSsdOutputs(outputs: readonly Tensor[], spec: SsdModelSpec): SsdRaw {
  const c = coordsPerAnchor(spec);
  const total = anchorCount(spec);
  // 1. Pair score and coordinate tensors of the same anchor count.
  const bySize = new Map<number, Segment[]>();
  const segment = (size: number, wants: 'logits' | 'coords'): Segment => {
    const list = bySize.get(size) ?? [];
    bySize.set(size, list);
    let s = list.find((x) => x[wants] === undefined);
    if (!s) list.push((s = { size }));
    return s;
  };
  for (const t of outputs) {
    const [, n, k] = t.dims;
    const d = t.data;
    if (t.dims.length !== 3 || t.dims[0] !== 1) throw new DetectorLayoutError(`SSD output [${t.dims.join(', ')}] is not [1, anchors, values]`);
    if (k === 1) segment(n, 'logits').logits = (i) => d[i];
    else if (k === c) segment(n, 'coords').coords = (i, j) => d[i * c + j];
    else if (k === c + 1) {
      // Score first, then the coordinates (human-models' single-output palm detector).
      const s = segment(n, 'logits');
      s.logits = (i) => d[i * k];
      segment(n, 'coords').coords = (i, j) => d[i * k + 1 + j];
    } else throw new DetectorLayoutError(`SSD output [${t.dims.join(', ')}] has ${k} values per anchor; ${spec.name} needs 1, ${c} or ${c + 1}`);
  }
  // 2. Walk the grids in anchor order, taking a segment whenever the grids so far fill one.
  const ordered: Segment[] = [];
  let run = 0;
  for (const size of specAnchors(spec).groupSizes) {
    run += size;
    const next = bySize.get(run)?.shift();
    if (next) {
      ordered.push(next);
      run = 0;
    }
  }
  const complete = ordered.every((s) => s.logits && s.coords);
  if (run !== 0 || [...bySize.values()].some((l) => l.length > 0) || !complete) {
    const sizes = outputs.map((t) => `[${t.dims.join(', ')}]`).join(', ');
    throw new DetectorLayoutError(`SSD outputs ${sizes} do not split ${spec.name}'s ${total} anchors into its grids (${specAnchors(spec).groupSizes.join(' + ')})`);
  }
  // 3. Copy into flat per-anchor arrays.
  const logits = new Float32Array(total);
  const coords = new Float32Array(total * c);
  let base = 0;
  for (const s of ordered) {
    for (let i = 0; i < s.size; i++) {
      logits[base + i] = s.logits!(i);
      for (let j = 0; j < c; j++) coords[(base + i) * c + j] = s.coords!(i, j);
    }
    base += s.size;
  }
  return { logits, coords };
}

/** Sigmoid of the logit clipped to ±`clip` (MediaPipe's score_clipping_thresh). */
export function clippedSigmoid(logit: number, clip: number): number {
  const x = Math.max(-clip, Math.min(clip, logit));
  return 1 / (1 + Math.exp(-x));
}

/** Every anchor whose score reaches `threshold`, decoded to a box and keypoints in input pixels. */
export function decodeSsd(raw: SsdRaw, spec: SsdModelSpec, threshold: number): Candidate[] {
  const { anchors } = specAnchors(spec);
  const c = coordsPerAnchor(spec);
  const { x: sx, y: sy, w: sw, h: sh } = spec.scales;
  const size = spec.inputSize;
  const out: Candidate[] = [];
  for (let i = 0; i < anchors.length; i++) {
    const score = clippedSigmoid(raw.logits[i], spec.scoreClip);
    if (score < threshold) continue;
    const a = anchors[i];
    const r = i * c;
    // Centre and size relative to the anchor, as fractions of the input; then input pixels.
    const cx = (raw.coords[r] / sx) * a.w + a.x;
    const cy = (raw.coords[r + 1] / sy) * a.h + a.y;
    const w = (raw.coords[r + 2] / sw) * a.w;
    const h = (raw.coords[r + 3] / sh) * a.h;
    const keypoints: Array<[number, number]> = [];
    for (let k = 0; k < spec.numKeypoints; k++) {
      const o = r + 4 + 2 * k;
      keypoints.push([((raw.coords[o] / sx) * a.w + a.x) * size, ((raw.coords[o + 1] / sy) * a.h + a.y) * size]);
    }
    out.push({
      classIndex: 0,
      score,
      box: [(cx - w / 2) * size, (cy - h / 2) * size, (cx + w / 2) * size, (cy + h / 2) * size],
      keypoints,
    });
  }
  return out;
}
