/**
 * The studio's FIFO job queue: one job runs at a time, every job is stored with its status, and
 * every subscriber hears every job's events. Cancel works on queued and running jobs; a running
 * job stops at the next stage boundary, tile or step.
 */
import { isRgbaImage, type RgbaImage } from '../src/pipeline/image/rgba';
import type { DiffusionProvider, StageServices, UpscalerProvider } from '../src/pipeline/ports';
import { Workbench, type WorkbenchResult } from '../src/pipeline/workbench';
import type { JobEvent } from '../src/protocol/events';
import { ImageFileInput, JobRequest, type JobKind, type JobResult, type JobSummary } from '../src/protocol/schemas';
import type { ArtifactRepository } from '../src/storage/artifacts';
import { formatInfotext, samplerToA1111 } from '../src/media/infotext';
import { addPngTextChunks } from '../src/media/png-text';
import { Listeners } from './listeners';
import type { SchedulerName } from '../src/pipeline/diffusion/schedulers';
import type { JobRepository } from '../src/storage/jobs';

export interface JobQueueDeps {
  jobs: JobRepository;
  artifacts: ArtifactRepository;
  upscalers: () => Promise<UpscalerProvider>;
  diffusion?: () => Promise<DiffusionProvider>;
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
    const parsed = JobRequest.safeParse(raw);
    const request = parsed.success
      ? { pipeline_config: parsed.data.pipeline_config, input_data: withSeed(parsed.data.pipeline_config, parsed.data.input_data) }
      : { pipeline_config: null, input_data: {} };
    let resolve!: (r: JobResult) => void;
    const done = new Promise<JobResult>((r) => (resolve = r));
    const job: QueuedJob = { id, kind, request, controller: new AbortController(), done, resolve };
    await this.deps.jobs.create(
      { id, kind, status: 'queued', request: storableRequest(request), created_at: this.now(), artifacts: [] },
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
      diffusion: this.deps.diffusion ? await this.deps.diffusion() : undefined,
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
      artifacts: {
        save: async (name, image, metadata) => {
          // Our chunk also carries the whole job (pipeline and inputs, seed included, no binaries),
          // so any image of a job, refined or upscaled too, can restore the pipeline that made it.
          const png = addPngTextChunks(this.deps.encodePng(image), textChunks({ ...metadata, job: storableRequest(job.request) }));
          const stage = String(metadata.stage ?? '');
          const id = await this.deps.artifacts.save(
            {
              job_id: job.id,
              stage,
              name,
              width: image.width,
              height: image.height,
              bytes: png.byteLength,
              mime: 'image/png',
              parameters: (metadata.parameters as Record<string, unknown>) ?? {},
              metadata,
            },
            new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }),
          );
          this.emit({ type: 'artifact', job_id: job.id, artifact_id: id, name });
          return id;
        },
      },
    };
  }

  /** Decodes `image_file` bytes or loads `image_artifact` into the pipeline's `image`. */
  private async resolveInput(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const data: Record<string, unknown> = { ...input };
    if (input.image_file !== undefined) {
      const file = ImageFileInput.safeParse(input.image_file);
      if (!file.success) throw new Error('image_file must be {name, type, bytes: ArrayBuffer}');
      if (file.data.bytes.byteLength === 0) throw new Error(`'${file.data.name}' is empty (0 bytes)`);
      try {
        data.image = await this.deps.decodeImage(new Uint8Array(file.data.bytes), file.data.type);
      } catch (err) {
        throw new Error(`'${file.data.name}': ${err instanceof Error ? err.message : String(err)}`);
      }
      delete data.image_file;
    } else if (typeof input.image_artifact === 'string') {
      const blob = await this.deps.artifacts.getBlob(input.image_artifact);
      if (!blob) throw new Error(`gallery image ${input.image_artifact} no longer exists`);
      data.image = await this.deps.decodeImage(new Uint8Array(await blob.arrayBuffer()), blob.type);
    }
    if (data.image !== undefined && !isRgbaImage(data.image)) throw new Error('input image is not RGBA pixels');
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

/**
 * Parameters travel with the image: our JSON (every stage's metadata) always, and A1111's
 * `parameters` text for generated images so other tools can read them.
 */
export function textChunks(metadata: Record<string, unknown>): Array<{ keyword: string; text: string }> {
  const chunks = [{ keyword: 'media-lab', text: JSON.stringify(metadata) }];
  const infotext = a1111Infotext(metadata);
  if (infotext) chunks.unshift({ keyword: 'parameters', text: infotext });
  return chunks;
}

/**
 * A1111's infotext for a generated (txt2img) or refined (img2img, "Denoising strength", hires
 * fix as "Hires upscale"/"Hires upscaler") image; nothing for an upscaled one.
 */
function a1111Infotext(metadata: Record<string, unknown>): string | null {
  const type = metadata.stage_type;
  if (type !== 'text_to_image' && type !== 'refiner') return null;
  // text_to_image records its values at the top level, refiner under `parameters`.
  const p = (type === 'refiner' ? { ...(metadata.parameters as object) } : metadata) as Record<string, unknown>;
  const [scheduler, schedule] = String(metadata.scheduler ?? p.scheduler).split(' ');
  const { sampler, scheduleType } = samplerToA1111(scheduler as SchedulerName, schedule === 'karras' || p.karras === true);
  const hires = metadata.high_res_fix as { scale?: number; upscaler?: string } | false | undefined;
  const extra: Record<string, string | number> = {};
  if (hires && typeof hires === 'object') {
    if (typeof hires.scale === 'number') extra['Hires upscale'] = hires.scale;
    if (typeof hires.upscaler === 'string') extra['Hires upscaler'] = hires.upscaler === 'latent' ? 'Latent' : hires.upscaler;
  }
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const size = (metadata.output_shape as number[] | undefined) ?? [];
  return formatInfotext({
    prompt: String(p.prompt ?? ''),
    negative_prompt: typeof p.negative_prompt === 'string' ? p.negative_prompt : undefined,
    steps: num(p.steps) ?? 0,
    sampler,
    scheduleType,
    cfg_scale: num(p.guidance_scale) ?? 0,
    seed: num(p.seed) ?? num(metadata.seed) ?? 0,
    // The refiner's output size (after a hires fix), as A1111 writes the final size.
    width: num(size[1]) ?? num(p.width) ?? 0,
    height: num(size[0]) ?? num(p.height) ?? 0,
    model: typeof metadata.model === 'string' ? metadata.model : undefined,
    model_hash: typeof metadata.model_hash === 'string' ? metadata.model_hash : undefined,
    denoising_strength: type === 'refiner' ? num(p.strength) ?? num(metadata.strength) : undefined,
    extra,
  });
}

function failure(jobId: string, error: string): JobResult {
  return { job_id: jobId, success: false, data: {}, artifacts: [], metadata: {}, error };
}

/** What crosses back to the page: no pixel buffers, those live in the gallery. */
function toJobResult(jobId: string, r: WorkbenchResult): JobResult {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r.data)) {
    if (isRgbaImage(value)) data[key] = { width: value.width, height: value.height };
    else if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) data[key] = value;
  }
  return { job_id: jobId, success: r.success, data, artifacts: r.artifacts, metadata: r.metadata, error: r.error };
}

/** The request as stored with the job: binary inputs replaced by a short description. */
function storableRequest(request: QueuedJob['request']): unknown {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request.input_data)) {
    if (key === 'image_file' && value && typeof value === 'object') {
      const f = value as { name?: unknown; type?: unknown; bytes?: ArrayBuffer };
      input[key] = { name: f.name, type: f.type, bytes: f.bytes?.byteLength ?? 0 };
    } else if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value) && !isRgbaImage(value)) {
      input[key] = value;
    }
  }
  return { pipeline_config: request.pipeline_config, input_data: input };
}
