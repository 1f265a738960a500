// @vitest-environment node
/** `npm run detect` (the headless detector), run in-process as the script runs it. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePng } from '../../src/media/png';
import { runDetectCli } from '../../workers/ort/detect-cli';
import { modelsDir } from '../helpers/node-ort';
import { constantYolo, notADetector } from '../helpers/tiny-detectors';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/images/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'media-lab-detect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = await runDetectCli(argv, { print: (l) => stdout.push(l), log: (l) => stderr.push(l) });
  return { ...result, stdout, stderr, lines: stdout.map((l) => JSON.parse(l) as { class: string; score: number; box: number[] }) };
}

describe('npm run detect', () => {
  it('astronaut.png: one JSON line, her face, in the image’s pixels', async () => {
    const { lines, stdout, stderr } = await run(fixture('astronaut.png'));
    expect(lines).toHaveLength(1);
    expect(Object.keys(lines[0])).toEqual(['class', 'score', 'box']);
    expect(lines[0].class).toBe('face');
    expect(lines[0].score).toBeGreaterThan(0.8);
    lines[0].box.forEach((v, i) => expect(Math.abs(v - [173, 75, 276, 178][i])).toBeLessThan(6));
    expect(stdout[0]).toMatch(/^\{"class":"face","score":0\.\d+,"box":\[[\d.]+,[\d.]+,[\d.]+,[\d.]+\]\}$/);
    // Logs name the image and each detector, on stderr only.
    expect(stderr[0]).toBe('astronaut.png: 512×512');
    expect(stderr.some((l) => l.startsWith('blazeface-back (MediaPipe BlazeFace back-camera 256 px): 1 found'))).toBe(true);
    expect(stderr.some((l) => l.startsWith('mediapipe-palm (MediaPipe palm detector 256 px): 0 found'))).toBe(true);
  });

  it('--target hand runs the palm detector only; --threshold filters', async () => {
    const hands = await run(fixture('hands.png'), '--target', 'hand');
    expect(hands.lines.map((l) => l.class)).toEqual(['hand', 'hand']);
    expect(hands.stderr.some((l) => l.startsWith('blazeface-back'))).toBe(false);
    const strict = await run(fixture('astronaut.png'), '--target', 'face', '--threshold', '0.9');
    expect(strict.lines).toEqual([]);
    const loose = await run(fixture('astronaut.png'), '--target', 'face', '--threshold', '0.1');
    expect(loose.lines.length).toBeGreaterThan(1);
    expect(loose.lines[0].class).toBe('face');
  });

  it('--model: a bundled file gives the same lines; a one-class YOLO model finds what --target names', async () => {
    const bundled = await run(fixture('astronaut.png'), '--target', 'face');
    const given = await run(fixture('astronaut.png'), '--model', join(modelsDir, 'blazeface-back.onnx'));
    expect(given.stdout).toEqual(bundled.stdout);
    writeFileSync(join(dir, 'yolo.onnx'), constantYolo(64, [32, 32, 16, 16], 0.8));
    const yolo = await run(fixture('chelsea.png'), '--model', join(dir, 'yolo.onnx'), '--target', 'hand');
    expect(yolo.lines).toHaveLength(1);
    expect(yolo.lines[0].class).toBe('hand');
    const unnamed = await run(fixture('chelsea.png'), '--model', join(dir, 'yolo.onnx'));
    expect(unnamed.lines[0].class).toBe('class 0');
  });

  it('reads a JPEG too (jpeg-js in Node): the same face as from the PNG, within JPEG loss', async () => {
    const png = decodePng(readFileSync(fixture('astronaut.png')));
    const encoded = jpeg.encode({ width: png.width, height: png.height, data: Buffer.from(png.data.buffer, png.data.byteOffset, png.data.byteLength) }, 95);
    writeFileSync(join(dir, 'astronaut.jpg'), encoded.data);
    const { lines } = await run(join(dir, 'astronaut.jpg'), '--target', 'face');
    expect(lines).toHaveLength(1);
    lines[0].box.forEach((v, i) => expect(Math.abs(v - [173, 75, 276, 178][i])).toBeLessThan(6));
  });

  it('refuses bad input with clear messages', async () => {
    await expect(run()).rejects.toThrow(/give one image: npm run detect -- <image.png\|jpg>/);
    await expect(run(join(dir, 'nothing.png'))).rejects.toThrow(/image '.*nothing.png' does not exist/);
    writeFileSync(join(dir, 'text.png'), 'not a picture at all');
    await expect(run(join(dir, 'text.png'))).rejects.toThrow(/cannot decode '.*text.png': not an image this app can read/);
    // A JPEG header (SOI, APP0, SOF0 16×16) without its data.
    writeFileSync(join(dir, 'broken.jpg'), Buffer.from('ffd8ffe000104a46494600010100000100010000ffc0001108001000100301220002110103110100', 'hex'));
    await expect(run(join(dir, 'broken.jpg'))).rejects.toThrow(/cannot decode '.*broken.jpg': the JPEG file cannot be decoded/);
    await expect(run(fixture('astronaut.png'), '--target', 'cat')).rejects.toThrow(/--target must be face, hand, all; got 'cat'/);
    await expect(run(fixture('astronaut.png'), '--threshold', 'high')).rejects.toThrow(/--threshold must be a number from 0 to 1, got 'high'/);
    await expect(run(fixture('astronaut.png'), '--threshold', '2')).rejects.toThrow(/--threshold must be a number from 0 to 1/);
    await expect(run(fixture('astronaut.png'), '--model', join(dir, 'missing.onnx'))).rejects.toThrow(/model '.*missing.onnx' does not exist/);
    writeFileSync(join(dir, 'pool.onnx'), notADetector(64));
    await expect(run(fixture('astronaut.png'), '--model', join(dir, 'pool.onnx'))).rejects.toThrow(
      /model '.*pool.onnx': detector outputs \[1, 3, 1, 1\] at 64×64 input match no known layout; the studio decodes YOLO-style/,
    );
    await expect(run(fixture('astronaut.png'), '--model', join(modelsDir, 'handdetect.onnx'), '--target', 'face')).rejects.toThrow(
      /model '.*handdetect.onnx' finds hand, not face/,
    );
    await expect(run(fixture('astronaut.png'), '--bogus')).rejects.toThrow(/bogus/);
  });
});
