/// <reference lib="webworker" />
/**
 * The studio worker: exposes StudioApi over comlink, owns the job queue, the models and storage.
 */
import * as Comlink from 'comlink';
import { decodeImageFile } from '../src/media/decode-image';
import { encodePng } from '../src/media/png';
import type { StudioApi } from '../src/protocol/api';
import type { JobEvent } from '../src/protocol/events';
import type { BackendPreference, Capabilities, JobRequest, JobResult } from '../src/protocol/schemas';
import { ArtifactRepository } from '../src/storage/artifacts';
import { JobRepository } from '../src/storage/jobs';
import { openStudioDb } from '../src/storage/schema';
import { ModelRepository } from '../src/storage/models';
import { ModelRegistry } from '../src/registry/registry';
import { BundledManifest, bundledModelInfo } from '../src/registry/bundled';
import type { ModelInfo } from '../src/protocol/models';
import { JobQueue } from './job-queue';
import { ModelsService } from './models-service';
import { probeModel } from './ort/probe';
import { OrtDiffusionProvider } from './ort/diffusion-provider';
import { startOrt, type OrtRuntime } from './ort/runtime';
import { OrtUpscalerProvider } from './ort/upscalers';

const db = openStudioDb();
const artifacts = new ArtifactRepository(db);
const jobs = new JobRepository(db);
// Jobs left running or queued by a closed tab can never finish: say so once at start.
const interrupted = jobs.markInterrupted().catch(() => []);
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
    const manifest = BundledManifest.parse(JSON.parse(new TextDecoder().decode(await readBundledFile('models.json'))));
    return manifest.models.map((m) => bundledModelInfo(m, startedAt));
  },
});
const modelsService = new ModelsService({
  repo: modelRepo,
  registry,
  probe: async (info, read) => {
    const { ort, capabilities } = await ortRuntime();
    return probeModel(ort, info, read, capabilities.backend);
  },
});
// A tab closed mid-import leaves chunks no model row refers to: remove them once at start.
const cleanedUp = modelsService.cleanup().catch(() => 0);

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
    return { ort, backend: capabilities.backend };
  },
  listModels: () => modelRepo.listModels(),
  reader: (info) => modelsService.reader(info),
});

let backendName = 'wasm';
const queue = new JobQueue({
  jobs,
  artifacts,
  upscalers,
  diffusion: async () => diffusion,
  decodeImage: decodeImageFile,
  encodePng,
  backend: () => backendName,
  now: () => performance.timeOrigin + performance.now(),
});

const api: StudioApi = {
  async init(preference: BackendPreference): Promise<Capabilities> {
    runtime ??= startOrt(preference);
    const { capabilities } = await runtime;
    backendName = capabilities.backend;
    await interrupted;
    await cleanedUp;
    void modelsService.resumeVerification();
    return capabilities;
  },
  async capabilities() {
    return (await ortRuntime()).capabilities;
  },
  async submit(request) {
    const kind = (request as { kind?: 'enhance' | 'generate' }).kind ?? 'enhance';
    const { job_id } = await queue.submit(request, kind);
    return { job_id };
  },
  async generate(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult> {
    const { job_id, done } = await queue.submit(request, 'generate');
    if (!onProgress) return done;
    const sub = queue.subscribe((e) => {
      if (e.job_id === job_id) return onProgress(e);
    });
    try {
      return await done;
    } finally {
      queue.unsubscribe(sub);
    }
  },
  cancel: (jobId) => queue.cancel(jobId),
  async subscribe(listener) {
    return queue.subscribe(listener);
  },
  async unsubscribe(id) {
    queue.unsubscribe(id);
  },
  listJobs: () => queue.list(),
  getJob: (id) => queue.get(id),
  async enhance(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult> {
    const { job_id, done } = await queue.submit(request, 'enhance');
    if (!onProgress) return done;
    const sub = queue.subscribe((e) => {
      if (e.job_id === job_id) return onProgress(e);
    });
    try {
      return await done;
    } finally {
      queue.unsubscribe(sub);
    }
  },
  async upscalers() {
    return (await upscalers()).available();
  },
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
    list: (options) => artifacts.list(options),
    get: (id) => artifacts.get(id),
    getBlob: (id) => artifacts.getBlob(id),
    delete: (id) => artifacts.delete(id),
    clear: () => artifacts.clear(),
  },
};

Comlink.expose(api);
