/**
 * Test double for the DetectorPort: a YOLO-layout detector that "finds" the boxes it was given.
 * The boxes are in the image's pixels; they are turned into the model's input pixels with the
 * same letterbox frame `detect` uses, so `detect` maps them back to (about) the given boxes.
 */
import { letterboxFrame } from '../../src/pipeline/detection/letterbox';
import type { DetectorPort, DetectorProvider } from '../../src/pipeline/ports';

export interface FakeBox {
  box: [number, number, number, number];
  score: number;
  /** Index into `classes` (default 0). */
  classIndex?: number;
}

export function boxDetector(
  image: { width: number; height: number },
  boxes: FakeBox[],
  opts: { id?: string; classes?: string[]; inputSize?: number } = {},
): DetectorPort & { runs: number } {
  const inputSize = opts.inputSize ?? 64;
  const classes = opts.classes ?? ['face'];
  const frame = letterboxFrame(image.width, image.height, inputSize);
  const sx = frame.contentWidth / image.width;
  const sy = frame.contentHeight / image.height;
  // YOLO needs more boxes than rows; the extra ones score 0.
  const n = Math.max(boxes.length, 4 + classes.length + 1);
  const rows = 4 + classes.length;
  const port = {
    id: opts.id ?? 'test-detector',
    layout: 'yolo' as const,
    inputSize,
    valueRange: [0, 1] as const,
    classes,
    runs: 0,
    async run() {
      port.runs++;
      const data = new Float32Array(rows * n);
      boxes.forEach(({ box: [x0, y0, x1, y1], score, classIndex = 0 }, i) => {
        const [a, b, c, d] = [x0 * sx + frame.left, y0 * sy + frame.top, x1 * sx + frame.left, y1 * sy + frame.top];
        data[i] = (a + c) / 2;
        data[n + i] = (b + d) / 2;
        data[2 * n + i] = c - a;
        data[3 * n + i] = d - b;
        data[(4 + classIndex) * n + i] = score;
      });
      return [{ data, dims: [1, rows, n] }];
    },
  };
  return port;
}

/** A provider handing out the given detectors per target, recording what was asked. */
export function detectorProvider(byTarget: Record<string, DetectorPort[]>): DetectorProvider & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async load(target) {
      asked.push(target);
      const found = byTarget[target];
      if (!found) throw new Error(`no detector finds '${target}'`);
      return found;
    },
  };
}
