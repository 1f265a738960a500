// @vitest-environment node
/**
 * The worker's `detect` (Enhance's Find) in Node: the bundled detectors through the production
 * ORT provider, the same filtering as the detailer (findRegions), clear errors for bad input; and
 * which detectors a target gets when the user imported some (bundled first, unnamed classes not used).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/media/png';
import { PALM_TO_HAND } from '../../src/pipeline/detection/regions';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { detectInImage } from '../../workers/detect-image';
import { chooseDetectors, OrtDetectorProvider, type ImportedDetector } from '../../workers/ort/detector';
import { decodeImageInNode } from '../../workers/ort/node-image';
import { modelsDir, nodeOrt } from '../helpers/node-ort';
import { constantYolo } from '../helpers/tiny-detectors';

const fixture = (name: string) => {
  const bytes = readFileSync(fileURLToPath(new URL(`../fixtures/images/${name}`, import.meta.url)));
  return { name, type: 'image/png', bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
};

function provider(imported?: ImportedDetector[]) {
  return new OrtDetectorProvider({
    ort: nodeOrt(),
    backend: 'wasm',
    readModelFile: async (file) => new Uint8Array(await readFile(`${modelsDir}${file}`)),
    ...(imported ? { imported: async () => imported } : {}),
  });
}

const bundled = provider();
afterAll(() => bundled.release());
const deps = { decodeImage: (bytes: Uint8Array) => decodeImageInNode(bytes), detectors: async () => ({ load: (t: string) => bundled.forClass(t) }) };

describe('detect (Find)', () => {
  it('astronaut.png: one face, in the image’s pixels, by the bundled BlazeFace', async () => {
    const outcome = await detectInImage(fixture('astronaut.png'), { targets: ['face'], confidence: 0.3 }, deps);
    expect(outcome).toMatchObject({ width: 512, height: 512, detectors: ['blazeface-back'] });
    expect(outcome.regions).toHaveLength(1);
    const [face] = outcome.regions;
    expect(face).toMatchObject({ target: 'face', class: 'face', detector: 'blazeface-back' });
    expect(face.score).toBeGreaterThan(0.8);
    expect(face.mask_box).toBeUndefined();
    // The face is in the upper middle of the portrait.
    const [x0, y0, x1, y1] = face.box;
    expect(x0).toBeGreaterThan(100);
    expect(x1).toBeLessThan(350);
    expect(y0).toBeGreaterThan(20);
    expect(y1).toBeLessThan(300);
    expect(outcome.ms).toBeGreaterThanOrEqual(0);
  });

  it('hands.png: both hands, largest first, each palm box enlarged to the hand (mask_box); no face', async () => {
    const outcome = await detectInImage(fixture('hands.png'), { targets: ['face', 'hand'], confidence: 0.3 }, deps);
    expect(outcome).toMatchObject({ width: 720, height: 382, detectors: ['blazeface-back', 'mediapipe-palm'] });
    expect(outcome.regions.map((r) => r.target)).toEqual(['hand', 'hand']);
    const areas = outcome.regions.map((r) => (r.box[2] - r.box[0]) * (r.box[3] - r.box[1]));
    expect(areas[0]).toBeGreaterThanOrEqual(areas[1]);
    for (const r of outcome.regions) {
      const [x0, y0, x1, y1] = r.box;
      const [mx0, my0, mx1, my1] = r.mask_box!;
      // Contains the palm box, clamped to the image, about PALM_TO_HAND.scale × its long side where unclamped.
      expect(mx0).toBeLessThanOrEqual(x0);
      expect(my0).toBeLessThanOrEqual(y0);
      expect(mx1).toBeGreaterThanOrEqual(x1);
      expect(my1).toBeGreaterThanOrEqual(y1);
      expect(mx0).toBeGreaterThanOrEqual(0);
      expect(mx1).toBeLessThanOrEqual(720);
      expect(my1).toBeLessThanOrEqual(382);
      expect(mx1 - mx0).toBeLessThanOrEqual(PALM_TO_HAND.scale * Math.max(x1 - x0, y1 - y0) + 1e-6);
    }
  });

  it('faces only, on hands.png: none', async () => {
    expect((await detectInImage(fixture('hands.png'), { targets: ['face'], confidence: 0.3 }, deps)).regions).toEqual([]);
  });

  it('a file that is no image, an empty one and bad options are refused, saying what to fix', async () => {
    const text = new TextEncoder().encode('hello, not a picture').buffer as ArrayBuffer;
    await expect(detectInImage({ name: 'notes.png', type: 'image/png', bytes: text }, { targets: ['face'], confidence: 0.3 }, deps)).rejects.toThrow(
      "'notes.png' is not an image this browser can read: it is not a PNG, JPEG, WebP, GIF or BMP file",
    );
    const broken = encodePng(createRgbaImage(8, 8)).slice(0, 40);
    await expect(
      detectInImage({ name: 'cut.png', type: 'image/png', bytes: broken.buffer as ArrayBuffer }, { targets: ['face'], confidence: 0.3 }, deps),
    ).rejects.toThrow(/^'cut.png' is not an image this browser can read: /);
    await expect(detectInImage({ name: 'e.png', type: 'image/png', bytes: new ArrayBuffer(0) }, { targets: ['face'], confidence: 0.3 }, deps)).rejects.toThrow(
      "'e.png' is empty (0 bytes)",
    );
    await expect(detectInImage(fixture('astronaut.png'), { targets: ['cat'], confidence: 0.3 }, deps)).rejects.toThrow(/targets/);
    await expect(detectInImage(fixture('astronaut.png'), { targets: [], confidence: 0.3 }, deps)).rejects.toThrow(/at least one of face, hand/);
    await expect(detectInImage(fixture('astronaut.png'), { targets: ['face'], confidence: 2 }, deps)).rejects.toThrow(/confidence/);
  });
});

describe('imported detectors', () => {
  const named = (name: string, classes: string[]) => ({ name, classes });

  it('chooseDetectors: those naming the target, bundled first; all-numbered classes are never chosen', () => {
    const choice = chooseDetectors(
      'face',
      [named('blazeface-back', ['face']), named('handdetect', ['hand'])],
      [named('face_yolov8n', ['face']), named('person', ['person', 'face']), named('anon', ['class 0']), named('hands', ['hand'])],
    );
    expect(choice.bundled.map((m) => m.name)).toEqual(['blazeface-back']);
    expect(choice.imported.map((m) => m.name)).toEqual(['face_yolov8n', 'person']);
    expect(choice.unnamed.map((m) => m.name)).toEqual(['anon']);
    expect(chooseDetectors('class 0', [], [named('anon', ['class 0'])]).imported.map((m) => m.name)).toEqual(['anon']);
  });

  it('the provider opens the bundled one, then an imported YOLO detector whose class is the target; unnamed ones are left out', async () => {
    let loads = 0;
    const yolo = (name: string, classes: string[]): ImportedDetector => ({
      name,
      layout: 'yolo',
      classes,
      key: `${name}:file-1`,
      load: async () => {
        loads++;
        return constantYolo(64, [32, 32, 32, 32], 0.9);
      },
    });
    const withImported = provider([yolo('my-faces', ['face']), yolo('anon', ['class 0'])]);
    try {
      const ports = await withImported.forClass('face');
      expect(ports.map((p) => p.id)).toEqual(['blazeface-back', 'my-faces']);
      expect(ports[1].classes).toEqual(['face']);
      // Sessions are reused across calls.
      await withImported.forClass('face');
      expect(loads).toBe(1);
      const outcome = await detectInImage(
        fixture('hands.png'),
        { targets: ['face'], confidence: 0.5 },
        { ...deps, detectors: async () => ({ load: (t: string) => withImported.forClass(t) }) },
      );
      expect(outcome.detectors).toEqual(['blazeface-back', 'my-faces']);
      // The constant box 16..48 × 16..48 of the 64 px input, mapped back: × 720/64 across, less ~15 px of padding down.
      expect(outcome.regions).toHaveLength(1);
      expect(outcome.regions[0]).toMatchObject({ target: 'face', class: 'face', detector: 'my-faces' });
      outcome.regions[0].box.forEach((v, i) => expect(Math.abs(v - [180, 11, 540, 371][i])).toBeLessThan(1));
      await expect(provider([yolo('anon', ['class 0'])]).forClass('cat')).rejects.toThrow(
        /no bundled detector finds 'cat'; bundled detectors find: face, hand; imported detectors find: nothing \('anon' name no classes/,
      );
    } finally {
      await withImported.release();
    }
  });
});
