/**
 * Decoding of YOLOv8-style outputs `[1, 4 + classes, N]`: for each of the N boxes, its centre
 * and size in input pixels (rows 0–3), then one score per class (rows 4…, already in [0, 1]).
 */
import type { Tensor } from '../tensor';
import { DetectorLayoutError } from './layouts';
import type { Candidate } from './types';

/** Every box whose best class score reaches `threshold`, as a candidate of that class. */
export function decodeYolo(output: Tensor, threshold: number): Candidate[] {
  const [batch, rows, n] = output.dims;
  if (output.dims.length !== 3 || batch !== 1 || rows < 5) {
    throw new DetectorLayoutError(`YOLO output [${output.dims.join(', ')}] is not [1, 4 + classes, N]`);
  }
  const d = output.data;
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    let classIndex = 0;
    for (let k = 0; k < rows - 4; k++) {
      const score = d[(4 + k) * n + i];
      if (score > best) {
        best = score;
        classIndex = k;
      }
    }
    if (best < threshold) continue;
    const cx = d[i];
    const cy = d[n + i];
    const w = d[2 * n + i];
    const h = d[3 * n + i];
    out.push({ classIndex, score: best, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], keypoints: [] });
  }
  return out;
}
