/**
 * One benchmark contender, run in its own process by run.ts so peak memory is its own:
 *   node --import tsx test/bench/contender.ts <name> <output.rgb>
 * Upscales astronaut.png ×4 with esrgan-slim, writes the result as raw RGB bytes to <output.rgb>
 * and prints one `BENCH {json}` line with timings and peak RSS.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../../src/media/png';
import type { RgbaImage } from '../../src/pipeline/image/rgba';
import { upscaleTiled, type TiledModel } from '../../src/pipeline/image/tiling';
import { maxTileSize } from '../../workers/ort/tile-size';
import { createNodeUpscalers, modelsDir } from '../helpers/node-ort';

export const THREADS = 2;
/** A first run shorter than this is repeated and the repeat is reported (warm); else it counts (cold). */
export const WARMUP_LIMIT_S = 30;
export const INPUT = fileURLToPath(new URL('../fixtures/images/astronaut.png', import.meta.url));

/** The tiling the app uses for esrgan-slim-x4 on WASM (same numbers the UpscalerPort reports). */
export async function appTiling(): Promise<{ tileSize: number; overlap: number }> {
  const manifest = JSON.parse(await readFile(`${modelsDir}models.json`, 'utf8')) as {
    models: Array<{ scale: number; peak_channels: number; receptive_radius: number }>;
  };
  const m = manifest.models.find((x) => x.scale === 4)!;
  return { tileSize: maxTileSize(4, m.peak_channels, 'wasm'), overlap: 2 * (m.receptive_radius + 2) };
}

/** A prepared contender: `upscale` returns the ×4 image as packed RGB bytes. */
interface Prepared {
  upscale(image: RgbaImage): Promise<Uint8Array>;
  note: string;
}

function rgbOf(image: RgbaImage): Uint8Array {
  const rgb = new Uint8Array(image.width * image.height * 3);
  for (let p = 0, n = image.width * image.height; p < n; p++) {
    rgb[p * 3] = image.data[p * 4];
    rgb[p * 3 + 1] = image.data[p * 4 + 1];
    rgb[p * 3 + 2] = image.data[p * 4 + 2];
  }
  return rgb;
}

async function viaTiling(model: TiledModel, tileSize: number, overlap: number): Promise<Prepared> {
  return {
    upscale: async (image) => rgbOf((await upscaleTiled(image, model, { tileSize, overlap })).image),
    note: overlap ? `tile ${tileSize}, overlap ${overlap}` : 'whole image',
  };
}

async function ortWeb(tiled: boolean): Promise<Prepared> {
  const port = await createNodeUpscalers().load(undefined, 4); // sets ort.env.wasm.numThreads = 2
  const { tileSize, overlap } = await appTiling();
  if (tiled && (tileSize !== port.maxTileSize || overlap !== 2 * (port.receptiveRadius + 2))) {
    throw new Error(`app tiling ${tileSize}/${overlap} disagrees with the UpscalerPort`);
  }
  return tiled ? viaTiling(port, tileSize, overlap) : viaTiling(port, 512, 0);
}

async function ortNode(tiled: boolean): Promise<Prepared> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(`${modelsDir}esrgan-slim-x4.onnx`, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
  });
  const model: TiledModel = {
    scale: 4,
    valueRange: [0, 255],
    async run(input) {
      const { output } = await session.run({ input: new ort.Tensor('float32', input.data, [...input.dims]) });
      return { data: output.data as Float32Array, dims: output.dims };
    },
  };
  const { tileSize, overlap } = await appTiling();
  return tiled ? viaTiling(model, tileSize, overlap) : viaTiling(model, 512, 0);
}

/** UpscalerJS (browser ESM build: its Node build needs tfjs-node) on tfjs's WASM backend. */
async function upscalerJs(patched: boolean): Promise<Prepared> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { default: Upscaler } = await import('upscaler');
  const { default: x4 } = await import('@upscalerjs/esrgan-slim/4x');

  const wasmDir = fileURLToPath(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url));
  wasm.setWasmPaths(wasmDir);
  wasm.setThreadsCount(THREADS); // ignored in Node: WASM_HAS_MULTITHREAD_SUPPORT is hard-wired false
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();

  // The model's own files from node_modules, through a tf.io handler instead of the CDN.
  const modelDir = fileURLToPath(new URL('../../node_modules/@upscalerjs/esrgan-slim/', import.meta.url));
  const localModel: import('@tensorflow/tfjs').io.IOHandler = {
    async load() {
      const json = JSON.parse(await readFile(`${modelDir}${x4._internals!.path}`, 'utf8'));
      const dir = `${modelDir}${x4._internals!.path.replace(/[^/]*$/, '')}`;
      const groups = json.weightsManifest as Array<{ paths: string[]; weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }>;
      const shards = await Promise.all(groups.flatMap((g) => g.paths).map((p) => readFile(dir + p)));
      const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
      return { modelTopology: json.modelTopology, weightSpecs: groups.flatMap((g) => g.weights), weightData };
    },
  };
  const upscaler = new Upscaler({ model: { ...x4, path: localModel as unknown as string } });
  await upscaler.ready;

  const { tileSize, overlap } = await appTiling();
  const options = patched ? { patchSize: tileSize, padding: overlap / 2 } : {};
  return {
    note: patched
      ? `patchSize ${tileSize}, padding ${overlap / 2}; tfjs ${tf.version.tfjs} wasm, ${wasm.getThreadsCount()} thread`
      : `default (no patchSize: whole image); tfjs ${tf.version.tfjs} wasm, ${wasm.getThreadsCount()} thread`,
    async upscale(image) {
      const pixels = tf.tensor3d(rgbOf(image), [image.height, image.width, 3], 'float32');
      const out = await upscaler.upscale(pixels, { output: 'tensor', ...options });
      pixels.dispose();
      const data = await out.data();
      out.dispose();
      return new Uint8Array(Uint8ClampedArray.from(data).buffer); // clamp + round like the app
    },
  };
}

export const CONTENDERS: Record<string, () => Promise<Prepared>> = {
  'ort-web-tiled': () => ortWeb(true),
  'ort-web-whole': () => ortWeb(false),
  'upscalerjs-default': () => upscalerJs(false),
  'upscalerjs-patch': () => upscalerJs(true),
  'ort-node-whole': () => ortNode(false),
  'ort-node-tiled': () => ortNode(true),
};

async function peakRssMb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return kb / 1024;
}

async function main(name: string, outFile: string): Promise<void> {
  const setup = CONTENDERS[name];
  if (!setup) throw new Error(`unknown contender '${name}'; known: ${Object.keys(CONTENDERS).join(', ')}`);
  const image = decodePng(new Uint8Array(await readFile(INPUT)));

  /** Wall seconds, and CPU seconds of all the process's threads (their ratio shows parallelism). */
  const timed = async <T>(f: () => Promise<T>): Promise<{ wall: number; cpu: number; value: T }> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const value = await f();
    const c = process.cpuUsage(c0);
    return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, value };
  };
  const load = await timed(setup);
  const prepared = load.value;
  const first = await timed(() => prepared.upscale(image));
  const warm = first.wall < WARMUP_LIMIT_S;
  const measured = warm ? await timed(() => prepared.upscale(image)) : first;

  await writeFile(outFile, measured.value);
  const result = {
    name,
    loadS: load.wall,
    firstS: first.wall,
    seconds: measured.wall,
    cpuS: measured.cpu,
    warm,
    peakRssMb: await peakRssMb(),
    load1: loadavg()[0],
    note: prepared.note,
  };
  console.log(`BENCH ${JSON.stringify(result)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, outFile] = process.argv.slice(2);
  main(name, outFile).then(
    () => process.exit(0), // ORT/tfjs worker threads can keep the loop alive
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
