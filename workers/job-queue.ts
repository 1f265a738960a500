/**
 * The studio's FIFO job queue: one job runs at a time, every job is stored with its status, and
 * every subscriber hears every job's events. Cancel works on queued and running jobs; a running
 * job stops at the next stage boundary, tile or step.
 */
import { isRgbaImage, type RgbaImage } from '../src/pipeline/image/rgba';
import type { DetectorProvider, DiffusionProvider, StageServices, UpscalerProvider } from '../src/pipeline/ports';
import { Workbench, type WorkbenchResult } from '../src/pipeline/workbench';
import type { JobEvent } from '../src/protocol/events';
import { ImageFileInput, JobRequest, type JobKind, type JobResult, type JobSummary } from '../src/protocol/schemas';
import type { ArtifactRepository } from '../src/storage/artifacts';
import type { JobRepository } from '../src/storage/jobs';
import { createGalleryArtifactSink } from './artifact-sink';
import { Listeners } from './listeners';

export interface JobQueueDeps {
  jobs: JobRepository;
  artifacts: ArtifactRepository;
  upscalers: () => Promise<UpscalerProvider>;
  diffusion?: () => Promise<DiffusionProvider>;
  /** Face and hand detectors for the detailer. */
  detectors?: () => Promise<DetectorProvider>;
  decodeImage(bytes: Uint8Array, mimeType: string): Promise<RgbaImage>;
  encodePng(image: RgbaImage): Uint8Array;
  backend: () => string;
  now?: () => number;
}

interface QueuedJob {
  id: string;
  kind: JobKind;
  request: { pipeline_config: unknown; input_data: Record<string, unknown> };
  controller: AbortController;
  done: Promise<JobResult>;
  resolve(result: JobResult): void;
}

export class JobQueue {
  private queue: QueuedJob[] = [];
  private running: QueuedJob | null = null;
  private listeners = new Listeners<JobEvent>();
  private readonly now: () => number;

  constructor(private readonly deps: JobQueueDeps) {
    this.now = deps.now ?? (() => Date.now());
  }

  subscribe(listener: (event: JobEvent) => void): number {
    return this.listeners.add(listener);
  }

  unsubscribe(id: number): void {
    this.listeners.remove(id);
  }

  private emit(event: JobEvent): void {
    this.listeners.emit(event);
  }

  /**
   * Queues a job; a malformed request still becomes a job that fails with the reason. `id` is
   * given when another tab submits through this one (it chose the id, so a retry cannot run twice).
   */
  async submit(raw: unknown, kind: JobKind = 'enhance', id: string = crypto.randomUUID()): Promise<{ job_id: string; done: Promise<JobResult> }> {
    // A caller-chosen id must be new: one id, one job (and one stream of events).
    if (this.running?.id === id || this.queue.some((j) => j.id === id) || (await this.deps.jobs.get(id).catch(() => undefined))) {
      throw new Error(`a job with id '${id}' already exists`);
    }
    const parsed = JobRequest.safeParse(raw);
    const request = parsed.success
      ? { pipeline_config: parsed.data.pipeline_config, input_data: withSeed(parsed.data.pipeline_config, parsed.data.input_data) }
      : { pipeline_config: null, input_data: {} };
    let resolve!: (r: JobResult) => void;
    const done = new Promise<JobResult>((r) => (resolve = r));
    const job: QueuedJob = { id, kind, request, controller: new AbortController(), done, resolve };
    await this.deps.jobs.create(
      { id, kind, status: 'queued', request: storableRequest(request, { keepMask: true }), created_at: this.now(), artifacts: [] },
      parsed.success ? request : undefined,
    );
    if (!parsed.success) {
      await this.finish(job, failure(id, 'the request must be {pipeline_config, input_data}'), 'failed');
      return { job_id: id, done };
    }
    this.queue.push(job);
    this.emit({ type: 'queued', job_id: id, kind, position: this.queue.length + (this.running ? 1 : 0) });
    void this.pump();
    return { job_id: id, done };
  }

  /** Queues jobs a closed tab left waiting (found in storage by the tab taking over). */
  resume(jobs: Array<{ job: { id: string; kind: JobKind }; input: { pipeline_config: unknown; input_data: Record<string, unknown> } }>): void {
    for (const { job, input } of jobs) {
      let resolve!: (r: JobResult) => void;
      const done = new Promise<JobResult>((r) => (resolve = r));
      const request = { pipeline_config: input.pipeline_config, input_data: input.input_data };
      this.queue.push({ id: job.id, kind: job.kind, request, controller: new AbortController(), done, resolve });
      this.emit({ type: 'queued', job_id: job.id, kind: job.kind, position: this.queue.length + (this.running ? 1 : 0) });
    }
    void this.pump();
  }

  /** Ids of the running job and the waiting ones, in order. */
  pending(): string[] {
    return [...(this.running ? [this.running.id] : []), ...this.queue.map((j) => j.id)];
  }

  async cancel(jobId: string): Promise<boolean> {
    if (this.running?.id === jobId) {
      this.running.controller.abort();
      return true;
    }
    const index = this.queue.findIndex((j) => j.id === jobId);
    if (index < 0) return false;
    const [job] = this.queue.splice(index, 1);
    await this.finish(job, { ...failure(jobId, 'cancelled before it started') }, 'cancelled');
    return true;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = job;
    try {
      await this.run(job);
    } finally {
      this.running = null;
      void this.pump();
    }
  }

  private async run(job: QueuedJob): Promise<void> {
    const started = this.now();
    await this.deps.jobs.update(job.id, { status: 'running', started_at: started });
    this.emit({ type: 'started', job_id: job.id, backend: this.deps.backend() });
    let result: WorkbenchResult;
    try {
      const workbench = new Workbench(job.request.pipeline_config as never);
      const input = await this.resolveInput(job.request.input_data);
      result = await workbench.execute(input, job.id, await this.services(job, started));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.finish(job, failure(job.id, message), job.controller.signal.aborted ? 'cancelled' : 'failed');
      return;
    }
    const status = result.cancelled ? 'cancelled' : result.success ? 'succeeded' : 'failed';
    await this.finish(job, toJobResult(job.id, result), status);
  }

  private async services(job: QueuedJob, started: number): Promise<StageServices> {
    // ETA from the pace since each stage's first step, so model loading does not inflate it.
    let pace: { stage: string; step: number; at: number } | null = null;
    return {
      signal: job.controller.signal,
      upscalers: await this.deps.upscalers(),
      diffusion: this.deps.diffusion ? withStatus(await this.deps.diffusion(), (message) => this.emit({ type: 'status', job_id: job.id, message })) : undefined,
      detectors: this.deps.detectors ? await this.deps.detectors() : undefined,
      now: this.now,
      onProgress: (p) => {
        const now = this.now();
        const elapsed = now - started;
        if (!pace || pace.stage !== p.stage || p.step < pace.step) pace = { stage: p.stage, step: p.step, at: now };
        const stepsTimed = p.step - pace.step;
        const eta = stepsTimed > 0 ? ((now - pace.at) / stepsTimed) * (p.total - p.step) : undefined;
        this.emit({
          type: 'progress',
          job_id: job.id,
          stage: p.stage,
          step: p.step,
          total: p.total,
          elapsed_ms: elapsed,
          eta_ms: eta,
          ...(p.preview ? { preview: { width: p.preview.width, height: p.preview.height, data: p.preview.data } } : {}),
        });
      },
      artifacts: createGalleryArtifactSink({
        jobId: job.id,
        storedRequest: storableRequest(job.request),
        artifacts: this.deps.artifacts,
        encodePng: this.deps.encodePng,
        onSaved: (id, name) => this.emit({ type: 'artifact', job_id: job.id, artifact_id: id, name }),
      }),
    };
  }

  /**
   * Decodes `image_file` bytes or loads `image_artifact` into the pipeline's `image`, and
   * `mask_file` / `mask_artifact` (the detailer's painted mask) into `mask` the same way.
   */
  private async resolveInput(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const data: Record<string, unknown> = { ...input };
    for (const key of ['image', 'mask'] as const) {
      const fileKey = `${key}_file`;
      const artifactKey = `${key}_artifact`;
      if (input[fileKey] !== undefined) {
        const file = ImageFileInput.safeParse(input[fileKey]);
        if (!file.success) throw new Error(`${fileKey} must be {name, type, bytes: ArrayBuffer}`);
        if (file.data.bytes.byteLength === 0) throw new Error(`'${file.data.name}' is empty (0 bytes)`);
        try {
          data[key] = await this.deps.decodeImage(new Uint8Array(file.data.bytes), file.data.type);
        } catch (err) {
          throw new Error(`'${file.data.name}': ${err instanceof Error ? err.message : String(err)}`);
        }
        delete data[fileKey];
      } else if (typeof input[artifactKey] === 'string') {
        const blob = await this.deps.artifacts.getBlob(input[artifactKey] as string);
        if (!blob) throw new Error(`gallery ${key} ${input[artifactKey] as string} no longer exists`);
        data[key] = await this.deps.decodeImage(new Uint8Array(await blob.arrayBuffer()), blob.type);
      }
      if (data[key] !== undefined && !isRgbaImage(data[key])) throw new Error(`input ${key} is not RGBA pixels`);
    }
    return data;
  }

  private async finish(job: QueuedJob, result: JobResult, status: 'succeeded' | 'failed' | 'cancelled'): Promise<void> {
    const finished = this.now();
    try {
      await this.deps.jobs.update(job.id, {
        status,
        finished_at: finished,
        error: result.error,
        artifacts: result.artifacts,
        metadata: result.metadata,
      });
    } catch (err) {
      // The job still ends for the caller even if its row could not be written (e.g. disk full).
      result = { ...result, error: `${result.error ?? ''} (job record not saved: ${String(err)})`.trim() };
    }
    if (status === 'succeeded') this.emit({ type: 'finished', job_id: job.id, result });
    else if (status === 'cancelled') this.emit({ type: 'cancelled', job_id: job.id });
    else this.emit({ type: 'failed', job_id: job.id, error: result.error ?? 'failed', result });
    job.resolve(result);
  }

  async list(): Promise<JobSummary[]> {
    return (await this.deps.jobs.list()) as JobSummary[];
  }

  async get(id: string): Promise<JobSummary | undefined> {
    return (await this.deps.jobs.get(id)) as JobSummary | undefined;
  }
}

/**
 * A generation without a seed gets a random one here, before the pipeline (which takes its noise
 * only from the seed), so it is recorded with the job and the image can be made again.
 */
function withSeed(config: unknown, input: Record<string, unknown>): Record<string, unknown> {
  const stages = (config as { stages?: Array<{ stage_type?: unknown; parameters?: Record<string, unknown> }> } | null)?.stages;
  const generates = Array.isArray(stages) && stages.some((s) => s?.stage_type === 'text_to_image' && s.parameters?.seed === undefined);
  if (!generates || input.seed !== undefined || input.latents !== undefined) return input;
  return { ...input, seed: crypto.getRandomValues(new Uint32Array(1))[0] };
}

function failure(jobId: string, error: string): JobResult {
  return { job_id: jobId, success: false, data: {}, artifacts: [], metadata: {}, error };
}

/** What crosses back to the page: no pixel buffers, those live in the gallery. */
/** Largest painted-mask PNG kept with its job (a 4096² two-colour mask is far smaller). */
export const MAX_STORED_MASK_BYTES = 4 * 1024 * 1024;

function toJobResult(jobId: string, r: WorkbenchResult): JobResult {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r.data)) {
    if (isRgbaImage(value)) data[key] = { width: value.width, height: value.height };
    else if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) data[key] = value;
  }
  // Every stage writes its protocol metadata (typed where the stage builds it).
  return { job_id: jobId, success: r.success, data, artifacts: r.artifacts, metadata: r.metadata as JobResult['metadata'], error: r.error };
}

/**
 * The request as stored with the job: binary inputs replaced by a short description. The job
 * record (`keepMask`) also keeps a painted mask's PNG, small as masks compress, so the mask can
 * be restored with the job; the PNGs' JSON gets the description only.
 */
function storableRequest(request: QueuedJob['request'], options: { keepMask?: boolean } = {}): unknown {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request.input_data)) {
    if ((key === 'image_file' || key === 'mask_file') && value && typeof value === 'object') {
      const f = value as { name?: unknown; type?: unknown; bytes?: ArrayBuffer };
      const size = f.bytes?.byteLength ?? 0;
      const keep = key === 'mask_file' && options.keepMask && f.bytes instanceof ArrayBuffer && size <= MAX_STORED_MASK_BYTES;
      input[key] = { name: f.name, type: f.type, bytes: size, ...(keep ? { png: f.bytes!.slice(0) } : {}) };
    } else if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value) && !isRgbaImage(value)) {
      input[key] = value;
    }
  }
  return { pipeline_config: request.pipeline_config, input_data: input };
}

/** The provider, with what a long model load is doing told as the job's status. */
function withStatus(provider: DiffusionProvider, onStatus: (message: string) => void): DiffusionProvider {
  return {
    load: (model, options) =>
      provider.load(model, {
        ...options,
        onStatus: (message) => {
          options?.onStatus?.(message);
          onStatus(message);
        },
      }),
  };
}
