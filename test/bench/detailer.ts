/**
 * `npm run bench -- detailer`: the detailer stage's own time, outside InferenceSession.run, in
 * Node on onnxruntime-web WASM. The stage runs as a job runs it in the worker: a Workbench with
 * one `detailer` stage, the worker's OrtDiffusionProvider on the tiny `sd15-fp32-dynamic`
 * fixture (as is, and with bench-unet.ts's heavier UNet), the bundled detectors through
 * OrtDetectorProvider, and an artifact sink that encodes the PNG with its text chunks (no
 * IndexedDB). Every session's `run` is timed (text-to-image.ts's instrumented ort module).
 *
 * Cases on astronaut.png (512×512): one roi redrawn (img2img, only masked), one mask inpainted
 * over the whole picture, and the detected face redrawn (detect mode: BlazeFace, then the face).
 * Figures, not a test.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { textChunks } from '../../src/media/artifact-png';
import { decodePng, encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage, type RgbaImage } from '../../src/pipeline/image/rgba';
import type { StageServices } from '../../src/pipeline/ports';
import { Workbench } from '../../src/pipeline/workbench';
import type { ModelInfo } from '../../src/protocol/models';
import { OrtDetectorProvider } from '../../workers/ort/detector';
import { OrtDiffusionProvider } from '../../workers/ort/diffusion-provider';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';
import { modelsDir } from '../helpers/node-ort';
import { buildBenchUnet } from './bench-unet';
import { BENCH_UNET, instrument, RunClock, T2I_PRESET, T2I_THREADS, type AnyOrt } from './text-to-image';

export const DETAILER_STEPS = 20;
const REPEATS = 3;

export interface DetailerCase {
  unet: 'tiny' | 'bench';
  mode: 'roi' | 'mask' | 'detect';
}
export const DETAILER_CASES: DetailerCase[] = (['tiny', 'bench'] as const).flatMap((unet) =>
  (['roi', 'mask', 'detect'] as const).map((mode) => ({ unet, mode })),
);

export interface DetailerRow extends DetailerCase {
  /** Fastest of REPEATS warm runs: Workbench.execute, ms. */
  wallMs: number;
  medianWallMs: number;
  /** Every InferenceSession.run of the diffusion model, ms. */
  runMs: number;
  unetMs: number;
  unetCalls: number;
  /** The detectors' runs (detect mode), ms. */
  detectorRunMs: number;
  /** The sink's PNG encode and text chunks, ms. */
  pngMs: number;
  regions: number;
  workSize: string;
  load1: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchDetailer(cases: DetailerCase[] = DETAILER_CASES): Promise<DetailerRow[]> {
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = T2I_THREADS;
  const clock = new RunClock();
  const detectorClock = new RunClock();
  const ort = instrument(web as unknown as AnyOrt, clock);
  const tinyFiles = presetFiles(T2I_PRESET);
  const benchFiles = new Map(tinyFiles);
  benchFiles.delete('unet/model.onnx_data');
  benchFiles.set('unet/model.onnx', buildBenchUnet({ ...BENCH_UNET, hidden: 768 }));
  const info = { name: 'tiny', model_type: 'checkpoint', status: 'verified', components: [] } as unknown as ModelInfo;
  const providerOf = (files: Map<string, Uint8Array>) =>
    new OrtDiffusionProvider({ ort: async () => ({ ort, backend: 'wasm' }), listModels: async () => [info], reader: () => async (path) => files.get(path) });
  const providers = { tiny: providerOf(tinyFiles), bench: providerOf(benchFiles) };
  const detectors = new OrtDetectorProvider({
    ort: instrument(web as unknown as AnyOrt, detectorClock),
    backend: 'wasm',
    readModelFile: async (file) => new Uint8Array(readFileSync(`${modelsDir}${file}`)),
  });
  const image = decodePng(readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url)));
  const mask = rectangle(image.width, image.height, [176, 96, 336, 288]);

  const run = async (c: DetailerCase, seed: number) => {
    clock.reset();
    detectorClock.reset();
    let pngMs = 0;
    const services: StageServices = {
      diffusion: providers[c.unet],
      detectors: { load: (target) => detectors.forClass(target) },
      now: () => performance.now(),
      artifacts: {
        save: async (_name, result, metadata) => {
          const start = performance.now();
          addPngTextChunks(encodePng(result), textChunks(metadata));
          pngMs += performance.now() - start;
          return 'artifact';
        },
      },
    };
    const parameters = { prompt: 'a face, detailed', steps: DETAILER_STEPS, seed, strength: 0.5, face_strength: 0.5, confidence: 0.5 };
    const input: Record<string, unknown> = { image };
    if (c.mode === 'roi') Object.assign(parameters, { roi: [176, 96, 160, 192] });
    if (c.mode === 'mask') input.mask = mask;
    const workbench = new Workbench({ stages: [{ stage_type: 'detailer', name: 'detail', parameters }] });
    const t0 = performance.now();
    const result = await workbench.execute(input, 'bench', services);
    const wallMs = performance.now() - t0;
    if (!result.success) throw new Error(`detailer (${c.mode}) failed: ${result.error}`);
    const meta = result.metadata.detail as { regions: Array<{ work_size: [number, number] }> };
    return {
      wallMs,
      runMs: Object.values(clock.runMs).reduce((a, b) => a + b, 0),
      unetMs: clock.runMs.unet,
      unetCalls: clock.runCalls.unet,
      detectorRunMs: Object.values(detectorClock.runMs).reduce((a, b) => a + b, 0),
      pngMs,
      regions: meta.regions.length,
      workSize: meta.regions.map((r) => r.work_size.join('×')).join(', '),
    };
  };

  const rows: DetailerRow[] = [];
  try {
    for (const c of cases) {
      await run(c, 1); // warm-up: sessions, kernels, buffers for this size
      const samples = [];
      for (let i = 0; i < REPEATS; i++) samples.push(await run(c, 42 + i));
      const best = samples.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
      rows.push({ ...c, ...best, medianWallMs: median(samples.map((s) => s.wallMs)), load1: loadavg()[0] });
    }
  } finally {
    await providers.tiny.release();
    await providers.bench.release();
    await detectors.release();
  }
  return rows;
}

/** White inside `box` (x0, y0, x1, y1), black elsewhere: a painted mask. */
function rectangle(width: number, height: number, box: [number, number, number, number]): RgbaImage {
  const mask = createRgbaImage(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = x >= box[0] && x < box[2] && y >= box[1] && y < box[3] ? 255 : 0;
      mask.data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return mask;
}
