/**
 * `npm run detect -- <image.png|jpg> [--target face|hand|all] [--threshold 0.3] [--model file.onnx]`
 *
 * The studio's detection in Node: the same image decoding, ORT detector port and decoding as the
 * worker, on onnxruntime-web's WASM build. Prints one JSON line per detection on stdout,
 * `{"class":"face","score":0.97,"box":[x0,y0,x1,y1]}` (score after the sigmoid, box in the
 * image's pixels, best first per detector); everything else goes to stderr. Without `--model`
 * it runs the bundled detectors of public/models (models.json).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { detect } from '../../src/pipeline/detection/detect';
import type { Detection } from '../../src/pipeline/detection/types';
import { decodeImageInNode } from './node-image';
import { createOrtDetector, OrtDetectorProvider, type OrtDetector } from './detector';
import type { Ort } from './types';

export const MODELS_DIR = fileURLToPath(new URL('../../public/models/', import.meta.url));

/** The detailer's default confidence (ADetailer's): what a region needs to be redrawn. */
const DEFAULT_THRESHOLD = 0.3;
const ALL = 'all';

export interface DetectCliResult {
  /** Each detection with the detector that found it. */
  detections: Array<Detection & { detector: string }>;
  seconds: number;
}

export interface DetectCliIo {
  /** One JSON line per detection (stdout). */
  print(line: string): void;
  /** Progress and timings (stderr). */
  log(line: string): void;
}

const stdio: DetectCliIo = {
  print: (line) => process.stdout.write(`${line}\n`),
  log: (line) => process.stderr.write(`${line}\n`),
};

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** A file for a headless tool, or an error naming it and what it was for. */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${what} '${path}' does not exist` : `cannot read ${what} '${path}': ${(err as Error).message}`);
  }
}

export async function runDetectCli(argv: string[], io: DetectCliIo = stdio): Promise<DetectCliResult> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', default: ALL },
      threshold: { type: 'string', default: String(DEFAULT_THRESHOLD) },
      model: { type: 'string' },
      threads: { type: 'string', default: '2' },
    },
    allowPositionals: true,
    strict: true,
  });
  // 1. Arguments.
  if (positionals.length !== 1) throw new Error('give one image: npm run detect -- <image.png|jpg> [--target face|hand|all] [--threshold 0.3] [--model file.onnx]');
  const threshold = Number(values.threshold);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`--threshold must be a number from 0 to 1, got '${values.threshold}'`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got '${values.threads}'`);
  const target = values.target!;

  // 2. The image, decoded as the worker decodes it (JPEG with jpeg-js: Node has no browser decoder).
  const file = positionals[0];
  const image = await decodeImageInNode(await readInput(file, 'image')).catch((err: unknown) => {
    throw new Error(`cannot decode '${file}': ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  io.log(`${basename(file)}: ${image.width}×${image.height}`);

  // 3. The detectors: the given model, or the bundled ones for the target.
  ort.env.wasm.numThreads = threads;
  const runtime = { ort: ort as unknown as Ort, backend: 'wasm' as const };
  const provider = new OrtDetectorProvider({ ...runtime, readModelFile: (name) => readInput(`${MODELS_DIR}${name}`, 'bundled model') });
  const known = await provider.classes();
  if (target !== ALL && !known.includes(target)) throw new Error(`--target must be ${[...known, ALL].join(', ')}; got '${target}'`);
  let detectors: OrtDetector[];
  let given: OrtDetector | undefined;
  if (values.model) {
    const bytes = await readInput(values.model, 'model');
    // A one-class YOLO model finds what --target names; MediaPipe families say what they find.
    given = await createOrtDetector(bytes, { ...runtime, id: basename(values.model) }).catch((err: unknown) => {
      throw new Error(`model '${values.model}': ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    if (given.layout === 'yolo' && given.classes.length === 1 && target !== ALL) {
      given = { ...given, classes: [target] };
    } else if (target !== ALL && !given.classes.includes(target)) {
      await given.release();
      throw new Error(`model '${values.model}' finds ${given.classes.join(', ')}, not ${target}`);
    }
    detectors = [given];
  } else {
    detectors = target === ALL ? await Promise.all((await provider.models()).map((m) => provider.load(m))) : await provider.forClass(target);
  }

  // 4. Detect, print.
  const started = performance.now();
  const detections: DetectCliResult['detections'] = [];
  try {
    for (const detector of detectors) {
      const t0 = performance.now();
      const found = await detect(image, detector, { threshold });
      io.log(`${detector.id} (${detector.decoding.layout === 'yolo' ? 'YOLO' : detector.decoding.spec.name}): ${found.length} found in ${(performance.now() - t0).toFixed(0)} ms`);
      for (const d of found) {
        if (target !== ALL && d.class !== target) continue;
        detections.push({ ...d, detector: detector.id });
        io.print(JSON.stringify({ class: d.class, score: round(d.score, 4), box: d.box.map((v) => round(v, 2)) }));
      }
    }
  } finally {
    await given?.release();
    await provider.release();
  }
  return { detections, seconds: (performance.now() - started) / 1000 };
}

// Run as a script (not when imported by tests).
if (process.argv[1] && /detect-cli\.ts$/.test(process.argv[1])) {
  runDetectCli(process.argv.slice(2)).then(
    () => process.exit(0), // ORT's worker threads can keep the loop alive
    (err: unknown) => {
      console.error(`detect: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
