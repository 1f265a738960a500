/**
 * Which decoder a detector's outputs need, from its input size and output shapes alone: the same
 * check when a model is opened (shapes from the session) and on every run (shapes of the results).
 */
import type { DetectorLayout } from '../ports';
import { ssdAnchorGroups, type Anchor } from './anchors';
import { SSD_MODELS, type SsdModelSpec } from './specs';

export type DetectorDecoding = { layout: 'blazeface' | 'palm'; spec: SsdModelSpec } | { layout: 'yolo'; numClasses: number };

/** The outputs match no layout the studio decodes; the message says what they are. */
export class DetectorLayoutError extends Error {
  override name = 'DetectorLayoutError';
}

const shapeList = (shapes: ReadonlyArray<readonly number[]>) => shapes.map((d) => `[${d.join(', ')}]`).join(', ');

/** Coordinate columns per anchor: the box (4) and x, y of each keypoint. */
export const coordsPerAnchor = (spec: SsdModelSpec) => 4 + 2 * spec.numKeypoints;

export interface SpecAnchors {
  /** In the order the model's outputs list them. */
  anchors: Anchor[];
  /** Anchors of each grid (consecutive layers of one stride), in that order. */
  groupSizes: number[];
}

const anchorCache = new WeakMap<SsdModelSpec, SpecAnchors>();

/** A family's anchors, generated once. */
export function specAnchors(spec: SsdModelSpec): SpecAnchors {
  let cached = anchorCache.get(spec);
  if (!cached) {
    const groups = ssdAnchorGroups(spec.anchors);
    cached = { anchors: groups.flatMap((g) => g.anchors), groupSizes: groups.map((g) => g.anchors.length) };
    anchorCache.set(spec, cached);
  }
  return cached;
}

export const anchorCount = (spec: SsdModelSpec) => specAnchors(spec).anchors.length;

/**
 * SSD outputs come as `[1, n, 1]` scores with `[1, n, C]` coordinates (MediaPipe's TFLite
 * models, possibly split per grid), or as one `[1, n, 1 + C]` with the score first (human-models'
 * palm detector). Every anchor must get exactly one score and one set of coordinates.
 */
function matchesSsd(spec: SsdModelSpec, shapes: ReadonlyArray<readonly number[]>): boolean {
  const c = coordsPerAnchor(spec);
  let scored = 0;
  let placed = 0;
  for (const d of shapes) {
    if (d.length !== 3 || d[0] !== 1) return false;
    const [, n, k] = d;
    if (k === 1) scored += n;
    else if (k === c) placed += n;
    else if (k === c + 1) {
      scored += n;
      placed += n;
    } else return false;
  }
  const total = anchorCount(spec);
  return scored === total && placed === total;
}

/**
 * The decoding for a detector with a `inputSize`-pixel square input and outputs of these shapes.
 * `expected` (the layout a registry or models.json recorded) must agree when given.
 */
export function identifyDetector(inputSize: number, shapes: ReadonlyArray<readonly number[]>, expected?: DetectorLayout): DetectorDecoding {
  const found = ((): DetectorDecoding | undefined => {
    // YOLO: one `[1, 4 + classes, N]` with more boxes than rows.
    if (shapes.length === 1) {
      const d = shapes[0];
      if (d.length === 3 && d[0] === 1 && d[1] >= 5 && d[2] > d[1] && (expected === undefined || expected === 'yolo')) {
        return { layout: 'yolo', numClasses: d[1] - 4 };
      }
    }
    const spec = SSD_MODELS.find((s) => s.inputSize === inputSize && (expected === undefined || expected === s.layout) && matchesSsd(s, shapes));
    return spec ? { layout: spec.layout, spec } : undefined;
  })();
  if (found) return found;
  const known = SSD_MODELS.map((s) => `${s.name}: ${anchorCount(s)} anchors × ${coordsPerAnchor(s)} coordinates`).join('; ');
  throw new DetectorLayoutError(
    `detector outputs ${shapeList(shapes)} at ${inputSize}×${inputSize} input match no known ${expected ? `${expected} ` : ''}layout; ` +
      `the studio decodes YOLO-style [1, 4 + classes, N] and MediaPipe SSD models (${known})`,
  );
}
