/**
 * The main-thread side of the studio worker: the only place that creates the Worker.
 * Views use `studio` (a comlink proxy of StudioApi) and the helpers below.
 */
import * as Comlink from 'comlink';
import type { StudioApi } from '../protocol/api';
import type { JobEvent } from '../protocol/events';
import type { BackendPreference, Capabilities, JobResult } from '../protocol/schemas';

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

/** One stage of a job's pipeline, as the seed's StageConfig (snake_case parameters). */
export interface StageRequest {
  stage_type: string;
  /** Metadata and progress key; absent = the stage_type. */
  name?: string;
  parameters: Record<string, unknown>;
}

/** The image an enhance job starts from: a picked file or a gallery artifact. */
export interface EnhanceImage {
  file?: File;
  artifactId?: string;
}

export interface EnhanceOptions extends EnhanceImage {
  upscaleFactor: number;
  model?: string;
}

/** The `upscaler` stage for a factor (and an optional model; absent = bundled for the factor). */
export function upscalerStageRequest(upscaleFactor: number, model?: string): StageRequest {
  const parameters: Record<string, unknown> = { upscale_factor: upscaleFactor };
  if (model) parameters.model = model;
  return { stage_type: 'upscaler', parameters };
}

/**
 * Queues an enhance job running `stages` in order on a picked file (bytes transferred, not
 * copied) or a gallery artifact.
 */
export async function submitEnhance(image: EnhanceImage, stages: StageRequest[]): Promise<{ job_id: string }> {
  if (stages.length === 0) throw new Error('an enhance job needs at least one stage');
  const api = studio();
  const input_data: Record<string, unknown> = {};
  let transfer: Transferable[] = [];
  if (image.file) {
    const bytes = await image.file.arrayBuffer();
    input_data.image_file = { name: image.file.name, type: image.file.type, bytes };
    transfer = [bytes];
  } else if (image.artifactId) {
    input_data.image_artifact = image.artifactId;
  }
  const request = {
    kind: 'enhance' as const,
    pipeline_config: {
      stages: stages.map((stage) => ({
        stage_type: stage.stage_type,
        ...(stage.name ? { name: stage.name } : {}),
        parameters: { ...stage.parameters },
      })),
      parameters: {},
    },
    input_data,
  };
  return api.submit(Comlink.transfer(request, transfer));
}

/** Queues an upscale of a picked file or a gallery artifact (a one-stage enhance job). */
export function submitUpscale(options: EnhanceOptions): Promise<{ job_id: string }> {
  return submitEnhance(options, [upscalerStageRequest(options.upscaleFactor, options.model)]);
}

export type { JobResult };

/** Wraps a callback so the worker can call it back (a comlink proxy), e.g. an `onProgress`. */
export function proxyCallback<F extends (...args: never[]) => unknown>(fn: F): F {
  return Comlink.proxy(fn);
}
