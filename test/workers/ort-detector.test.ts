// @vitest-environment node
/**
 * The ORT detector port: the bundled ONNX detectors (public/models) give the same detections as
 * their TF.js originals through the same decoder; imported YOLO-style models decode; a model
 * whose outputs match no layout is refused when it is opened.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../../src/media/png';
import { detect } from '../../src/pipeline/detection/detect';
import { DetectorLayoutError } from '../../src/pipeline/detection/layouts';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import type { DetectorPort } from '../../src/pipeline/ports';
import { createOrtDetector, OrtDetectorProvider, type OrtDetector } from '../../workers/ort/detector';
import { modelsDir, nodeOrt } from '../helpers/node-ort';
import { tfjsDetector } from '../helpers/tfjs-detector';
import { constantYolo, notADetector } from '../helpers/tiny-detectors';

const image = (name: string) => decodePng(new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/images/${name}`, import.meta.url)))));

const provider = new OrtDetectorProvider({
  ort: nodeOrt(),
  backend: 'wasm',
  readModelFile: async (file) => new Uint8Array(await readFile(`${modelsDir}${file}`)),
});
afterAll(() => provider.release());

describe('bundled ONNX detectors against their TF.js originals', () => {
  let onnx: { face: OrtDetector; hand: OrtDetector };
  let tfjs: { face: DetectorPort; hand: DetectorPort };
  beforeAll(async () => {
    const [face] = await provider.forClass('face');
    const [hand] = await provider.forClass('hand');
    onnx = { face, hand };
    tfjs = { face: await tfjsDetector('blazeface-back'), hand: await tfjsDetector('handdetect') };
  });

  it('are identified as the MediaPipe families, with models.json’s classes and range', () => {
    expect(onnx.face).toMatchObject({ layout: 'blazeface', inputSize: 256, classes: ['face'], valueRange: [-1, 1] });
    expect(onnx.face.decoding).toMatchObject({ spec: { name: 'MediaPipe BlazeFace back-camera 256 px' } });
    expect(onnx.hand).toMatchObject({ layout: 'palm', inputSize: 256, classes: ['hand'], valueRange: [-1, 1] });
  });

  it.each([
    ['astronaut.png', 'face', 0.3],
    ['chelsea.png', 'face', 0.3],
    ['astronaut.png', 'hand', 0.1],
    ['hands.png', 'hand', 0.3],
    ['chelsea.png', 'hand', 0.3],
  ] as const)('%s, %s: same detections within 1e-3 px', async (file, target, threshold) => {
    const picture = image(file);
    const fromOnnx = await detect(picture, onnx[target], { threshold });
    const fromTfjs = await detect(picture, tfjs[target], { threshold });
    expect(fromOnnx.length).toBe(fromTfjs.length);
    expect(fromOnnx.length).toBeGreaterThan(0);
    fromOnnx.forEach((d, i) => {
      const ref = fromTfjs[i];
      expect(d.class).toBe(ref.class);
      expect(Math.abs(d.score - ref.score)).toBeLessThan(1e-4);
      d.box.forEach((v, k) => expect(Math.abs(v - ref.box[k])).toBeLessThan(1e-3));
      d.keypoints!.forEach(([x, y], k) => {
        expect(Math.abs(x - ref.keypoints![k][0])).toBeLessThan(1e-3);
        expect(Math.abs(y - ref.keypoints![k][1])).toBeLessThan(1e-3);
      });
    });
  });

  it('hands.png: both palms, nothing else; boxes cover palm and knuckles, not the fingers', async () => {
    const found = await detect(image('hands.png'), onnx.hand, { threshold: 0.3 });
    // Measured: [70.1, 202.3, 252.4, 382.0] score 1.000 (the left hand, back, fingers up) and
    // [481.1, 19.6, 633.1, 171.4] score 0.996 (the right hand, palm, fingers down).
    expect(found.map((d) => d.class)).toEqual(['hand', 'hand']);
    expect(found.every((d) => d.score > 0.99)).toBe(true);
    const [left, right] = [...found].sort((a, b) => a.box[0] - b.box[0]);
    left.box.forEach((v, i) => expect(Math.abs(v - [70, 202, 252, 382][i])).toBeLessThan(6));
    right.box.forEach((v, i) => expect(Math.abs(v - [481, 20, 633, 171][i])).toBeLessThan(6));
    // Keypoint 0 is the wrist: below the knuckles on the left hand, above them on the right.
    expect(left.keypoints![0][1]).toBeGreaterThan(left.keypoints![2][1]);
    expect(right.keypoints![0][1]).toBeLessThan(right.keypoints![2][1]);
    expect(await detect(image('hands.png'), onnx.face, { threshold: 0.3 })).toEqual([]);
  });

  it('a damaged bundled file is refused by its sha256', async () => {
    const damaged = new OrtDetectorProvider({
      ort: nodeOrt(),
      backend: 'wasm',
      readModelFile: async (file) => {
        const bytes = new Uint8Array(await readFile(`${modelsDir}${file}`));
        if (file.endsWith('.onnx')) bytes[bytes.length - 1] ^= 1;
        return bytes;
      },
    });
    await expect(damaged.forClass('face')).rejects.toThrow(/blazeface-back.onnx is damaged/);
    await expect(damaged.forClass('cat')).rejects.toThrow(/no bundled detector finds 'cat'; bundled detectors find: face, hand/);
  });
});

describe('imported detectors', () => {
  it('YOLO-style [1, 4 + classes, N] (symbolic N: learnt from one run), boxes mapped back', async () => {
    // Every one of the 64·64 boxes is the same: centre (32, 24), 16 × 8 input pixels, score 0.9.
    const port = await createOrtDetector(constantYolo(64, [32, 24, 16, 8], 0.9), { ort: nodeOrt(), backend: 'wasm', id: 'yolo' });
    try {
      expect(port).toMatchObject({ layout: 'yolo', inputSize: 64, classes: ['class 0'], valueRange: [0, 1] });
      // 128 × 64 image → 64 × 32 content under 16 px of padding, so image = 2 · (input − (0, 16)):
      // input box 24..40 × 20..28 is image box 48..80 × 8..24.
      const found = await detect(createRgbaImage(128, 64), port, { threshold: 0.5 });
      expect(found).toHaveLength(1);
      expect(found[0].class).toBe('class 0');
      expect(found[0].score).toBeCloseTo(0.9, 6);
      found[0].box.forEach((v, i) => expect(v).toBeCloseTo([48, 8, 80, 24][i], 4));
      expect(await detect(createRgbaImage(128, 64), port, { threshold: 0.95 })).toEqual([]);
    } finally {
      await port.release();
    }
  });

  it('a model whose outputs match no detector layout is refused when opened, saying what they are', async () => {
    const opening = createOrtDetector(notADetector(64), { ort: nodeOrt(), backend: 'wasm', id: 'pool.onnx' });
    await expect(opening).rejects.toThrow(DetectorLayoutError);
    await expect(createOrtDetector(notADetector(64), { ort: nodeOrt(), backend: 'wasm', id: 'pool.onnx' })).rejects.toThrow(/outputs \[1, 3, 1, 1\] at 64×64 input match no known layout/);
  });
});
