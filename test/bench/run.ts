/**
 * `npm run bench [-- upscale|t2i|detect|detailer|browser|checkpoint|lora]`: figures, not a test: nothing here fails on speed.
 * - upscale: esrgan-slim ×4 on one 512×512 image with this project's onnxruntime-web path,
 *   UpscalerJS (tfjs WASM) and onnxruntime-node. Each contender runs in its own process
 *   (contender.ts) so its peak RSS is its own.
 * - t2i: text-to-image on the tiny fixture model through the app's stage, provider and ports
 *   (text-to-image.ts, one process per runtime): the share of wall time outside
 *   InferenceSession.run, and the time to the first step and the first preview.
 * - detect: the bundled face and palm detectors per image, ONNX on onnxruntime-web beside the
 *   TF.js originals (detect.ts); then the worker's `detect` (Enhance's Find) per image in headless
 *   Chromium, WASM, through the built app's worker (browser-detect.ts; builds into a temp folder).
 * - detailer: the detailer stage on the tiny checkpoint (roi, mask, detected face): wall time
 *   against the time inside InferenceSession.run (detailer.ts).
 * - browser: a generation from the Generate view of the built app in headless Chromium: the
 *   main thread's long tasks and frame gaps while it runs, the time to the first live preview.
 * - checkpoint (only when named; flags after it, see checkpoint.ts): a full-size SD 1.5 checkpoint
 *   with random weights, built and opened on onnxruntime-node and -web, one UNet step at 512².
 * - lora (only when named; flags after it, see lora.ts): a rank-32 LoRA merged into a full-size
 *   SD 1.5 UNet: merge time, the extra memory it holds, and the cost of switching its weight.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appTiling, CONTENDERS, THREADS, WARMUP_LIMIT_S } from './contender';
import type { T2IResult } from './text-to-image';

const BASELINE = 'ort-web-tiled';
const REFERENCE = 'ort-node-whole';
const contenderScript = fileURLToPath(new URL('./contender.ts', import.meta.url));
const t2iScript = fileURLToPath(new URL('./text-to-image.ts', import.meta.url));
const T2I_BASELINE = 'ort-web';
const T2I_RUNTIMES = [T2I_BASELINE, 'ort-node'];
/** The aim for the pipeline's own share of a generation's wall time. */
const OVERHEAD_AIM = 0.05;

interface Result {
  name: string;
  loadS: number;
  firstS: number;
  seconds: number;
  cpuS: number;
  warm: boolean;
  peakRssMb: number;
  load1: number;
  note: string;
}

function version(pkg: string): string {
  const url = new URL(`../../node_modules/${pkg}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

function runContender(name: string, outFile: string): Result {
  const child = spawnSync(process.execPath, ['--import', 'tsx', contenderScript, name, outFile], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
    timeout: 180_000,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (child.status !== 0 || !line) {
    throw new Error(`contender ${name} failed (exit ${child.status ?? child.signal}):\n${child.stderr}${child.stdout}`);
  }
  return JSON.parse(line.slice('BENCH '.length)) as Result;
}

function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`outputs differ in size: ${a.length} vs ${b.length} bytes`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

function machineLine(): string {
  return `machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}, load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

async function benchUpscale(): Promise<void> {
  const { tileSize, overlap } = await appTiling();
  console.log('== upscale ==');
  console.log(machineLine());
  console.log(
    `versions: onnxruntime-web ${version('onnxruntime-web')}, onnxruntime-node ${version('onnxruntime-node')}, ` +
      `upscaler ${version('upscaler')}, @tensorflow/tfjs ${version('@tensorflow/tfjs')}, ` +
      `tfjs-backend-wasm ${version('@tensorflow/tfjs-backend-wasm')}, @upscalerjs/esrgan-slim ${version('@upscalerjs/esrgan-slim')}`,
  );
  console.log(`task: astronaut.png 512×512 ×4 with esrgan-slim-x4; app tiling: tile ${tileSize}, overlap ${overlap}; ${THREADS} threads where settable`);
  console.log(`timing: one warm-up run, then the timed run (a first run over ${WARMUP_LIMIT_S} s would be timed itself, marked cold)\n`);

  const dir = mkdtempSync(join(tmpdir(), 'media-lab-bench-'));
  try {
    const results: Result[] = [];
    for (const name of Object.keys(CONTENDERS)) {
      process.stdout.write(`  running ${name}…`);
      const r = runContender(name, join(dir, `${name}.rgb`));
      console.log(` ${r.seconds.toFixed(2)} s`);
      results.push(r);
    }
    const base = results.find((r) => r.name === BASELINE)!;
    const reference = readFileSync(join(dir, `${REFERENCE}.rgb`));
    const rows = [['contender', 'model s', 'first s', 'seconds', '× ' + BASELINE, 'cpu/wall', 'peak RSS MB', 'max diff', 'mean diff', 'loadavg', 'notes']];
    for (const r of results) {
      const d = diff(reference, readFileSync(join(dir, `${r.name}.rgb`)));
      rows.push([
        r.name,
        r.loadS.toFixed(2),
        r.firstS.toFixed(2),
        r.seconds.toFixed(2) + (r.warm ? '' : ' (cold)'),
        (r.seconds / base.seconds).toFixed(2),
        (r.cpuS / r.seconds).toFixed(2),
        r.peakRssMb.toFixed(0),
        String(d.max),
        d.mean.toExponential(1),
        r.load1.toFixed(1),
        r.note,
      ]);
    }
    console.log('\n' + table(rows));
    console.log(`\nseconds: the timed (warm) run; × ${BASELINE}: its seconds over this project's; cpu/wall: CPU seconds of all threads per wall second;\nmodel s: loading the model; loadavg: 1-minute load average as the contender finished (this machine is shared; above ${cpus().length} means contention)`);
    console.log(`diffs: 8-bit RGB levels vs ${REFERENCE}; peak RSS: VmHWM of the contender's own process`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runT2I(runtime: string): T2IResult[] {
  const child = spawnSync(process.execPath, ['--import', 'tsx', t2iScript, runtime], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
    timeout: 180_000,
  });
  const lines = child.stdout.split('\n').filter((l) => l.startsWith('T2I '));
  if (child.status !== 0 || !lines.length) {
    throw new Error(`text-to-image on ${runtime} failed (exit ${child.status ?? child.signal}):\n${child.stderr}${child.stdout}`);
  }
  return lines.map((l) => JSON.parse(l.slice('T2I '.length)) as T2IResult);
}

async function benchTextToImage(): Promise<void> {
  // Imported here so the upscale part does not load the diffusion code.
  const { benchUnetFlops } = await import('./bench-unet');
  const { BENCH_UNET, T2I_CFG, T2I_PRESET, T2I_REPEATS, T2I_STEPS, T2I_THREADS } = await import('./text-to-image');
  const latentFlops = benchUnetFlops(64, 64, BENCH_UNET) * 2; // batch 2 (CFG) at 512×512
  console.log('== text-to-image ==');
  console.log(machineLine());
  console.log(`versions: onnxruntime-web ${version('onnxruntime-web')}, onnxruntime-node ${version('onnxruntime-node')}`);
  console.log(
    `task: ${T2I_STEPS} steps, CFG ${T2I_CFG} (UNet batch 2), prompt + negative; Workbench → text_to_image stage → OrtDiffusionProvider → loadDiffusionModel's ports, ` +
      `then PNG + text chunks as the job queue writes them (no IndexedDB); ${T2I_THREADS} threads`,
  );
  console.log(
    `model: the '${T2I_PRESET}' fixture (random weights, hidden 768); unet 'tiny' = its UNet (one 4→4 3×3 conv), ` +
      `'bench' = bench-unet.ts in its place (${BENCH_UNET.channels} channels, ${BENCH_UNET.blocks} residual blocks: ${(latentFlops / 1e9).toFixed(1)} GFLOP per step at 512², hundreds of times less than SD 1.5's UNet)`,
  );
  console.log(`timing: a JIT warm-up and one run per new size, then ${T2I_REPEATS} runs per tiny case, 3 per bench case; the fastest is shown with its own split, the median wall beside it\n`);

  const results: T2IResult[] = [];
  for (const runtime of T2I_RUNTIMES) {
    process.stdout.write(`  running ${runtime}…`);
    const started = performance.now();
    const r = runT2I(runtime);
    console.log(` ${((performance.now() - started) / 1000).toFixed(1)} s (tiny model load ${r[0].loadMs.toFixed(0)} ms)`);
    results.push(...r);
  }
  const key = (r: T2IResult) => `${r.unet}/${r.size}/${r.scheduler}`;
  const order = [...new Set(results.map(key))];
  results.sort((a, b) => order.indexOf(key(a)) - order.indexOf(key(b)) || T2I_RUNTIMES.indexOf(a.runtime) - T2I_RUNTIMES.indexOf(b.runtime));
  const base = new Map(results.filter((r) => r.runtime === T2I_BASELINE).map((r) => [key(r), r]));
  const ms = (v: number) => v.toFixed(v < 10 ? 1 : 0);
  const pct = (v: number) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
  const outsideOf = (r: T2IResult) => r.wallMs - r.runMs;

  const split = [['runtime', 'unet', 'size', 'sampler', 'wall ms', 'median', 'run ms', 'unet runs', 'text enc', 'vae dec', 'outside ms', 'outside %', 'setup', 'loop/step', 'tail', 'png', 'cpu/wall', 'loadavg']];
  const latency = [['runtime', 'unet', 'size', 'sampler', 'first step ms', 'first preview ms', 'unet ms/run', 'wall × ' + T2I_BASELINE, 'run × ' + T2I_BASELINE, 'outside × ' + T2I_BASELINE, '']];
  for (const r of results) {
    const b = base.get(key(r))!;
    const row = [r.runtime, r.unet, `${r.size}²`, r.scheduler];
    split.push([
      ...row,
      ms(r.wallMs),
      ms(r.medianWallMs),
      ms(r.runMs),
      `${ms(r.unetMs)} (${r.unetCalls}×)`,
      ms(r.textEncoderMs),
      ms(r.vaeDecoderMs),
      ms(outsideOf(r)),
      pct(outsideOf(r) / r.wallMs),
      ms(r.setupOutsideMs),
      (r.loopOutsideMs / (r.unetCalls - 1)).toFixed(2),
      ms(r.tailOutsideMs),
      ms(r.pngMs),
      (r.cpuMs / r.wallMs).toFixed(2),
      r.load1.toFixed(1),
    ]);
    latency.push([
      ...row,
      ms(r.firstStepMs),
      ms(r.firstPreviewMs),
      (r.unetMs / r.unetCalls).toFixed(2),
      (r.wallMs / b.wallMs).toFixed(2),
      (r.runMs / b.runMs).toFixed(2),
      (outsideOf(r) / outsideOf(b)).toFixed(2),
      '',
    ]);
  }
  console.log('\n' + table(split));
  console.log(
    `\nwall: Workbench.execute of one job (model already open); run ms: all InferenceSession.run calls; unet runs: ${T2I_STEPS} steps × 1 run of batch 2; ` +
      `outside: wall − run, the pipeline's own time,\nsplit into setup (before the first UNet run: parameters, tokenizer, prompt weighting, noise), ` +
      `loop/step (between two UNet runs: tensors to and from ORT, guidance, scheduler, preview, one setTimeout(0) yield),\n` +
      `tail (after the last UNet run: VAE post-processing, image, PNG); png: the sink's PNG encode + text chunks (content-dependent: noisy images compress slowly);\n` +
      `median: the median wall of the runs; cpu/wall: CPU ms of all threads per wall ms; loadavg: 1-minute load as the case finished (above 2 means contention)`,
  );
  console.log('\n' + table(latency));
  console.log(`\nfirst step / first preview: ms from the start of Workbench.execute to the first progress event / the first carrying a preview (every 5 steps: step 5)`);

  // What the figures mean for a real model: the pipeline's own time does not depend on the UNet's weights.
  const web = results.filter((r) => r.runtime === T2I_BASELINE);
  console.log(`\noverhead aim: outside session.run ≤ ${pct(OVERHEAD_AIM)} of wall. The tiny UNet costs less than a call, so its shares are an upper bound; the pipeline's`);
  console.log(`own ms carry over to a real model of the same size. For ≤ ${pct(OVERHEAD_AIM)}, session.run must total ≥ ${((1 - OVERHEAD_AIM) / OVERHEAD_AIM).toFixed(0)} × outside:`);
  for (const size of [...new Set(web.filter((r) => r.unet === 'tiny').map((r) => r.size))]) {
    const rows = web.filter((r) => r.unet === 'tiny' && r.size === size);
    const outside = Math.max(...rows.map(outsideOf));
    const need = (outside * (1 - OVERHEAD_AIM)) / OVERHEAD_AIM;
    console.log(`  ${size}×${size} on ${T2I_BASELINE}: outside ≤ ${ms(outside)} ms → ≥ ${ms(need)} ms of runs, i.e. a UNet step (batch 2) of ≥ ${ms(need / rows[0].unetCalls)} ms`);
  }
  for (const r of results.filter((x) => x.unet === 'bench')) {
    console.log(
      `  bench UNet, ${r.size}×${r.size} on ${r.runtime}: ${ms(r.unetMs / r.unetCalls)} ms per UNet step → outside ${pct(outsideOf(r) / r.wallMs)} of wall ` +
        `(${pct((outsideOf(r) - r.pngMs) / r.wallMs)} without the PNG)`,
    );
  }
  console.log(
    `one event-loop turn (the loop's per-step checkpoint, a setTimeout(0)) takes ${web[0].yieldMs.toFixed(2)} ms here`,
  );
}

async function benchDetect(): Promise<void> {
  console.log(`== detection: bundled detectors, Node, onnxruntime-web WASM ${THREADS} threads vs tfjs WASM (1 thread: tfjs disables threads in Node) ==`);
  console.log(machineLine());
  const { benchDetectors } = await import('./detect');
  const rows = await benchDetectors();
  const f = (v: number) => v.toFixed(1);
  const out = [['detector', 'runtime', 'image', 'found', 'wall ms', 'model run ms', 'outside ms', 'wall × tfjs']];
  for (const r of rows) {
    const ref = rows.find((x) => x.detector === r.detector && x.image === r.image && x.runtime !== r.runtime && r.runtime.startsWith('ort'));
    out.push([r.detector, r.runtime, `${r.image} ${r.size}`, String(r.found), f(r.wallMs), f(r.runMs), f(r.wallMs - r.runMs), ref ? (r.wallMs / ref.wallMs).toFixed(2) : '']);
  }
  console.log(table(out));
  console.log(`
wall: detect() on one image (letterbox to 256, the model, decoding, NMS), median of 5 warm runs; outside: wall minus the model run`);

  // Imported here so the Node part does not need Chromium.
  const { benchBrowserDetect } = await import('./browser-detect');
  const browser = await benchBrowserDetect();
  console.log(
    `\n== detection in headless Chromium: the worker's detect() (Find), faces and hands, WASM ${browser.threads} threads` +
      `${browser.crossOriginIsolated ? '' : ' (NOT cross-origin isolated)'} ==`,
  );
  const brows = [['image', 'found', 'detectors', 'first call ms', 'wall ms', 'in detectors ms', 'decode + messages ms']];
  for (const r of browser.rows) {
    brows.push([`${r.image} ${r.size}`, String(r.found), r.detectors, f(r.firstMs), f(r.wallMs), f(r.detectMs), f(r.wallMs - r.detectMs)]);
  }
  console.log(table(brows));
  console.log(`
first call: the image's first detect() (for the first image, the detector sessions are created in it); wall: the page's time for one
detect() call, median of 5 rounds over the images after their first calls; in detectors: the worker's own 'ms' (both detectors, letterbox, decoding, NMS, filtering);
decode + messages: the rest (bytes to the worker, PNG decode in JS, the answer back)`);
}

async function benchDetailerSection(): Promise<void> {
  const { benchDetailer, DETAILER_STEPS } = await import('./detailer');
  const { T2I_THREADS } = await import('./text-to-image');
  console.log(`== detailer: astronaut.png 512×512, ${DETAILER_STEPS} steps × strength 0.5, tiny checkpoint, Node, onnxruntime-web WASM ${T2I_THREADS} threads ==`);
  console.log(machineLine());
  const rows = await benchDetailer();
  const f = (v: number) => v.toFixed(v < 10 ? 1 : 0);
  const out = [['unet', 'mode', 'regions', 'work size', 'wall ms', 'median', 'run ms', 'unet runs', 'detector runs', 'outside ms', 'outside %', 'png ms', 'loadavg']];
  for (const r of rows) {
    const outside = r.wallMs - r.runMs - r.detectorRunMs;
    out.push([
      r.unet,
      r.mode,
      String(r.regions),
      r.workSize,
      f(r.wallMs),
      f(r.medianWallMs),
      f(r.runMs),
      `${f(r.unetMs)} (${r.unetCalls}×)`,
      f(r.detectorRunMs),
      f(outside),
      `${((outside / r.wallMs) * 100).toFixed(1)}%`,
      f(r.pngMs),
      r.load1.toFixed(1),
    ]);
  }
  console.log(table(out));
  console.log(`
wall: Workbench.execute of one detailer job (models open), fastest of 3 warm runs; run ms: the checkpoint's InferenceSession.run calls
(VAE encoder, text encoder, UNet, VAE decoder); detector runs: the detectors' (detect mode); outside: wall − both, the stage's own time
(mask, crop and resize, blur, composite, tensors, scheduler, PNG); roi / detect redraw a crop at 512 px ('only masked'), mask the whole picture`);
}

async function benchBrowser(): Promise<void> {
  // Imported here so the other parts do not need Chromium.
  const { benchBrowserGenerate } = await import('./browser-generate');
  await benchBrowserGenerate();
}

const SECTIONS: Record<string, () => Promise<void>> = {
  upscale: benchUpscale,
  t2i: benchTextToImage,
  detect: benchDetect,
  detailer: benchDetailerSection,
  browser: benchBrowser,
  // Full size: gigabytes of temp files and minutes of CPU, so only when asked for by name.
  checkpoint: async () => {
    const { benchCheckpoint } = await import('./checkpoint');
    await benchCheckpoint(process.argv.slice(2).filter((a) => a.startsWith('--')));
  },
  lora: async () => {
    const { benchLora } = await import('./lora');
    await benchLora(process.argv.slice(2).filter((a) => a.startsWith('--')));
  },
};
const ON_REQUEST = new Set(['checkpoint', 'lora']);
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of wanted) if (!SECTIONS[name]) throw new Error(`unknown bench section '${name}'; known: ${Object.keys(SECTIONS).join(', ')}`);
for (const [name, section] of Object.entries(SECTIONS)) {
  if (wanted.length ? !wanted.includes(name) : ON_REQUEST.has(name)) continue;
  await section();
  console.log('');
}
