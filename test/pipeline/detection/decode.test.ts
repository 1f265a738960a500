/**
 * Output decoding on synthetic outputs with known answers: layout identification from shapes,
 * MediaPipe SSD decoding (split and concatenated outputs, score clipping, keypoints), YOLO
 * decoding, and `detect` end to end with stand-in ports.
 */
import { describe, expect, it } from 'vitest';
import { detect } from '../../../src/pipeline/detection/detect';
import { DetectorLayoutError, identifyDetector } from '../../../src/pipeline/detection/layouts';
import { BLAZEFACE_BACK_256, BLAZEFACE_SHORT_RANGE_128, PALM_256 } from '../../../src/pipeline/detection/specs';
import { clippedSigmoid, decodeSsd, gatherSsdOutputs } from '../../../src/pipeline/detection/ssd';
import { decodeYolo } from '../../../src/pipeline/detection/yolo';
import { createRgbaImage } from '../../../src/pipeline/image/rgba';
import type { DetectorLayout, DetectorPort } from '../../../src/pipeline/ports';
import type { Tensor } from '../../../src/pipeline/tensor';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** BlazeFace-back outputs as the TF.js graph lists them: 512 scores, 512 coords, 384 coords, 384 scores. */
function blazefaceOutputs(hits: Array<{ anchor: number; logit: number; coords: number[] }>): Tensor[] {
  const scores512 = new Float32Array(512).fill(-1000);
  const scores384 = new Float32Array(384).fill(-1000);
  const coords512 = new Float32Array(512 * 16);
  const coords384 = new Float32Array(384 * 16);
  for (const { anchor, logit, coords } of hits) {
    if (anchor < 512) {
      scores512[anchor] = logit;
      coords512.set(coords, anchor * 16);
    } else {
      scores384[anchor - 512] = logit;
      coords384.set(coords, (anchor - 512) * 16);
    }
  }
  return [
    { data: scores512, dims: [1, 512, 1] },
    { data: coords512, dims: [1, 512, 16] },
    { data: coords384, dims: [1, 384, 16] },
    { data: scores384, dims: [1, 384, 1] },
  ];
}

/** Regressed values for a box offset (dx, dy) px from its anchor, w × h px, keypoints at offsets. */
const regress = (dx: number, dy: number, w: number, h: number, keypoints: Array<[number, number]>) => [dx, dy, w, h, ...keypoints.flat()];

/** Anchor 600 is in the 8×8 grid (stride 32, 6 per cell): cell 88 / 6 → 14 → row 1, column 6. */
const ANCHOR_600 = { x: (6 + 0.5) / 8, y: (1 + 0.5) / 8 };

const fakePort = (layout: DetectorLayout, inputSize: number, classes: string[], outputs: Tensor[]): DetectorPort => ({
  id: 'fake',
  layout,
  inputSize,
  valueRange: [-1, 1],
  classes,
  run: async () => outputs,
});

describe('identifyDetector', () => {
  it('MediaPipe SSD models by input size and output shapes, in any output order', () => {
    const face = [[1, 512, 1], [1, 512, 16], [1, 384, 16], [1, 384, 1]];
    expect(identifyDetector(256, face)).toMatchObject({ layout: 'blazeface', spec: BLAZEFACE_BACK_256 });
    expect(identifyDetector(256, [...face].reverse())).toMatchObject({ spec: BLAZEFACE_BACK_256 });
    expect(identifyDetector(256, [[1, 896, 16], [1, 896, 1]])).toMatchObject({ spec: BLAZEFACE_BACK_256 });
    // Same shapes at 128 px: the short-range front-camera model.
    expect(identifyDetector(128, face)).toMatchObject({ spec: BLAZEFACE_SHORT_RANGE_128 });
    expect(identifyDetector(256, [[1, 2944, 19]])).toMatchObject({ layout: 'palm', spec: PALM_256 });
    expect(identifyDetector(256, [[1, 2944, 18], [1, 2944, 1]], 'palm')).toMatchObject({ spec: PALM_256 });
  });

  it('YOLO by its [1, 4 + classes, N] output', () => {
    expect(identifyDetector(640, [[1, 5, 8400]])).toEqual({ layout: 'yolo', numClasses: 1 });
    expect(identifyDetector(640, [[1, 6, 8400]], 'yolo')).toEqual({ layout: 'yolo', numClasses: 2 });
  });

  it('anything else is refused, saying what the outputs are', () => {
    expect(() => identifyDetector(256, [[1, 896, 12], [1, 896, 1]])).toThrow(DetectorLayoutError);
    expect(() => identifyDetector(256, [[1, 896, 12], [1, 896, 1]])).toThrow(/\[1, 896, 12\], \[1, 896, 1\] at 256×256 input match no known layout/);
    expect(() => identifyDetector(320, [[1, 2944, 19]])).toThrow(/match no known layout/);
    expect(() => identifyDetector(256, [[1, 900, 16], [1, 900, 1]])).toThrow(/896 anchors × 16 coordinates/);
    // What the registry recorded must agree with the shapes.
    expect(() => identifyDetector(256, [[1, 2944, 19]], 'blazeface')).toThrow(/no known blazeface layout/);
    expect(() => identifyDetector(640, [[1, 5, 8400]], 'palm')).toThrow(DetectorLayoutError);
  });
});

describe('MediaPipe SSD decoding', () => {
  it('puts split outputs in anchor order and decodes box and keypoints in input pixels', () => {
    const outputs = blazefaceOutputs([{ anchor: 600, logit: 2, coords: regress(10, -5, 40, 30, [[3, 4], [-3, 4], [0, 0], [0, 8], [-12, 0], [12, 0]]) }]);
    const raw = gatherSsdOutputs(outputs, BLAZEFACE_BACK_256);
    expect(raw.logits[600]).toBe(2);
    expect(raw.coords[600 * 16 + 2]).toBe(40);
    const found = decodeSsd(raw, BLAZEFACE_BACK_256, 0.5);
    expect(found).toHaveLength(1);
    const cx = ANCHOR_600.x * 256 + 10; // 218
    const cy = ANCHOR_600.y * 256 - 5; // 43
    expect(found[0].score).toBeCloseTo(sigmoid(2), 6);
    expect(found[0].box).toEqual([cx - 20, cy - 15, cx + 20, cy + 15]);
    expect(found[0].keypoints).toHaveLength(6);
    expect(found[0].keypoints[0]).toEqual([ANCHOR_600.x * 256 + 3, ANCHOR_600.y * 256 + 4]);
    expect(found[0].keypoints[5]).toEqual([ANCHOR_600.x * 256 + 12, ANCHOR_600.y * 256]);
  });

  it('reads the palm model’s single [1, 2944, 19] output: score first, then box and 7 keypoints', () => {
    const data = new Float32Array(2944 * 19);
    for (let i = 0; i < 2944; i++) data[i * 19] = -50;
    // Anchor 2500: the 16×16 grid (from 2048), cell 226 = row 14, column 2.
    data.set([1.5, -4, 6, 50, 60, ...[0, 20, 0, -20, 5, -15, 8, -12, 10, -8, -6, -10, -3, -14]], 2500 * 19);
    const found = decodeSsd(gatherSsdOutputs([{ data, dims: [1, 2944, 19] }], PALM_256), PALM_256, 0.5);
    expect(found).toHaveLength(1);
    const ax = (2 + 0.5) / 16;
    const ay = (14 + 0.5) / 16;
    expect(found[0].score).toBeCloseTo(sigmoid(1.5), 6);
    expect(found[0].box).toEqual([ax * 256 - 4 - 25, ay * 256 + 6 - 30, ax * 256 - 4 + 25, ay * 256 + 6 + 30]);
    expect(found[0].keypoints).toHaveLength(7);
    expect(found[0].keypoints[1]).toEqual([ax * 256, ay * 256 - 20]);
  });

  it('clips logits to ±100 before the sigmoid (MediaPipe score_clipping_thresh)', () => {
    expect(clippedSigmoid(1e6, 100)).toBe(1);
    expect(clippedSigmoid(-1e6, 100)).toBeCloseTo(sigmoid(-100), 50);
    expect(clippedSigmoid(-1e6, 100)).toBeGreaterThan(0);
    expect(clippedSigmoid(0.5, 100)).toBeCloseTo(sigmoid(0.5), 12);
  });

  it('refuses outputs that do not cover the anchors, or split them across grids', () => {
    expect(() => gatherSsdOutputs([{ data: new Float32Array(896), dims: [1, 896, 1] }], BLAZEFACE_BACK_256)).toThrow(DetectorLayoutError);
    const bad = [
      { data: new Float32Array(448), dims: [1, 448, 1] },
      { data: new Float32Array(448 * 16), dims: [1, 448, 16] },
      { data: new Float32Array(448), dims: [1, 448, 1] },
      { data: new Float32Array(448 * 16), dims: [1, 448, 16] },
    ];
    expect(() => gatherSsdOutputs(bad, BLAZEFACE_BACK_256)).toThrow(/do not split .*896 anchors into its grids \(512 \+ 384\)/);
  });
});

describe('YOLO decoding', () => {
  it('[1, 4 + classes, N]: centre and size in input pixels, the best class per box', () => {
    // Three boxes, two classes; rows: cx, cy, w, h, score(class 0), score(class 1).
    const n = 3;
    const rows = [
      [100, 300, 50],
      [100, 200, 50],
      [40, 20, 10],
      [60, 40, 10],
      [0.9, 0.1, 0.2],
      [0.05, 0.8, 0.25],
    ];
    const data = new Float32Array(rows.flat());
    const found = decodeYolo({ data, dims: [1, 6, n] }, 0.3);
    expect(found).toEqual([
      { classIndex: 0, score: expect.closeTo(0.9, 6), box: [80, 70, 120, 130], keypoints: [] },
      { classIndex: 1, score: expect.closeTo(0.8, 6), box: [290, 180, 310, 220], keypoints: [] },
    ]);
  });
});

describe('detect with stand-in ports', () => {
  it('BlazeFace: weighted NMS merges neighbouring anchors, boxes scale back to the image', async () => {
    // Both anchors of the 16×16 grid's cell (5, 3) find the same face, a little apart.
    const cell = 5 * 16 + 3;
    const outputs = blazefaceOutputs([
      { anchor: cell * 2, logit: 3, coords: regress(0, 0, 40, 40, Array(6).fill([0, 0])) },
      { anchor: cell * 2 + 1, logit: 1, coords: regress(4, 0, 40, 40, Array(6).fill([4, 0])) },
    ]);
    const image = createRgbaImage(512, 512);
    const found = await detect(image, fakePort('blazeface', 256, ['face'], outputs), { threshold: 0.5 });
    expect(found).toHaveLength(1);
    const [s1, s2] = [sigmoid(3), sigmoid(1)];
    const cx = (3.5 / 16) * 256 + (4 * s2) / (s1 + s2);
    const cy = (5.5 / 16) * 256;
    expect(found[0].class).toBe('face');
    expect(found[0].score).toBeCloseTo(s1, 6);
    // 512 px image in a 256 px input: everything doubles.
    found[0].box.forEach((v, i) => expect(v).toBeCloseTo([cx - 20, cy - 20, cx + 20, cy + 20][i] * 2, 3));
    expect(found[0].keypoints![0][0]).toBeCloseTo(cx * 2, 3);
    // Below the threshold: nothing.
    expect(await detect(image, fakePort('blazeface', 256, ['face'], outputs), { threshold: 0.99 })).toEqual([]);
  });

  it('a port whose outputs do not match its declared layout is refused', async () => {
    const image = createRgbaImage(64, 64);
    const port = fakePort('palm', 256, ['hand'], blazefaceOutputs([]));
    await expect(detect(image, port, { threshold: 0.5 })).rejects.toThrow(/no known palm layout/);
    await expect(detect(image, port, { threshold: 1.5 })).rejects.toThrow(/threshold must be in \[0, 1\]/);
  });
});
