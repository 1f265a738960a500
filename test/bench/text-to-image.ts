/**
 * Text-to-image benchmark, one runtime per process (run by run.ts, or by hand):
 *   node --import tsx test/bench/text-to-image.ts <ort-web|ort-node>
 * Prints one `T2I {json}` line per case.
 *
 * The generation goes through the app's own code, as a `generate` job does in the worker: a
 * Workbench with one `text_to_image` stage, the worker's OrtDiffusionProvider (which opens the
 * folder with loadDiffusionModel and the dtype-adapting ports), and an artifact sink that encodes
 * the PNG with its text chunks like the job queue (minus the IndexedDB write). The model is the
 * tiny random-weight `sd15-fp32-dynamic` fixture (optimum layout, float32, hidden 768), as is and
 * with bench-unet.ts's heavier UNet in place of its one-convolution UNet.
 *
 * What is measured: every InferenceSession.run (the ort module handed to the provider is wrapped,
 * so src/ and workers/ run unchanged), the wall time of Workbench.execute, and the times from its
 * start to the first progress event (step 1) and the first one carrying a preview.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { textChunks } from '../../src/media/artifact-png';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import { yieldToEventLoop } from '../../src/pipeline/cancellation';
import type { SchedulerName } from '../../src/pipeline/diffusion/schedulers';
import type { StageServices } from '../../src/pipeline/ports';
import { Workbench } from '../../src/pipeline/workbench';
import type { ModelInfo } from '../../src/protocol/models';
import type { Backend } from '../../src/protocol/schemas';
import { OrtDiffusionProvider } from '../../workers/ort/diffusion-provider';
import type { Ort } from '../../workers/ort/types';
import { presetFiles, type PresetName } from '../fixtures/tiny-diffusion/factory';
import { buildBenchUnet } from './bench-unet';

export const T2I_THREADS = 2;
export const T2I_PRESET: PresetName = 'sd15-fp32-dynamic';
export const T2I_STEPS = 20;
export const T2I_CFG = 7.5;
export const T2I_PROMPT = 'a lighthouse on a cliff at dusk, dramatic sky, (oil painting:1.2), highly detailed';
export const T2I_NEGATIVE = 'blurry, lowres';
/** Each tiny-UNet case is generated this many times after one warm-up run at its size; the fastest is reported. */
export const T2I_REPEATS = 9;

export interface T2ICase {
  /** `tiny`: the fixture's UNet (one 4→4 convolution); `bench`: bench-unet.ts's heavier one in its place. */
  unet: 'tiny' | 'bench';
  size: number;
  scheduler: SchedulerName;
  repeats: number;
}
export const T2I_CASES: T2ICase[] = [
  ...[64, 128, 512].flatMap((size) => (['euler', 'dpmpp_2m'] as const).map((scheduler) => ({ unet: 'tiny' as const, size, scheduler, repeats: T2I_REPEATS }))),
  { unet: 'bench', size: 512, scheduler: 'euler', repeats: 3 },
];
/** The heavier UNet's shape (bench-unet.ts). */
export const BENCH_UNET = { channels: 64, blocks: 2 };

export type Component = 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder';

/** One generation's clock readings, in ms from the start of Workbench.execute. */
interface Sample {
  wallMs: number;
  cpuMs: number;
  /** textToImage alone (the stage's own `ms`): without the stage's PNG encoding. */
  loopMs: number;
  runMs: Record<Component, number>;
  runCalls: Record<Component, number>;
  firstStepMs: number;
  firstPreviewMs: number;
  /** Outside session.run before the first UNet run (tokenizer, weighting, noise, …). */
  setupOutsideMs: number;
  /** Outside session.run from the first UNet run to the last UNet run's end. */
  loopOutsideMs: number;
  /** Outside session.run after the last UNet run (VAE post-processing, PNG, stage bookkeeping). */
  tailOutsideMs: number;
  /** Of the tail: the artifact sink's PNG encoding with its text chunks. */
  pngMs: number;
}

/** The fastest of the repeats (its own figures), with the median wall of all of them. */
export interface T2IResult extends T2ICase {
  runtime: string;
  loadMs: number;
  wallMs: number;
  medianWallMs: number;
  /** CPU time of all the process's threads during the run. */
  cpuMs: number;
  loopMs: number;
  runMs: number;
  unetMs: number;
  unetCalls: number;
  textEncoderMs: number;
  vaeDecoderMs: number;
  firstStepMs: number;
  firstPreviewMs: number;
  setupOutsideMs: number;
  loopOutsideMs: number;
  tailOutsideMs: number;
  pngMs: number;
  /** Mean ms of one `setTimeout(0)` turn, as the loop's per-step checkpoint awaits (Node clamps it to 1 ms). */
  yieldMs: number;
  load1: number;
}

/** The session.run clock: every call's duration, by component, plus the UNet's first start / last end. */
export class RunClock {
  runMs = {} as Record<Component, number>;
  runCalls = {} as Record<Component, number>;
  firstUnetStart = Infinity;
  lastUnetEnd = 0;
  /** Run time inside [start, firstUnetStart) and after lastUnetEnd, for the phase split. */
  private spans: Array<{ component: Component; start: number; end: number }> = [];

  reset(): void {
    for (const c of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const) {
      this.runMs[c] = 0;
      this.runCalls[c] = 0;
    }
    this.firstUnetStart = Infinity;
    this.lastUnetEnd = 0;
    this.spans = [];
  }

  record(component: Component, start: number, end: number): void {
    this.runMs[component] += end - start;
    this.runCalls[component]++;
    this.spans.push({ component, start, end });
    if (component === 'unet') {
      this.firstUnetStart = Math.min(this.firstUnetStart, start);
      this.lastUnetEnd = Math.max(this.lastUnetEnd, end);
    }
  }

  /** Run ms overlapping [from, to). */
  runBetween(from: number, to: number): number {
    let sum = 0;
    for (const s of this.spans) sum += Math.max(0, Math.min(to, s.end) - Math.max(from, s.start));
    return sum;
  }
}

function componentOf(session: { inputNames: readonly string[] }): Component {
  const inputs = session.inputNames;
  if (inputs.includes('input_ids')) return 'text_encoder';
  if (inputs.includes('timestep')) return 'unet';
  if (inputs.includes('latent_sample')) return 'vae_decoder';
  return 'vae_encoder';
}

type AnySession = { inputNames: readonly string[]; run: (...args: unknown[]) => Promise<unknown> };
export type AnyOrt = { InferenceSession: { create: (...args: unknown[]) => Promise<unknown> }; Tensor: unknown; env: unknown };

/**
 * The ort module with InferenceSession.create wrapped: each session's `run` is timed into `clock`.
 * `adapt` turns onnxruntime-web's create arguments into what another runtime takes.
 */
export function instrument(ort: AnyOrt, clock: RunClock, adapt?: (args: unknown[]) => Promise<unknown[]>): Ort {
  const create = async (...args: unknown[]) => {
    const session = (await ort.InferenceSession.create(...(adapt ? await adapt(args) : args))) as AnySession;
    const component = componentOf(session);
    const run = session.run.bind(session);
    session.run = async (...runArgs: unknown[]) => {
      const start = performance.now();
      try {
        return await run(...runArgs);
      } finally {
        clock.record(component, start, performance.now());
      }
    };
    return session;
  };
  return { Tensor: ort.Tensor, env: ort.env, InferenceSession: { create } } as unknown as Ort;
}

/** onnxruntime-node takes external data from files beside the model, not from buffers: write them out. */
function nodeAdapter(dir: string): (args: unknown[]) => Promise<unknown[]> {
  let n = 0;
  return async ([model, options]) => {
    const { externalData, executionProviders: _ep, ...rest } = (options ?? {}) as { externalData?: Array<{ path: string; data: Uint8Array }>; executionProviders?: unknown };
    const opts = { ...rest, executionProviders: ['cpu'], intraOpNumThreads: T2I_THREADS, interOpNumThreads: 1 };
    if (!externalData?.length) return [model, opts];
    const sub = join(dir, String(n++));
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'model.onnx'), model as Uint8Array);
    for (const file of externalData) writeFileSync(join(sub, file.path), file.data);
    return [join(sub, 'model.onnx'), opts];
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(runtime: string): Promise<void> {
  const clock = new RunClock();
  const tmp = mkdtempSync(join(tmpdir(), 'media-lab-t2i-'));
  try {
    let ort: Ort;
    let backend: Backend;
    if (runtime === 'ort-web') {
      const web = await import('onnxruntime-web');
      web.env.wasm.numThreads = T2I_THREADS;
      ort = instrument(web as unknown as AnyOrt, clock);
      backend = 'wasm';
    } else if (runtime === 'ort-node') {
      const native = await import('onnxruntime-node');
      ort = instrument(native as unknown as AnyOrt, clock, nodeAdapter(tmp));
      backend = 'cpu' as Backend; // replaced by the adapter
    } else {
      throw new Error(`unknown runtime '${runtime}'; known: ort-web, ort-node`);
    }

    const tinyFiles = presetFiles(T2I_PRESET);
    const benchFiles = new Map(tinyFiles);
    benchFiles.delete('unet/model.onnx_data');
    benchFiles.set('unet/model.onnx', buildBenchUnet({ ...BENCH_UNET, hidden: 768 }));
    const info = { name: 'tiny', model_type: 'checkpoint', status: 'verified', components: [] } as unknown as ModelInfo;
    const providerOf = (files: Map<string, Uint8Array>) =>
      new OrtDiffusionProvider({
        ort: async () => ({ ort, backend }),
        listModels: async () => [info],
        reader: () => async (path) => files.get(path),
      });
    const providers = { tiny: providerOf(tinyFiles), bench: providerOf(benchFiles) };
    const loadStart = performance.now();
    await providers.tiny.load(undefined);
    const loadMs = performance.now() - loadStart;
    await providers.bench.load(undefined);

    const generate = async (c: T2ICase, seed: number): Promise<Sample> => {
      clock.reset();
      let firstStep = NaN;
      let firstPreview = NaN;
      let loopMs = NaN;
      let pngMs = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const services: StageServices = {
        diffusion: providers[c.unet],
        now: () => performance.now(),
        onProgress: (p) => {
          const at = performance.now() - t0;
          if (Number.isNaN(firstStep)) firstStep = at;
          if (p.preview && Number.isNaN(firstPreview)) firstPreview = at;
        },
        artifacts: {
          save: async (_name, image, metadata) => {
            const start = performance.now();
            addPngTextChunks(encodePng(image), textChunks(metadata));
            pngMs += performance.now() - start;
            loopMs = Number(metadata.ms);
            return 'artifact';
          },
        },
      };
      const workbench = new Workbench({
        stages: [
          {
            stage_type: 'text_to_image',
            parameters: { steps: T2I_STEPS, guidance_scale: T2I_CFG, scheduler: c.scheduler, width: c.size, height: c.size },
          },
        ],
      });
      const result = await workbench.execute({ prompt: T2I_PROMPT, negative_prompt: T2I_NEGATIVE, seed }, 'bench', services);
      const end = performance.now();
      const cpu = process.cpuUsage(cpu0);
      if (!result.success) throw new Error(`generation failed: ${result.error}`);
      const firstUnet = clock.firstUnetStart;
      const lastUnet = clock.lastUnetEnd;
      return {
        wallMs: end - t0,
        cpuMs: (cpu.user + cpu.system) / 1000,
        loopMs,
        runMs: { ...clock.runMs },
        runCalls: { ...clock.runCalls },
        firstStepMs: firstStep,
        firstPreviewMs: firstPreview,
        setupOutsideMs: firstUnet - t0 - clock.runBetween(t0, firstUnet),
        loopOutsideMs: lastUnet - firstUnet - clock.runBetween(firstUnet, lastUnet),
        tailOutsideMs: end - lastUnet - clock.runBetween(lastUnet, end),
        pngMs,
      };
    };

    // One event-loop turn as src/pipeline/stage.ts's yieldToEventLoop takes it.
    const yields = 50;
    const yieldStart = performance.now();
    for (let i = 0; i < yields; i++) await yieldToEventLoop();
    const yieldMs = (performance.now() - yieldStart) / yields;

    // JIT warm-up of the JS side, then one run at each new size (ORT plans buffers for new shapes).
    await generate(T2I_CASES[0], 1);
    let warmed = '';
    for (const c of T2I_CASES) {
      if (`${c.unet}/${c.size}` !== warmed) {
        await generate(c, 1);
        warmed = `${c.unet}/${c.size}`;
      }
      const samples: Sample[] = [];
      for (let i = 0; i < c.repeats; i++) samples.push(await generate(c, 42 + i));
      // The fastest run, all its figures together (the least disturbed by other processes), and
      // the median wall beside it to show the noise.
      const walls = samples.map((s) => s.wallMs);
      const best = samples.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
      const result: T2IResult = {
        runtime,
        ...c,
        loadMs,
        wallMs: best.wallMs,
        medianWallMs: median(walls),
        cpuMs: best.cpuMs,
        loopMs: best.loopMs,
        runMs: Object.values(best.runMs).reduce((a, b) => a + b, 0),
        unetMs: best.runMs.unet,
        unetCalls: best.runCalls.unet,
        textEncoderMs: best.runMs.text_encoder,
        vaeDecoderMs: best.runMs.vae_decoder,
        firstStepMs: best.firstStepMs,
        firstPreviewMs: best.firstPreviewMs,
        setupOutsideMs: best.setupOutsideMs,
        loopOutsideMs: best.loopOutsideMs,
        tailOutsideMs: best.tailOutsideMs,
        pngMs: best.pngMs,
        yieldMs,
        load1: loadavg()[0],
      };
      console.log(`T2I ${JSON.stringify(result)}`);
    }
    await providers.tiny.release();
    await providers.bench.release();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv[2] ?? 'ort-web').then(
    () => process.exit(0), // ORT's worker threads can keep the loop alive
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
