/**
 * `npm run convert-models`: converts the TF.js upscalers of `@upscalerjs/esrgan-slim` (a dev
 * dependency) into the ONNX models bundled in `public/models/`, writes `models.json` describing
 * them, and copies the package's licence next to the weights (MIT requires the notice to travel
 * with them).
 *
 * Output is byte-for-byte deterministic (no timestamps; stable key and model order), so the test
 * suite can re-run the conversion and check the committed files are exactly what it produces.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UPSCALE_FACTORS } from '../../protocol/pipeline-config';
import { parseLayersModel, weightShardPaths } from './tfjs-layers';
import { toOnnx, type OnnxConversion } from './to-onnx';

export const PACKAGE_NAME = '@upscalerjs/esrgan-slim';
/** One bundled model for every factor the app offers. */
export const SCALES = UPSCALE_FACTORS;

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const PACKAGE_DIR = path.join(ROOT, 'node_modules', PACKAGE_NAME);
export const MODELS_DIR = path.join(ROOT, 'public', 'models');

export interface BundledModelEntry {
  name: string;
  file: string;
  type: 'upscaler';
  scale: number;
  value_range: [number, number];
  layout: 'NCHW';
  input: string;
  output: string;
  receptive_radius: number;
  peak_channels: number;
  source: { package: string; version: string; path: string };
  license: string;
  sha256: string;
  bytes: number;
}

/** Reads `<packageDir>/<modelPath>` and its shards and converts them. */
export async function convertTfjsModel(packageDir: string, modelPath: string): Promise<OnnxConversion> {
  const modelFile = path.join(packageDir, modelPath);
  const json = await readFile(modelFile, 'utf8');
  const shards: Record<string, ArrayBuffer> = {};
  for (const shard of weightShardPaths(json)) {
    const bytes = await readFile(path.join(path.dirname(modelFile), shard));
    shards[shard] = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }
  return toOnnx(parseLayersModel(json, shards));
}

/** Converts every esrgan-slim scale; returns the models.json entries and the ONNX bytes. */
export async function convertEsrganSlim(packageDir = PACKAGE_DIR): Promise<{ entry: BundledModelEntry; bytes: Uint8Array }[]> {
  const pkg = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as { version: string; license: string };
  const results = [];
  for (const scale of SCALES) {
    const modelPath = `models/x${scale}/model.json`;
    const converted = await convertTfjsModel(packageDir, modelPath);
    if (converted.scale !== scale) throw new Error(`${modelPath}: expected a ×${scale} network, the graph upsamples ×${converted.scale}`);
    const name = `esrgan-slim-x${scale}`;
    const entry: BundledModelEntry = {
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

async function main(): Promise<void> {
  const results = await convertEsrganSlim();
  await mkdir(MODELS_DIR, { recursive: true });
  for (const { entry, bytes } of results) {
    await writeFile(path.join(MODELS_DIR, entry.file), bytes);
    console.log(`${entry.file}: ${entry.bytes} bytes, radius ${entry.receptive_radius}, peak channels ${entry.peak_channels}`);
  }
  const manifest = { models: results.map((r) => r.entry) };
  await writeFile(path.join(MODELS_DIR, 'models.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await copyFile(path.join(PACKAGE_DIR, 'LICENSE'), path.join(MODELS_DIR, 'LICENSE-esrgan-slim.txt'));
  console.log(`wrote ${path.relative(ROOT, MODELS_DIR)}/models.json and LICENSE-esrgan-slim.txt`);
}

// Run only when executed directly (the tests import convertEsrganSlim from this module).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
