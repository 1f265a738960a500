/// <reference lib="webworker" />
/**
 * The studio worker: exposes StudioApi over comlink, owns the job queue, the models and storage.
 */
import * as Comlink from 'comlink';
import { decodeImageFile } from '../src/media/decode-image';
import { encodePng } from '../src/media/png';
import type { StudioApi } from '../src/protocol/api';
import type { JobEvent } from '../src/protocol/events';
import { JobId, type ArtifactSummary, type BackendPreference, type Capabilities, type JobRequest, type JobResult } from '../src/protocol/schemas';
import { readArtifactMetadata } from '../src/protocol/stage-results';
import { ArtifactRepository } from '../src/storage/artifacts';
import type { ArtifactRecord } from '../src/storage/records';
import { JobRepository } from '../src/storage/jobs';
import { openStudioDb } from '../src/storage/schema';
import { ModelRepository } from '../src/storage/models';
import { ModelGraphCache } from '../src/storage/model-graphs';
import { ModelRegistry } from '../src/registry/registry';
import { bundledModelInfo, readBundledManifest } from '../src/registry/bundled';
import type { ModelInfo } from '../src/protocol/models';
import { JobQueue } from './job-queue';
import { QueueHost, QUEUE_CHANNEL, type LockManagerLike } from './queue-host';
import { ModelsService } from './models-service';
import { probeModel } from './ort/probe';
import { OrtDiffusionProvider } from './ort/diffusion-provider';
import { OrtDetectorProvider, type ImportedDetector } from './ort/detector';
import { detectInImage } from './detect-image';
import type { DetectorProvider } from '../src/pipeline/ports';
import { startOrt, type OrtRuntime } from './ort/runtime';
import { OrtUpscalerProvider } from './ort/upscalers';

/**
 * onnxruntime-web's threads are module workers named `em-pthread…` that load the ORT chunk, and
 * the bundler has that chunk import this entry chunk for its runtime helpers: so this module also
 * runs in every ORT thread. There it must not start a studio — no database, no clean-up, no
 * comlink listener (which answered the threads' own messages and could hang ORT's start-up).
 */
const isOrtThread = (self.name ?? '').startsWith('em-pthread');

const db: ReturnType<typeof openStudioDb> = isOrtThread ? new Promise(() => {}) : openStudioDb();
const artifacts = new ArtifactRepository(db);
const jobs = new JobRepository(db);
const modelRepo = new ModelRepository(db);
const startedAt = new Date().toISOString();

async function readBundledFile(file: string): Promise<Uint8Array> {
  const url = new URL(`${import.meta.env.BASE_URL}models/${file}`, self.location.origin);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load bundled model file ${file} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

const registry = new ModelRegistry(modelRepo, {
  bundled: async () => {
    return (await readBundledManifest(readBundledFile)).map((m) => bundledModelInfo(m, startedAt));
  },
});
const modelsService = new ModelsService({
  repo: modelRepo,
  registry,
  graphs: new ModelGraphCache(db),
  // Graphs built from a single-file checkpoint compute in float16 where the GPU can (half the
  // memory, WebGPU's fast path), else float32 (WASM has no float16 kernels worth using).
  compute: async () => {
    const { capabilities } = await ortRuntime();
    return capabilities.backend === 'webgpu' && capabilities.webgpu.shaderF16 === true ? 'float16' : 'float32';
  },
  backend: async () => (await ortRuntime()).capabilities.backend,
  probe: async (info, read) => {
    const { ort, capabilities } = await ortRuntime();
    return probeModel(ort, info, read, capabilities.backend);
  },
});
// A tab closed mid-import leaves chunks no model row refers to: remove them once at start.
const cleanedUp = isOrtThread ? Promise.resolve(0) : modelsService.cleanup().catch(() => 0);

let runtime: Promise<OrtRuntime> | null = null;
let provider: OrtUpscalerProvider | null = null;

function ortRuntime(): Promise<OrtRuntime> {
  if (!runtime) throw new Error('the studio worker was used before init()');
  return runtime;
}

async function upscalers(): Promise<OrtUpscalerProvider> {
  const { ort, capabilities, choice } = await ortRuntime();
  provider ??= new OrtUpscalerProvider({
    ort,
    backend: capabilities.backend,
    limits: {
      maxBufferBytes: choice.adapter
        ? Math.min(choice.adapter.limits.maxBufferSize, choice.adapter.limits.maxStorageBufferBindingSize)
        : undefined,
    },
    readModelFile: readBundledFile,
    imported: async () => {
      const models = (await modelRepo.listModels()).filter((m) => m.model_type === 'upscaler' && m.status === 'verified' && m.upscaler);
      return models.map((m) => importedUpscaler(m));
    },
  });
  return provider;
}

let detectorProvider: OrtDetectorProvider | null = null;

/**
 * The face and hand detectors for the detailer and Find: the bundled ones (models.json), then the
 * verified imported ones whose classes name the target; each opened on first use.
 */
async function detectors(): Promise<DetectorProvider> {
  const { ort, capabilities } = await ortRuntime();
  detectorProvider ??= new OrtDetectorProvider({
    ort,
    backend: capabilities.backend,
    readModelFile: readBundledFile,
    imported: async () => {
      const models = (await modelRepo.listModels()).filter((m) => m.model_type === 'detector' && m.status === 'verified' && m.detector);
      return models.map((m) => importedDetector(m));
    },
  });
  const opened = detectorProvider;
  return { load: (target) => opened.forClass(target) };
}

function importedDetector(m: ModelInfo): ImportedDetector {
  const main = m.components.find((c) => c.role === 'detector')!;
  const read = modelsService.reader(m);
  return {
    name: m.name,
    layout: m.detector!.layout,
    classes: m.detector!.classes,
    key: `${m.name}:${main.file_id}`,
    load: async () => {
      const bytes = await read(main.path);
      if (!bytes) throw new Error(`detector '${m.name}': ${main.path} is missing from storage; import it again`);
      return bytes;
    },
  };
}

function importedUpscaler(m: ModelInfo) {
  const main = m.components.find((c) => c.role === 'upscaler')!;
  const read = modelsService.reader(m);
  return {
    name: m.name,
    scale: m.upscaler!.scale,
    value_range: m.upscaler!.value_range,
    input: main.inputs?.[0]?.name ?? 'input',
    output: main.outputs?.[0]?.name ?? 'output',
    load: async () => ({
      model: (await read(main.path))!,
      externalData: await Promise.all((main.external_data ?? []).map(async (path) => ({ path, data: (await read(path))! }))),
    }),
  };
}

const diffusion = new OrtDiffusionProvider({
  ort: async () => {
    const { ort, capabilities } = await ortRuntime();
    return { ort, backend: capabilities.backend, shaderF16: capabilities.webgpu.shaderF16 };
  },
  listModels: () => modelRepo.listModels(),
  reader: (info, options) => modelsService.reader(info, options),
  // The models service reads stored chunks afresh on every read: LoRAs merge into those buffers.
  freshReads: true,
});

let backendName = 'wasm';
/** Without Web Locks (very old browsers) every tab runs its own jobs, as before there were tabs. */
const alwaysGranted: LockManagerLike = { request: (_name, _options, callback) => callback({}) };
// Created at init(), after the backend is known: only the tab holding the queue lock runs jobs.
let host: QueueHost | null = null;
function queueHost(): QueueHost {
  host ??= new QueueHost({
    jobs,
    locks: (self.navigator as Navigator & { locks?: LockManagerLike }).locks ?? alwaysGranted,
    channel: new BroadcastChannel(QUEUE_CHANNEL),
    createQueue: () =>
      new JobQueue({
        jobs,
        artifacts,
        upscalers,
        diffusion: async () => diffusion,
        detectors,
        decodeImage: decodeImageFile,
        encodePng,
        backend: () => backendName,
        now: () => performance.timeOrigin + performance.now(),
      }),
  });
  return host;
}

const api: StudioApi = {
  async init(preference: BackendPreference): Promise<Capabilities> {
    runtime ??= startOrt(preference);
    const { capabilities } = await runtime;
    backendName = capabilities.backend;
    await queueHost().ready;
    await cleanedUp;
    void modelsService.resumeVerification();
    return capabilities;
  },
  async capabilities() {
    return (await ortRuntime()).capabilities;
  },
  async submit(request) {
    const { kind = 'enhance', job_id: wanted } = request as { kind?: 'enhance' | 'generate'; job_id?: unknown };
    // The caller may choose the id (so it can listen for the job's events before submitting).
    const id = wanted === undefined ? undefined : JobId.safeParse(wanted);
    if (id && !id.success) {
      const shown = typeof wanted === 'string' ? JSON.stringify(wanted.slice(0, 40)) : typeof wanted;
      throw new Error(`${id.error.issues[0].message} (got ${shown})`);
    }
    const { job_id } = await queueHost().submit(request, kind, id?.data);
    return { job_id };
  },
  async generate(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult> {
    return submitAndWait(request, 'generate', onProgress);
  },
  cancel: (jobId) => queueHost().cancel(jobId),
  async subscribe(listener) {
    return queueHost().subscribe(listener);
  },
  async unsubscribe(id) {
    queueHost().unsubscribe(id);
  },
  listJobs: () => queueHost().list(),
  getJob: (id) => queueHost().get(id),
  async queueRole() {
    await queueHost().ready;
    return queueHost().role;
  },
  async enhance(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult> {
    return submitAndWait(request, 'enhance', onProgress);
  },
  async upscalers() {
    return (await upscalers()).available();
  },
  detect: (image, options) => detectInImage(image, options, { decodeImage: decodeImageFile, detectors, now: () => performance.now() }),
  models: {
    scan: (files) => modelsService.scan(files),
    import: (scanId, selections, onProgress) => modelsService.import(scanId, selections, onProgress),
    register: (files, type, options, onProgress) => modelsService.register(files, type, options, onProgress),
    cancelImport: async (importId) => modelsService.cancelImport(importId),
    list: (type) => registry.listModels(type),
    get: (name) => registry.getModel(name),
    path: (name) => registry.getModelPath(name),
    count: (type) => registry.countModels(type),
    exists: (name) => registry.modelExists(name),
    remove: (name) => registry.removeModel(name),
    clear: () => registry.clear(),
    rename: (from, to) => registry.rename(from, to),
    update: (name, patch) => modelsService.update(name, patch),
    storage: () => modelRepo.storageInfo(),
  },
  artifacts: {
    list: async (options) => (await artifacts.list(options)).map(toArtifactSummary),
    get: async (id) => {
      const record = await artifacts.get(id);
      return record && toArtifactSummary(record);
    },
    getBlob: (id) => artifacts.getBlob(id),
    delete: (id) => artifacts.delete(id),
    clear: () => artifacts.clear(),
  },
};

/** A stored artifact as the page sees it: its stage metadata typed (older records read too). */
function toArtifactSummary(record: ArtifactRecord): ArtifactSummary {
  return { ...record, metadata: readArtifactMetadata(record.metadata) };
}

/** Submits a job and waits for its end, passing its events on (events may come from another tab). */
async function submitAndWait(request: JobRequest, kind: 'generate' | 'enhance', onProgress?: (event: JobEvent) => void): Promise<JobResult> {
  const jobsHost = queueHost();
  // The id is chosen here, so the job's events are recognised from the first one.
  const jobId = crypto.randomUUID();
  const sub = onProgress
    ? jobsHost.subscribe((e) => {
        if (e.job_id === jobId) return onProgress(e);
      })
    : null;
  try {
    const { done } = await jobsHost.submit(request, kind, jobId);
    return await done;
  } finally {
    if (sub !== null) jobsHost.unsubscribe(sub);
  }
}

if (!isOrtThread) Comlink.expose(api);
