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
import { JobQueue } from './job-queue';
import { startOrt, type OrtRuntime } from './ort/runtime';
import { OrtUpscalerProvider } from './ort/upscalers';

const db = openStudioDb();
const artifacts = new ArtifactRepository(db);
const jobs = new JobRepository(db);
// Jobs left running or queued by a closed tab can never finish: say so once at start.
const interrupted = jobs.markInterrupted().catch(() => []);

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
    readModelFile: async (file) => {
      const url = new URL(`${import.meta.env.BASE_URL}models/${file}`, self.location.origin);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`could not load bundled model file ${file} (HTTP ${response.status})`);
      return new Uint8Array(await response.arrayBuffer());
    },
  });
  return provider;
}

let backendName = 'wasm';
const queue = new JobQueue({
  jobs,
  artifacts,
  upscalers,
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
    return capabilities;
  },
  async capabilities() {
    return (await ortRuntime()).capabilities;
  },
  async submit(request) {
    const { job_id } = await queue.submit(request, 'enhance');
    return { job_id };
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
    const models = await (await upscalers()).available();
    return models.map((m) => ({ ...m, bundled: true }));
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
