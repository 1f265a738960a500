/**
 * `npm run generate -- --model <folder | model.safetensors> --prompt "…" [--negative "…"] [--steps N] [--cfg G]
 *   [--scheduler NAME] [--karras] [--seed S | --latents file.f32] [--width W --height H]
 *   [--emphasis none] [--batch N] --out image.png`
 *
 * `npm run generate -- [--model <folder | model.safetensors>] --config pipeline.json [--image in.png] [--mask mask.png]
 *   [--seed S] [--prompt "…"] … --out dir/`
 *
 * The studio's generation in Node: the same model-folder reading, ports and denoising loop as
 * the worker, on onnxruntime-web's WASM build. For scripting, benchmarks and checks.
 * `--model` is a diffusers/optimum ONNX folder or a single-file SD 1.x/2.x checkpoint
 * (`.safetensors`, LDM keys), whose graphs are built in memory over the file's bytes, as the
 * studio does (src/registry/checkpoint/virtual-folder.ts): nothing is written.
 * `--latents` is raw little-endian float32 `[1, 4, H/8, W/8]` (unscaled noise).
 *
 * With `--config` it runs any pipeline config (`{stages, parameters}`, or a job
 * `{pipeline_config, input_data}`) through the worker's Workbench and stages: `--model` is the
 * checkpoint for stages that name none, `--image` / `--mask` the input image and mask (PNG or
 * JPEG), the bundled detectors and upscalers of public/models serve detailer and upscaler stages,
 * and sampling options given on the command line override the config's (as input_data does).
 * Each artifact is written as `<out>/<its name>` (`generated.png`, `generated_detailed.png`, …),
 * a PNG with the same text chunks the app writes into the gallery.
 */
import { openAsBlob } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import type { DiffusionProvider, StageServices } from '../../src/pipeline/ports';
import { Workbench } from '../../src/pipeline/workbench';
import type { ModelInfo } from '../../src/protocol/models';
import { openCheckpointFile } from '../../src/registry/checkpoint/cli';
import { checkpointFolder } from '../../src/registry/checkpoint/virtual-folder';
import { analyzeCandidate } from '../../src/registry/registry';
import { scanPickedFiles } from '../../src/registry/scan';
import type { ArtifactRepository } from '../../src/storage/artifacts';
import { createGalleryArtifactSink } from '../artifact-sink';
import { MODELS_DIR, readInput } from './detect-cli';
import { OrtDetectorProvider } from './detector';
import { OrtDiffusionProvider } from './diffusion-provider';
import { decodeImageInNode } from './node-image';
import { OrtUpscalerProvider } from './upscalers';
import { textToImage } from '../../src/pipeline/diffusion/text-to-image';
import { tensorToImages } from '../../src/pipeline/diffusion/latents';
import { formatInfotext, samplerToA1111 } from '../../src/media/infotext';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import type { SchedulerName } from '../../src/pipeline/diffusion/schedulers';
import { loadDiffusionModel, type FolderReader } from './diffusion-model';
import type { Ort } from './types';

export interface GenerateCliResult {
  files: string[];
  seconds: number;
  /** With `--config`: each stage's metadata, by stage name. */
  metadata?: Record<string, Record<string, unknown>>;
}

type CliValues = Partial<Record<string, string | boolean>> & { threads: string };

function num(name: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${String(v)}'`);
  return n;
}

/** A model folder's files by their path inside it; undefined when absent. */
const folderReader = (folder: string) => async (path: string) =>
  readFile(join(folder, path))
    .then((b) => new Uint8Array(b))
    .catch(() => undefined);

/** `--model`: its files as the folder loader reads them, and what to close after. */
interface ModelFiles {
  read: FolderReader;
  /** A single-file checkpoint (its graphs built from it), not a folder. */
  checkpoint: boolean;
  close(): Promise<void>;
}

/** The --model folder, or a single-file checkpoint seen as one (nothing written). */
async function openModel(model: string): Promise<ModelFiles> {
  const info = await stat(model).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `--model '${model}' does not exist` : `cannot read --model '${model}': ${messageOf(err)}`);
  });
  if (info.isDirectory()) return { read: folderReader(model), checkpoint: false, close: async () => undefined };
  if (!/\.safetensors$/i.test(model)) throw new Error(`--model '${model}' is a file: give a model folder or a single-file .safetensors checkpoint`);
  const { plan, source, close } = await openCheckpointFile(model);
  return { read: checkpointFolder(plan, source).read, checkpoint: true, close };
}

export async function runGenerateCli(argv: string[], log: (line: string) => void = console.log): Promise<GenerateCliResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      negative: { type: 'string' },
      steps: { type: 'string' },
      cfg: { type: 'string' },
      scheduler: { type: 'string' },
      karras: { type: 'boolean' },
      seed: { type: 'string' },
      latents: { type: 'string' },
      width: { type: 'string' },
      height: { type: 'string' },
      emphasis: { type: 'string' },
      batch: { type: 'string' },
      out: { type: 'string' },
      threads: { type: 'string', default: '2' },
      config: { type: 'string' },
      image: { type: 'string' },
      mask: { type: 'string' },
    },
    strict: true,
  });
  if (values.config !== undefined) return runConfig(values, log);
  if (values.image !== undefined || values.mask !== undefined) throw new Error('--image and --mask need --config pipeline.json (a pipeline that uses them)');
  // Defaults of the plain text-to-image form (with --config, the stages' own apply).
  values.negative ??= '';
  values.scheduler ??= 'euler';
  values.karras ??= false;
  values.width ??= '512';
  values.height ??= '512';
  values.emphasis ??= 'original';
  values.batch ??= '1';
  if (!values.model) throw new Error('--model <folder | model.safetensors> is required');
  if (values.prompt === undefined) throw new Error('--prompt "…" is required');
  if (!values.out) throw new Error('--out image.png is required');
  if (values.seed !== undefined && values.latents !== undefined) throw new Error('give --seed or --latents, not both');
  const width = num('width', values.width)!;
  const height = num('height', values.height)!;
  const batch = num('batch', values.batch)!;
  let latents;
  if (values.latents) {
    const bytes = await readFile(values.latents);
    const expected = batch * 4 * (height / 8) * (width / 8);
    if (bytes.byteLength !== expected * 4) {
      throw new Error(`--latents has ${bytes.byteLength} bytes; [${batch}, 4, ${height / 8}, ${width / 8}] float32 needs ${expected * 4}`);
    }
    const data = new Float32Array(expected);
    new Uint8Array(data.buffer).set(bytes);
    latents = { data, dims: [batch, 4, height / 8, width / 8] };
  }
  const seed = num('seed', values.seed) ?? (latents ? 0 : Math.floor(Math.random() * 2 ** 32));

  ort.env.wasm.numThreads = num('threads', values.threads)!;
  const folder = values.model;
  const opened = await openModel(folder);
  const model = await loadDiffusionModel(ort as unknown as Ort, opened.read, 'wasm').catch(async (err: unknown) => {
    await opened.close();
    throw err;
  });
  const started = performance.now();
  try {
    const params = {
      prompt: values.prompt,
      negative_prompt: values.negative,
      steps: num('steps', values.steps),
      guidance_scale: num('cfg', values.cfg),
      scheduler: values.scheduler as SchedulerName,
      karras: values.karras,
      width,
      height,
      seed,
      batch_size: batch,
      emphasis: values.emphasis as 'original' | 'none',
      latents,
    };
    const result = await textToImage(model, params, {
      onProgress: (step, total) => log(`step ${step}/${total}`),
    });
    const seconds = (performance.now() - started) / 1000;
    const { sampler, scheduleType } = samplerToA1111(values.scheduler as SchedulerName, values.karras!);
    const files: string[] = [];
    const images = tensorToImages(result);
    for (let i = 0; i < images.length; i++) {
      const text = formatInfotext({
        prompt: values.prompt,
        negative_prompt: values.negative!,
        steps: result.info.timesteps.length,
        sampler,
        scheduleType,
        cfg_scale: params.guidance_scale ?? 7.5,
        seed,
        width,
        height,
        model: folder.split(/[\\/]/).filter(Boolean).pop()?.replace(/\.safetensors$/i, ''),
      });
      const json = JSON.stringify({ params: { ...params, latents: latents ? 'given' : undefined }, info: result.info });
      const png = addPngTextChunks(encodePng(images[i]), [
        { keyword: 'parameters', text },
        { keyword: 'media-lab', text: json },
      ]);
      const file = images.length === 1 ? values.out : values.out.replace(/(\.png)?$/i, `-${i + 1}.png`);
      await writeFile(file, png);
      files.push(file);
    }
    log(`wrote ${files.join(', ')} in ${seconds.toFixed(2)} s (seed ${seed}, ${result.info.scheduler})`);
    return { files, seconds };
  } finally {
    await model.release();
    await opened.close();
  }
}

/** Command-line sampling options that, when given, override the config's, as a job's input_data does. */
const OVERRIDES: Array<[flag: string, key: string, kind: 'string' | 'number' | 'boolean']> = [
  ['prompt', 'prompt', 'string'],
  ['negative', 'negative_prompt', 'string'],
  ['steps', 'steps', 'number'],
  ['cfg', 'guidance_scale', 'number'],
  ['scheduler', 'scheduler', 'string'],
  ['karras', 'karras', 'boolean'],
  ['seed', 'seed', 'number'],
  ['width', 'width', 'number'],
  ['height', 'height', 'number'],
  ['emphasis', 'emphasis', 'string'],
  ['batch', 'batch_size', 'number'],
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** `--config`: any pipeline config through the worker's Workbench and stages. */
async function runConfig(values: CliValues, log: (line: string) => void): Promise<GenerateCliResult> {
  const configPath = values.config as string;
  const out = values.out;
  if (typeof out !== 'string' || !out) throw new Error('--out <folder> is required with --config (each image is written there under its artifact name)');
  if (values.latents !== undefined) throw new Error('--latents works only without --config; give --seed');

  // 1. The config, a pipeline config or a whole job; checked before any model loads.
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await readInput(configPath, 'config')));
  } catch (err) {
    if (err instanceof SyntaxError) throw new Error(`--config '${configPath}' is not JSON: ${err.message}`);
    throw err;
  }
  const job = isObject(json) && 'pipeline_config' in json ? json : { pipeline_config: json, input_data: {} };
  if (job.input_data !== undefined && !isObject(job.input_data)) throw new Error(`--config '${configPath}': input_data must be an object`);
  const input: Record<string, unknown> = { ...(job.input_data as Record<string, unknown> | undefined) };
  for (const key of ['image_file', 'mask_file', 'image_artifact', 'mask_artifact']) {
    if (key in input) throw new Error(`--config '${configPath}': input_data.${key} cannot be read here; give the file with --${key.split('_')[0]}`);
  }
  for (const [flag, key, kind] of OVERRIDES) {
    const v = values[flag];
    if (v !== undefined) input[key] = kind === 'number' ? num(flag, v) : v;
  }
  let workbench: Workbench;
  try {
    workbench = new Workbench(job.pipeline_config);
  } catch (err) {
    throw new Error(`--config '${configPath}': ${messageOf(err)}`, { cause: err });
  }

  // 2. The input image and mask, decoded as the worker decodes them (JPEG with jpeg-js).
  const stored: Record<string, unknown> = { ...input };
  for (const key of ['image', 'mask'] as const) {
    const path = values[key];
    if (typeof path !== 'string') continue;
    const bytes = await readInput(path, key);
    input[key] = await decodeImageInNode(bytes).catch((err: unknown) => {
      throw new Error(`--${key} '${path}': ${messageOf(err)}`, { cause: err });
    });
    stored[`${key}_file`] = { name: basename(path), type: /\.jpe?g$/i.test(path) ? 'image/jpeg' : 'image/png', bytes: bytes.byteLength };
  }
  try {
    workbench.setup(input);
  } catch (err) {
    throw new Error(`--config '${configPath}': ${messageOf(err)}`, { cause: err });
  }

  // 3. The models: --model for diffusion stages, public/models for detectors and upscalers.
  ort.env.wasm.numThreads = num('threads', values.threads)!;
  const runtime = { ort: ort as unknown as Ort, backend: 'wasm' as const };
  const readModelFile = (file: string) => readInput(`${MODELS_DIR}${file}`, 'bundled model');
  const model = typeof values.model === 'string' ? await openModel(values.model) : null;
  const checkpoint = model
    ? await checkpointInfo(values.model as string, model.checkpoint).catch(async (err: unknown) => {
        await model.close();
        throw err;
      })
    : null;
  const diffusion = new OrtDiffusionProvider({
    ort: async () => runtime,
    listModels: async () => (checkpoint ? [checkpoint] : []),
    reader: () => model!.read,
  });
  const upscalers = new OrtUpscalerProvider({ ...runtime, readModelFile });
  const detectors = new OrtDetectorProvider({ ...runtime, readModelFile });
  const files: string[] = [];
  const jobId = 'cli';
  const services: StageServices = {
    artifacts: createGalleryArtifactSink({
      jobId,
      storedRequest: { pipeline_config: job.pipeline_config, input_data: stored },
      artifacts: artifactFiles(out, files),
      encodePng,
    }),
    diffusion: onlyCheckpoint(diffusion, checkpoint?.name),
    upscalers,
    detectors: { load: (target) => detectors.forClass(target) },
    onProgress: (p) => log(`${p.stage}: step ${p.step}/${p.total}${p.message ? ` (${p.message})` : ''}`),
    now: () => performance.now(),
  };

  // 4. Run.
  const started = performance.now();
  try {
    const result = await workbench.execute(input, jobId, services);
    if (!result.success) throw new Error(result.error ?? 'the pipeline failed');
    for (const [stage, m] of Object.entries(result.metadata)) if (typeof m.message === 'string') log(`${stage}: ${m.message}`);
    const seconds = (performance.now() - started) / 1000;
    log(`wrote ${files.join(', ') || 'nothing'} in ${seconds.toFixed(2)} s`);
    return { files, seconds, metadata: result.metadata };
  } finally {
    await Promise.all([diffusion.release(), upscalers.release(), detectors.release()]);
    await model?.close();
  }
}

/**
 * The --model as the registry sees it (family and sampling defaults), or why it is not a
 * checkpoint: a folder as imported, a single-file checkpoint as the studio imports one (family
 * from its key names).
 */
async function checkpointInfo(folder: string, singleFile: boolean): Promise<ModelInfo> {
  const root = resolve(folder);
  const entries: Array<{ path: string; file: Blob }> = [];
  if (singleFile) entries.push({ path: basename(root), file: await openAsBlob(root) });
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) entries.push({ path: relative(root, path).split(sep).join('/'), file: await openAsBlob(path) });
    }
  };
  if (!singleFile) {
    await walk(root).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `--model '${folder}' does not exist` : `cannot read --model '${folder}': ${messageOf(err)}`);
    });
  }
  const candidate = scanPickedFiles(entries).candidates.find((c) => c.kind === (singleFile ? 'safetensors-file' : 'diffusers-folder'));
  if (!candidate) throw new Error(`--model '${folder}' is not a Stable Diffusion ONNX folder (text_encoder/, unet/, vae_decoder/ with model.onnx each)`);
  const analyzed = await analyzeCandidate(candidate);
  if (analyzed.proposal.problem) throw new Error(`--model '${folder}': ${analyzed.proposal.problem}`);
  // openModel has planned the file already: a .safetensors here is a checkpoint.
  if (analyzed.proposal.model_type !== 'checkpoint') throw new Error(`--model '${folder}' is not a checkpoint: ${analyzed.proposal.summary}`);
  return {
    name: basename(root).replace(/\.safetensors$/i, ''),
    model_type: 'checkpoint',
    file_path: folder,
    file_size_bytes: candidate.bytes,
    discovered_at: new Date().toISOString(),
    description: null,
    tags: [],
    metadata: {},
    status: 'verified',
    status_message: null,
    // No sha256 here (hashing a multi-GB UNet per run): the PNGs carry no model hash.
    components: [],
    ...(analyzed.family ? { family: analyzed.family } : {}),
    read_only: true,
  };
}

/** The one checkpoint the runner has; a stage naming another is told so. */
function onlyCheckpoint(provider: OrtDiffusionProvider, name: string | undefined): DiffusionProvider {
  return {
    load: async (model, options) => {
      if (!name) throw new Error('a stage needs a Stable Diffusion checkpoint: give --model <folder | model.safetensors>');
      if (model && model !== name) {
        throw new Error(`a stage names the checkpoint '${model}', but the headless runner has only --model '${name}': drop the stage's "model" or name that folder`);
      }
      // LoRAs and embeddings asked for are looked up (the runner has none: a clear error, never silently dropped).
      return provider.load(name, options);
    },
  };
}

/**
 * The gallery sink's storage, as files: `<job>/generated_detailed.png` is written as
 * `<out>/generated_detailed.png` (`-2`, `-3` when a name comes again); the path is its id.
 * `<out>` is created if missing.
 */
function artifactFiles(out: string, files: string[]): Pick<ArtifactRepository, 'save'> {
  const taken = new Map<string, number>();
  const store = {
    async save(artifact: { name: string }, blob: Blob): Promise<string> {
      const name = artifact.name.slice(artifact.name.indexOf('/') + 1).replace(/[\\/]/g, '_');
      const n = (taken.get(name) ?? 0) + 1;
      taken.set(name, n);
      const file = join(out, n === 1 ? name : name.replace(/(\.png)?$/i, `-${n}.png`));
      // Created with the first image, so a run that fails early leaves no empty folder.
      await mkdir(out, { recursive: true });
      await writeFile(file, new Uint8Array(await blob.arrayBuffer()));
      files.push(file);
      return file;
    },
  };
  return store;
}

// Run as a script (not when imported by tests).
if (process.argv[1] && /generate-cli\.ts$/.test(process.argv[1])) {
  runGenerateCli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`generate: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
