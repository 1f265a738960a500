/**
 * The main-thread side of the studio worker: the only place that creates the Worker.
 * Views use `studio` (a comlink proxy of StudioApi) and the helpers below.
 */
import * as Comlink from 'comlink';
import type { DetectOutcome, StudioApi } from '../protocol/api';
import type { JobEvent } from '../protocol/events';
import type { DetailerTarget, StageConfigInput } from '../protocol/pipeline-config';
import type { BackendPreference, Capabilities, JobRequest, JobResult } from '../protocol/schemas';
import { createJobClient, type JobClient, type JobHandle } from './job-handle';

export type StudioRemote = Comlink.Remote<StudioApi>;

const BACKEND_SETTING = 'media-lab.backend';

/** `?backend=wasm|webgpu` wins over the saved setting; otherwise auto. */
export function readBackendPreference(search = location.search): BackendPreference {
  const fromUrl = new URLSearchParams(search).get('backend');
  if (fromUrl === 'wasm' || fromUrl === 'webgpu') return { backend: fromUrl, source: 'url' };
  const saved = localStorage.getItem(BACKEND_SETTING);
  if (saved === 'wasm' || saved === 'webgpu') return { backend: saved, source: 'setting' };
  return { backend: 'auto', source: 'default' };
}

/** Saves the backend setting; it takes effect at the next load (sessions are per backend). */
export function saveBackendSetting(backend: 'auto' | 'wasm' | 'webgpu'): void {
  if (backend === 'auto') localStorage.removeItem(BACKEND_SETTING);
  else localStorage.setItem(BACKEND_SETTING, backend);
}

let worker: Worker | null = null;
let remote: StudioRemote | null = null;
let ready: Promise<Capabilities> | null = null;

export function studio(): StudioRemote {
  if (!remote) {
    worker = new Worker(new URL('../../workers/studio.worker.ts', import.meta.url), { type: 'module', name: 'studio' });
    remote = Comlink.wrap<StudioApi>(worker);
  }
  return remote;
}

/** Starts the worker once and resolves with the backend it chose; rejects if it cannot start. */
export function connectStudio(): Promise<Capabilities> {
  if (!ready) {
    const api = studio();
    const failed = new Promise<never>((_, reject) => {
      worker?.addEventListener('error', (e) => reject(new Error(`the studio worker failed to start: ${e.message || 'script error'}`)), { once: true });
    });
    ready = Promise.race([api.init(readBackendPreference()), failed]);
  }
  return ready;
}

/** Subscribes to every job's events; returns a function that unsubscribes. */
export async function onJobEvents(listener: (event: JobEvent) => void): Promise<() => void> {
  const api = studio();
  const id = await api.subscribe(Comlink.proxy(listener));
  return () => void api.unsubscribe(id);
}

let jobs: JobClient | null = null;

/** The app's job client: one subscription to the worker's events, dispatched by job id. */
export function jobClient(): JobClient {
  jobs ??= createJobClient({
    submit: (request, transfer) => studio().submit(transfer.length ? Comlink.transfer(request, transfer) : request),
    cancel: (jobId) => studio().cancel(jobId),
    subscribe: async (listener) => {
      await connectStudio();
      return onJobEvents(listener);
    },
  });
  return jobs;
}

/** Queues a job and returns its handle (see job-handle.ts). */
export function submitJob(request: JobRequest, kind: 'enhance' | 'generate', transfer: Transferable[] = []): Promise<JobHandle> {
  return jobClient().submitJob(request, kind, { transfer });
}

/** One stage of a job's pipeline, as the protocol's StageConfig (snake_case parameters). */
export type StageRequest = StageConfigInput;

/** The image an enhance job starts from: a picked file or a gallery artifact. */
export interface EnhanceImage {
  file?: File;
  artifactId?: string;
  /** The detailer's painted mask (a PNG, white = redraw), sent as `mask_file`. */
  mask?: Blob;
}

export interface EnhanceOptions extends EnhanceImage {
  upscaleFactor: number;
  model?: string;
}

/** The `upscaler` stage for a factor (and an optional model; absent = bundled for the factor). */
export function upscalerStageRequest(upscaleFactor: number, model?: string): StageRequest {
  // The factor is checked where every factor is (the stage's schema): a bad one fails the job, saying why.
  const parameters = { upscale_factor: upscaleFactor, ...(model ? { model } : {}) };
  return { stage_type: 'upscaler', parameters };
}

/**
 * Queues an enhance job running `stages` in order on a picked file (bytes transferred, not
 * copied) or a gallery artifact.
 */
export async function submitEnhance(image: EnhanceImage, stages: StageRequest[]): Promise<JobHandle> {
  if (stages.length === 0) throw new Error('an enhance job needs at least one stage');
  const input_data: Record<string, unknown> = {};
  let transfer: Transferable[] = [];
  if (image.file) {
    const bytes = await image.file.arrayBuffer();
    input_data.image_file = { name: image.file.name, type: image.file.type, bytes };
    transfer = [bytes];
  } else if (image.artifactId) {
    input_data.image_artifact = image.artifactId;
  }
  if (image.mask) {
    const bytes = await image.mask.arrayBuffer();
    input_data.mask_file = { name: 'mask.png', type: image.mask.type || 'image/png', bytes };
    transfer = [...transfer, bytes];
  }
  const pipeline_config = {
    stages: stages.map((stage) => ({ ...stage, parameters: { ...stage.parameters } })),
    parameters: {},
  };
  return submitJob({ pipeline_config, input_data }, 'enhance', transfer);
}

/** Queues an upscale of a picked file or a gallery artifact (a one-stage enhance job). */
export function submitUpscale(options: EnhanceOptions): Promise<JobHandle> {
  return submitEnhance(options, [upscalerStageRequest(options.upscaleFactor, options.model)]);
}

/**
 * Enhance's Find: the faces and/or hands the detailer would redraw in a picked image, boxes in
 * its pixels. The bytes are transferred to the worker, not copied.
 */
export async function detectRegions(
  file: File | (Blob & { name?: string }),
  options: { targets: DetailerTarget[]; confidence: number },
): Promise<DetectOutcome> {
  const bytes = await file.arrayBuffer();
  const image = { name: file.name || 'the image', type: file.type, bytes };
  await connectStudio();
  return studio().detect(Comlink.transfer(image, [bytes]), options);
}

export type { DetectOutcome, JobHandle, JobResult };

/** Wraps a callback so the worker can call it back (a comlink proxy), e.g. an `onProgress`. */
export function proxyCallback<F extends (...args: never[]) => unknown>(fn: F): F {
  return Comlink.proxy(fn);
}
