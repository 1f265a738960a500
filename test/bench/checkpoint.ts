/**
 * `npm run bench -- checkpoint [--fp32] [--int8] [--fp16-compute] [--no-fp16] [--no-node] [--no-wasm] [--no-step] [--size=512] [--chromium] [--import [--generate]] [--webgpu]`:
 * a full-size SD 1.5 checkpoint with random weights (test/fixtures/full-size-checkpoint.ts),
 * written to a temp folder, planned, built, and opened by onnxruntime-node (CPU) and
 * onnxruntime-web (WASM in Node), one UNet step at 512² where a session opens; deleted after.
 * Figures only: nothing here fails on speed. Needs ~10 GB of free memory and 6 GB of disk.
 *
 * Each session runs in its own process (this file with `--child`), so its peak RSS is its own and
 * a runtime that aborts (wasm32's 4 GB) takes only that measurement down.
 *
 * `--webgpu` opens the same UNet with onnxruntime-web's WebGPU backend in Chromium instead of
 * WASM (checkpoint-browser.ts): for a machine with a hardware adapter.
 */
import { spawnSync } from 'node:child_process';
import { openAsBlob } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKPOINT_COMPONENTS, type CheckpointComponent, type CheckpointPlan } from '../../src/registry/checkpoint/architecture';
import {
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  fileLocation,
  planExternalParts,
  type BuildOptions,
  type BuiltComponent,
  type ComputeType,
} from '../../src/registry/checkpoint/build';
import { planCheckpoint } from '../../src/registry/checkpoint/ldm-keys';
import { encodeModel } from '../../src/registry/convert/onnx-build';
import { readSafetensorsHeader } from '../../src/registry/safetensors';
import { withTempDir, writeFullSizeCheckpoint, writeInt8Variant, type WrittenCheckpoint } from '../fixtures/full-size-checkpoint';

const THREADS = 2;
/** Image side of the UNet step (latents are an eighth); `--size=N` changes it. */
const SIZE = Number(process.argv.find((a) => a.startsWith('--size='))?.slice('--size='.length) ?? 512);
const self = fileURLToPath(import.meta.url);

const BUILDERS: Record<CheckpointComponent, (plan: CheckpointPlan, options: BuildOptions) => BuiltComponent> = {
  text_encoder: buildTextEncoder,
  unet: buildUnet,
  vae_decoder: buildVaeDecoder,
  vae_encoder: buildVaeEncoder,
};

/** What a child measures: one model file, opened by one runtime, optionally one UNet step per batch. */
interface ChildTask {
  runtime: 'node' | 'wasm';
  model: string;
  /** wasm: external-data parts as byte ranges of files (ORT-web is given bytes, not paths). */
  parts?: Array<{ location: string; file: string; begin: number; end: number }>;
  component: CheckpointComponent;
  compute: ComputeType;
  batches: number[];
  /** ORT's graph optimisation level (the fp16-weight WASM case tries 'disabled': no folded fp32 copies). */
  optimization?: 'all' | 'disabled';
  /** ORT optimizers to skip (`optimization.disable_specified_optimizers`), e.g. ConstantFolding. */
  skip?: string;
}

interface ChildResult {
  ok: boolean;
  createS?: number;
  steps?: Array<{ batch: number; seconds: number }>;
  error?: string;
  peakRssMb: number;
  load1: number;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

async function readRange(file: string, begin: number, end: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const bytes = new Uint8Array(end - begin);
    for (let at = 0; at < bytes.length; ) {
      const { bytesRead } = await handle.read(bytes, at, Math.min(bytes.length - at, 2 ** 30), begin + at);
      if (!bytesRead) throw new Error(`${file} ended at ${begin + at}`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** UNet inputs at 512² (latents 64²), 77 tokens of the plan's context width. */
function unetFeeds(ort: typeof import('onnxruntime-common'), batch: number, compute: ComputeType, context: number) {
  const half = compute === 'float16';
  const tensor = (dims: number[]) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n).map((_, i) => Math.sin(i * 0.37) * 0.5);
    // float16 inputs as raw bits through Uint16Array, which every ORT build accepts.
    return half ? new ort.Tensor('float16', Uint16Array.from(values, () => 0x3800 /* 0.5 */), dims) : new ort.Tensor('float32', values, dims);
  };
  return {
    sample: tensor([batch, 4, SIZE / 8, SIZE / 8]),
    timestep: new ort.Tensor('int64', new BigInt64Array([999n]), [1]),
    encoder_hidden_states: tensor([batch, 77, context]),
  };
}

async function runChild(task: ChildTask): Promise<ChildResult> {
  const result: ChildResult = { ok: false, peakRssMb: 0, load1: 0 };
  try {
    let session: import('onnxruntime-common').InferenceSession;
    let ort: typeof import('onnxruntime-common');
    const started = performance.now();
    if (task.runtime === 'node') {
      const node = await import('onnxruntime-node');
      ort = node as unknown as typeof import('onnxruntime-common');
      session = await node.InferenceSession.create(task.model, {
        intraOpNumThreads: THREADS,
        interOpNumThreads: 1,
        graphOptimizationLevel: task.optimization ?? 'all',
        ...(task.skip ? { extra: { optimization: { disable_specified_optimizers: task.skip } } } : {}),
      });
    } else {
      const web = await import('onnxruntime-web');
      web.env.wasm.numThreads = THREADS;
      ort = web as unknown as typeof import('onnxruntime-common');
      const { readFile } = await import('node:fs/promises');
      const externalData = [];
      for (const p of task.parts ?? []) externalData.push({ path: p.location, data: await readRange(p.file, p.begin, p.end) });
      session = await web.InferenceSession.create(new Uint8Array(await readFile(task.model)), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: task.optimization ?? 'all',
        ...(task.skip ? { extra: { optimization: { disable_specified_optimizers: task.skip } } } : {}),
        externalData,
      });
    }
    result.createS = (performance.now() - started) / 1000;
    result.steps = [];
    for (const batch of task.batches) {
      const feeds = unetFeeds(ort, batch, task.compute, contextOf(session));
      const t = performance.now();
      const out = await session.run(feeds);
      result.steps.push({ batch, seconds: (performance.now() - t) / 1000 });
      for (const v of Object.values(out)) v.dispose?.();
    }
    result.ok = true;
    await session.release();
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  result.peakRssMb = peakRssMb();
  result.load1 = loadavg()[0];
  return result;
}

function contextOf(session: import('onnxruntime-common').InferenceSession): number {
  const meta = session.inputMetadata.find((m) => m.name === 'encoder_hidden_states');
  const dims = meta && meta.isTensor ? meta.shape : [];
  const last = dims[dims.length - 1];
  return typeof last === 'number' ? last : 768;
}

function child(task: ChildTask, timeoutS = 900): ChildResult {
  const run = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(task), `--size=${SIZE}`], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
    timeout: timeoutS * 1000,
  });
  const line = run.stdout.split('\n').find((l) => l.startsWith('CHILD '));
  if (line) return JSON.parse(line.slice('CHILD '.length)) as ChildResult;
  // A process that dies (abort, OOM kill, timeout) leaves its last words on stderr.
  const tail = `${run.stderr}${run.stdout}`.trim().split('\n').slice(-6).join(' | ');
  return { ok: false, error: `exit ${run.status ?? run.signal}: ${tail}`, peakRssMb: 0, load1: loadavg()[0] };
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const s = (n: number | undefined) => (n === undefined ? '—' : `${n.toFixed(2)} s`);

function report(label: string, r: ChildResult): void {
  const steps = (r.steps ?? []).map((x) => `step b${x.batch} ${s(x.seconds)}`).join(', ');
  console.log(
    `${label.padEnd(44)} ${r.createS !== undefined ? `create ${s(r.createS)}${steps ? `, ${steps}` : ''}` : ''}${r.ok ? '' : `${r.createS !== undefined ? ', then ' : ''}FAILED: ${r.error}`}  (peak RSS ${r.peakRssMb.toFixed(0)} MB, load ${r.load1.toFixed(2)})`,
  );
}

/**
 * Whether onnxruntime-web's WASM build runs com.microsoft MatMulNBits with `bits` (a 64×32
 * weight, blocks of 32, against a float32 reference): the cheapest weight-only form if it does.
 */
export async function probeMatMulNBits(bits: 4 | 8): Promise<{ ok: boolean; maxError?: number; error?: string }> {
  const web = await import('onnxruntime-web');
  const { intAttr } = await import('../../src/registry/convert/onnx-build');
  const K = 64;
  const N = 32;
  const block = 32;
  const levels = 2 ** bits;
  const zero = levels / 2;
  // Weights q[n][k] in [0, levels), symmetric around `zero`, one scale per block.
  const q = Array.from({ length: N * K }, (_, i) => (i * 7 + 3) % levels);
  const scales = Float32Array.from({ length: N * (K / block) }, (_, i) => 0.01 * (1 + (i % 5)));
  const packed = new Uint8Array((N * K * bits) / 8);
  for (let i = 0; i < N * K; i++) {
    if (bits === 8) packed[i] = q[i];
    else packed[i >> 1] |= q[i] << ((i & 1) * 4); // low nibble first
  }
  const a = Float32Array.from({ length: K }, (_, i) => Math.cos(i));
  const expected = Array.from({ length: N }, (_, n) => {
    let sum = 0;
    for (let k = 0; k < K; k++) sum += a[k] * (q[n * K + k] - zero) * scales[n * (K / block) + Math.floor(k / block)];
    return sum;
  });
  const { onnx } = (await import('onnx-proto')).default;
  const model = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'nbits',
      node: [{ name: 'mm', opType: 'MatMulNBits', domain: 'com.microsoft', input: ['A', 'B', 'scales'], output: ['Y'], attribute: [intAttr('K', K), intAttr('N', N), intAttr('bits', bits), intAttr('block_size', block)] }],
      initializer: [
        { name: 'B', dims: [N, K / block, (block * bits) / 8], dataType: onnx.TensorProto.DataType.UINT8, rawData: packed },
        { name: 'scales', dims: [N * (K / block)], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(scales.buffer) },
      ],
      input: [{ name: 'A', type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: K }] } } } }],
      output: [{ name: 'Y', type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: N }] } } } }],
    },
  });
  try {
    web.env.wasm.numThreads = 1;
    const session = await web.InferenceSession.create(model, { executionProviders: ['wasm'] });
    const out = (await session.run({ A: new web.Tensor('float32', a, [1, K]) })).Y.data as Float32Array;
    await session.release();
    return { ok: true, maxError: Math.max(...expected.map((e, i) => Math.abs(e - out[i]))) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export interface CheckpointBenchOptions {
  fp32: boolean;
  int8: boolean;
  fp16Compute: boolean;
  wasm: boolean;
  node: boolean;
  fp16: boolean;
  step: boolean;
  webgpu: boolean;
  /** WASM in headless Chromium too: the fp16 UNet unoptimised and (with --int8) the int8 one. */
  chromium: boolean;
  /** The fp16 checkpoint imported through the built app (dist/) in Chromium. */
  import: boolean;
  /** After --import: one 1-step generation at --size in the app's Generate view. */
  generate: boolean;
}

interface Built {
  component: CheckpointComponent;
  path: string;
  graphBytes: number;
  buildS: number;
  built: BuiltComponent;
}

/** Builds every component over `file` (external data = the checkpoint itself, read in place). */
function buildAll(plan: CheckpointPlan, written: WrittenCheckpoint, dir: string, compute: ComputeType, suffix: string): Promise<Built[]> {
  return Promise.all(
    CHECKPOINT_COMPONENTS.map(async (component) => {
      const t = performance.now();
      const built = BUILDERS[component](plan, { locate: fileLocation(basename(written.path), written.dataOffset), compute });
      const bytes = encodeModel(built.model);
      const buildS = (performance.now() - t) / 1000;
      const path = join(dir, `${component}${suffix}.onnx`);
      await writeFile(path, bytes);
      return { component, path, graphBytes: bytes.byteLength, buildS, built };
    }),
  );
}

/** The UNet built for ORT-web: its weights as ≤ 2 GB parts of the file, each given as bytes. */
async function wasmUnet(plan: CheckpointPlan, written: WrittenCheckpoint, dir: string, compute: ComputeType, suffix: string) {
  const parts = planExternalParts(plan.weights.unet.values(), { location: 'weights.bin', dataOffset: written.dataOffset });
  const built = buildUnet(plan, { locate: parts.locate, compute });
  const path = join(dir, `unet-wasm${suffix}.onnx`);
  await writeFile(path, encodeModel(built.model));
  return { path, parts: parts.parts.map((p) => ({ ...p, file: written.path })) };
}

async function measureCheckpoint(dtype: 'F16' | 'F32', options: CheckpointBenchOptions): Promise<void> {
  await withTempDir(async (dir) => {
    const path = join(dir, `sd15-${dtype.toLowerCase()}.safetensors`);
    const written = await writeFullSizeCheckpoint(path, { dtype });
    console.log(`write: ${mb(written.bytes)}, ${written.tensors} tensors in ${s(written.seconds)} (${(written.bytes / 1e6 / written.seconds).toFixed(0)} MB/s)`);
    let t = performance.now();
    const header = await readSafetensorsHeader(await openAsBlob(path));
    const plan = planCheckpoint(header, basename(path));
    console.log(`header + planCheckpoint: ${s((performance.now() - t) / 1000)} (${header.tensors.length} tensors, ${plan.ignored} ignored)`);
    const compute: ComputeType = 'float32';
    const built = await buildAll(plan, written, dir, compute, '');
    for (const b of built) {
      const weights = b.built.externalRanges.reduce((n, r) => n + r.length, 0);
      console.log(`build ${b.component.padEnd(12)} ${s(b.buildS)}, graph ${mb(b.graphBytes)}, ${b.built.externalRanges.length} external weights (${mb(weights)})`);
    }
    const label = dtype === 'F16' ? 'fp16 weights, fp32 compute' : 'fp32';
    for (const b of options.node ? built : []) {
      const unet = b.component === 'unet';
      report(`node ${b.component} (${label})`, child({ runtime: 'node', model: b.path, component: b.component, compute, batches: unet && options.step ? [1, 2] : [] }));
    }
    if (options.wasm && !options.webgpu) {
      const w = await wasmUnet(plan, written, dir, compute, '');
      const steps = options.step ? [1] : [];
      report(`wasm unet (${label})`, child({ runtime: 'wasm', model: w.path, parts: w.parts, component: 'unet', compute, batches: steps }));
      if (dtype === 'F16') {
        // Without graph optimisation the Casts run per step instead of being folded into fp32 copies;
        // onnxruntime-node on the same unoptimised graph gives the ratio.
        report(`wasm unet (${label}, optimisation off)`, child({ runtime: 'wasm', model: w.path, parts: w.parts, component: 'unet', compute, batches: steps, optimization: 'disabled' }));
        // All other optimisations kept, only the folding of the weights' Casts skipped.
        report(`wasm unet (${label}, no constant folding)`, child({ runtime: 'wasm', model: w.path, parts: w.parts, component: 'unet', compute, batches: steps, skip: 'ConstantFolding' }));
        const unet = built.find((b) => b.component === 'unet')!;
        report(`node unet (${label}, optimisation off)`, child({ runtime: 'node', model: unet.path, component: 'unet', compute, batches: steps, optimization: 'disabled' }));
      }
    }
    if (options.import) {
      const { benchCheckpointImport } = await import('./checkpoint-browser');
      await benchCheckpointImport(path, written.bytes, process.env.MEDIA_LAB_APP_DIR, options.generate ? { size: SIZE } : undefined);
    }
    if (dtype === 'F16' && options.chromium) {
      // The route the browser takes: onnxruntime-web's own bundle, weights fetched as byte ranges.
      const { describe, runInChromium } = await import('./checkpoint-browser');
      const w = await wasmUnet(plan, written, dir, compute, '');
      const parts = w.parts.map((p) => ({ ...p, file: basename(p.file) }));
      console.log(describe(`chromium wasm unet (${label}, optimisation off)`, await runInChromium(dir, { backend: 'wasm', compute, model: basename(w.path), parts, batches: options.step ? [1] : [], optimization: 'disabled' })));
    }
    if (dtype === 'F16' && options.fp16Compute) {
      const w = await wasmUnet(plan, written, dir, 'float16', '-f16c');
      const b = buildUnet(plan, { locate: fileLocation(basename(path), written.dataOffset), compute: 'float16' });
      const nodePath = join(dir, 'unet-f16c.onnx');
      await writeFile(nodePath, encodeModel(b.model));
      report('node unet (fp16 compute)', child({ runtime: 'node', model: nodePath, component: 'unet', compute: 'float16', batches: options.step ? [1] : [] }));
      if (options.wasm) report('wasm unet (fp16 compute)', child({ runtime: 'wasm', model: w.path, parts: w.parts, component: 'unet', compute: 'float16', batches: options.step ? [1] : [] }));
    }
    if (dtype === 'F16' && options.int8) {
      const unet = built.find((b) => b.component === 'unet')!;
      const q = join(dir, 'int8');
      await mkdir(q);
      t = performance.now();
      const v = await writeInt8Variant(unet.built, (_, begin, end) => readRange(path, begin, end), q);
      console.log(`int8 UNet (QDQ, per-channel): ${v.quantized} weights quantized in ${s(v.seconds)}; graph ${mb(v.graphBytes)}, data ${mb(v.dataBytes)}`);
      const model = join(q, 'model.onnx');
      const data = join(q, 'model.onnx_data');
      if (options.chromium) {
        const { describe, runInChromium } = await import('./checkpoint-browser');
        const parts = [{ location: 'model.onnx_data', file: 'int8/model.onnx_data', begin: 0, end: v.dataBytes }];
        console.log(describe('chromium wasm unet (int8 weight-only)', await runInChromium(dir, { backend: 'wasm', compute, model: 'int8/model.onnx', parts, batches: options.step ? [1] : [] })));
      }
      report('node unet (int8 weight-only)', child({ runtime: 'node', model, component: 'unet', compute, batches: options.step ? [1, 2] : [] }));
      if (options.wasm) {
        const parts = [{ location: 'model.onnx_data', file: data, begin: 0, end: v.dataBytes }];
        report('wasm unet (int8 weight-only)', child({ runtime: 'wasm', model, parts, component: 'unet', compute, batches: options.step ? [1] : [] }));
      }
    }
    if (options.webgpu) {
      const { benchCheckpointWebgpu } = await import('./checkpoint-browser');
      await benchCheckpointWebgpu({ plan, written, dir });
    }
  });
}

export async function benchCheckpoint(argv: string[]): Promise<void> {
  const flag = (name: string) => argv.includes(name);
  const options: CheckpointBenchOptions = {
    fp32: flag('--fp32'),
    int8: flag('--int8'),
    fp16Compute: flag('--fp16-compute'),
    wasm: !flag('--no-wasm'),
    node: !flag('--no-node'),
    fp16: !flag('--no-fp16'),
    step: !flag('--no-step'),
    webgpu: flag('--webgpu'),
    chromium: flag('--chromium'),
    import: flag('--import'),
    generate: flag('--generate'),
  };
  console.log('== checkpoint (full-size SD 1.5, random weights) ==');
  for (const bits of [4, 8] as const) {
    const r = await probeMatMulNBits(bits);
    console.log(`onnxruntime-web WASM MatMulNBits bits=${bits}: ${r.ok ? `runs (max error ${r.maxError?.toExponential(1)} against float32)` : `refused: ${r.error}`}`);
  }
  console.log(`threads: ${THREADS}; UNet step: ${SIZE}² (latents ${SIZE / 8}²), 77 tokens; one run per case (no warm-up: a step is seconds to minutes)`);
  if (options.fp16) await measureCheckpoint('F16', options);
  if (options.fp32) await measureCheckpoint('F32', options);
}

// `--child <task>`: one measurement, printed as `CHILD {json}` for the parent.
if (process.argv[1] && resolve(process.argv[1]) === self && process.argv[2] === '--child') {
  const result = await runChild(JSON.parse(process.argv[3]) as ChildTask);
  console.log(`CHILD ${JSON.stringify(result)}`);
  process.exit(0);
}
