/**
 * State of the Enhance view, kept at module level so a running job survives switching views.
 * Object URLs it creates (preview, result) are revoked when replaced.
 */
import { batch, createMemo, createResource, createRoot, createSignal } from 'solid-js';
import { connectStudio, studio, submitUpscale } from '../../client/studio-client';
import type { JobEvent } from '../../protocol/events';
import type { JobResult, UpscalerModelInfo } from '../../protocol/schemas';
import { artifactsApi } from '../lib/artifacts';
import { asRecord, basename, pickNumber, pickSize, pickString, plainError } from '../format';
import { jobEventsReady, listenJobEvents } from './job-events';

export const UPSCALE_FACTORS = [2, 3, 4, 8] as const;

export type EnhanceSource =
  | { kind: 'file'; file: File; name: string }
  | { kind: 'artifact'; artifactId: string; name: string; blob: Blob };

export type EnhancePhase = 'idle' | 'submitting' | 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface EnhanceProgress {
  stage: string;
  step: number;
  total: number;
  elapsedMs: number;
  etaMs?: number;
}

export interface EnhanceOutcome {
  artifactId: string;
  name: string;
  url: string;
  width?: number;
  height?: number;
  bytes?: number;
  /** Time the stage spent upscaling (from its metadata). */
  ms?: number;
  /** From submit to the result being loaded, as the user waited. */
  totalMs: number;
  backend?: string;
  model?: string;
  factor: number;
}

const TERMINAL: ReadonlySet<EnhancePhase> = new Set(['idle', 'done', 'failed', 'cancelled']);

function createEnhanceStore() {
  const [source, setSource] = createSignal<EnhanceSource | null>(null);
  const [previewUrl, setPreviewUrl] = createSignal<string | null>(null);
  const [inputSize, setInputSize] = createSignal<{ width: number; height: number } | null>(null);
  const [previewBroken, setPreviewBroken] = createSignal(false);
  const [factor, setFactor] = createSignal<number>(2);
  const [modelChoice, setModelChoice] = createSignal('');

  const [jobId, setJobId] = createSignal<string | null>(null);
  const [phase, setPhase] = createSignal<EnhancePhase>('idle');
  const [progress, setProgress] = createSignal<EnhanceProgress | null>(null);
  const [queuePosition, setQueuePosition] = createSignal<number | null>(null);
  const [cancelling, setCancelling] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [outcome, setOutcome] = createSignal<EnhanceOutcome | null>(null);

  // Models are listed once a view asks for them (after the worker is up).
  const [modelsWanted, setModelsWanted] = createSignal(false);
  const [upscalers, { refetch: refetchUpscalers }] = createResource(modelsWanted, async () => {
    await connectStudio();
    return studio().upscalers();
  });

  const allModels = createMemo<UpscalerModelInfo[]>(() => {
    if (upscalers.error) return [];
    return upscalers.latest ?? [];
  });
  const modelsForFactor = createMemo(() => allModels().filter((model) => model.scale === factor()));
  const defaultModel = createMemo(() => {
    const models = modelsForFactor();
    return (models.find((model) => model.bundled) ?? models[0])?.name ?? '';
  });
  /** The user's pick if it fits the factor, else the default for the factor. */
  const model = createMemo(() => {
    const choice = modelChoice();
    return modelsForFactor().some((m) => m.name === choice) ? choice : defaultModel();
  });

  const busy = createMemo(() => !TERMINAL.has(phase()));

  // Bumped whenever a new job starts or the source changes; stale async work checks it.
  let generation = 0;
  let buffered: JobEvent[] = [];
  let lastArtifact: string | undefined;
  let submittedAt = 0;
  let runFactor = 2;
  let runModel: string | undefined;

  const replacePreview = (url: string | null) => {
    const old = previewUrl();
    if (old && old !== url) URL.revokeObjectURL(old);
    setPreviewUrl(url);
  };
  const replaceOutcome = (next: EnhanceOutcome | null) => {
    const old = outcome();
    if (old && old.url !== next?.url) URL.revokeObjectURL(old.url);
    setOutcome(next);
  };

  const resetJob = () => {
    generation++;
    buffered = [];
    lastArtifact = undefined;
    batch(() => {
      setJobId(null);
      setPhase('idle');
      setProgress(null);
      setQueuePosition(null);
      setCancelling(false);
      setError(null);
      replaceOutcome(null);
    });
  };

  const fail = (message: string) => {
    batch(() => {
      setPhase('failed');
      setCancelling(false);
      setError(message);
    });
  };

  /** Replaces the picked image. A job already running keeps running; its result goes to the gallery. */
  const useSource = (next: EnhanceSource) => {
    resetJob();
    batch(() => {
      replacePreview(URL.createObjectURL(next.kind === 'file' ? next.file : next.blob));
      setInputSize(null);
      setPreviewBroken(false);
      setSource(next);
    });
  };

  const useFile = (file: File) => useSource({ kind: 'file', file, name: file.name || 'image' });

  /** Takes an artifact from the gallery as the input image. */
  const useArtifact = async (artifactId: string, name: string) => {
    try {
      const blob = await artifactsApi().getBlob(artifactId);
      if (!blob) throw new Error('This image is no longer in storage.');
      useSource({ kind: 'artifact', artifactId, name: basename(name), blob });
    } catch (err) {
      resetJob();
      fail(`Could not open the gallery image: ${plainError(err)}`);
    }
  };

  /** Shown when something that is not an image is picked or dropped. */
  const rejectInput = (message: string) => {
    if (busy()) {
      setError(message);
      return;
    }
    resetJob();
    fail(message);
  };

  const finish = async (result: JobResult, gen: number) => {
    if (!result.success) {
      fail(`The upscale failed: ${plainError(result.error ?? 'unknown error')}`);
      return;
    }
    const fromData = result.data?.upscaled_artifact;
    const artifactId =
      typeof fromData === 'string' ? fromData : (lastArtifact ?? result.artifacts[result.artifacts.length - 1]);
    if (!artifactId) {
      fail('The upscale finished but produced no image.');
      return;
    }
    try {
      const api = artifactsApi();
      const [blob, summary] = await Promise.all([
        api.getBlob(artifactId),
        api.get(artifactId).catch(() => undefined),
      ]);
      if (gen !== generation) return;
      if (!blob) {
        fail('The upscaled image could not be found in storage.');
        return;
      }
      const stageMeta = Object.values(result.metadata ?? {}).find((meta) => 'output_size' in meta);
      const meta = asRecord(summary?.metadata);
      const params = asRecord(summary?.parameters);
      const outputSize = pickSize('output_size', meta, stageMeta);
      const totalMs = performance.now() - submittedAt;
      const ms = pickNumber('ms', meta, stageMeta) ?? progress()?.elapsedMs;
      batch(() => {
        replaceOutcome({
          artifactId,
          name: basename(summary?.name ?? `generated_upscaled.png`),
          url: URL.createObjectURL(blob),
          width: summary?.width || outputSize?.[0],
          height: summary?.height || outputSize?.[1],
          bytes: summary?.bytes ?? blob.size,
          ms,
          totalMs,
          backend: pickString('backend', meta, stageMeta),
          model: pickString('model', meta, stageMeta, params) ?? runModel,
          factor: pickNumber('upscale_factor', meta, stageMeta, params) ?? runFactor,
        });
        setPhase('done');
        setCancelling(false);
        setError(null);
      });
    } catch (err) {
      if (gen === generation) fail(`The upscaled image could not be loaded: ${plainError(err)}`);
    }
  };

  const handle = (event: JobEvent) => {
    const current = jobId();
    if (current === null) {
      // submit() has not returned the id yet: keep events to replay once it does.
      if (phase() === 'submitting') {
        buffered.push(event);
        if (buffered.length > 1000) buffered.shift();
      }
      return;
    }
    if (event.job_id !== current || TERMINAL.has(phase())) return;
    switch (event.type) {
      case 'queued':
        batch(() => {
          if (phase() === 'submitting') setPhase('queued');
          setQueuePosition(event.position);
        });
        break;
      case 'started':
        setPhase('running');
        break;
      case 'progress':
        batch(() => {
          setPhase('running');
          setProgress({
            stage: event.stage,
            step: event.step,
            total: event.total,
            elapsedMs: event.elapsed_ms,
            etaMs: event.eta_ms,
          });
        });
        break;
      case 'artifact':
        lastArtifact = event.artifact_id;
        break;
      case 'finished':
        void finish(event.result, generation);
        break;
      case 'failed':
        fail(`The upscale failed: ${plainError(event.error)}`);
        break;
      case 'cancelled':
        batch(() => {
          setPhase('cancelled');
          setCancelling(false);
        });
        break;
    }
  };
  listenJobEvents(handle);

  const run = async () => {
    const input = source();
    if (!input || busy()) return;
    resetJob();
    const gen = generation;
    runFactor = factor();
    runModel = model() || undefined;
    submittedAt = performance.now();
    setPhase('submitting');
    try {
      await jobEventsReady();
      const options =
        input.kind === 'file'
          ? { file: input.file, upscaleFactor: runFactor, model: runModel }
          : { artifactId: input.artifactId, upscaleFactor: runFactor, model: runModel };
      const { job_id } = await submitUpscale(options);
      if (gen !== generation) return;
      const pending = buffered;
      buffered = [];
      batch(() => {
        setJobId(job_id);
        setPhase('queued');
      });
      for (const event of pending) if (event.job_id === job_id) handle(event);
    } catch (err) {
      if (gen === generation) fail(`Could not start the upscale: ${plainError(err)}`);
    }
  };

  const cancel = async () => {
    const id = jobId();
    if (!id || !busy()) return;
    setCancelling(true);
    try {
      const accepted = await studio().cancel(id);
      // Not accepted: the job already ended; its own event says how.
      if (!accepted) setCancelling(false);
    } catch (err) {
      setCancelling(false);
      setError(`Could not cancel: ${plainError(err)}`);
    }
  };

  return {
    source,
    previewUrl,
    inputSize,
    setInputSize,
    previewBroken,
    setPreviewBroken,
    factor,
    setFactor,
    model,
    setModel: setModelChoice,
    upscalers,
    refetchUpscalers,
    modelsForFactor,
    wantModels: () => setModelsWanted(true),
    jobId,
    phase,
    busy,
    progress,
    queuePosition,
    cancelling,
    error,
    clearError: () => setError(null),
    outcome,
    useFile,
    useArtifact,
    rejectInput,
    run,
    cancel,
  };
}

export type EnhanceStore = ReturnType<typeof createEnhanceStore>;

let store: EnhanceStore | undefined;

/** The one Enhance store (created on first use, lives as long as the page). */
export function enhanceStore(): EnhanceStore {
  store ??= createRoot(() => createEnhanceStore());
  return store;
}
