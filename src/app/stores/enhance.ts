/**
 * State of the Enhance view, kept at module level so a running job survives switching views.
 * Object URLs it creates (preview, result) are revoked when replaced.
 */
import { batch, createMemo, createResource, createRoot, createSignal } from 'solid-js';
import {
  connectStudio,
  studio,
  submitEnhance,
  upscalerStageRequest,
  type StageRequest,
} from '../../client/studio-client';
import { readImageHeader } from '../../media/image-header';
import type { JobEvent } from '../../protocol/events';
import type { ModelInfo } from '../../protocol/models';
import type { JobResult, UpscalerModelInfo } from '../../protocol/schemas';
import { artifactsApi } from '../lib/artifacts';
import { modelsApi } from '../lib/models';
import { asRecord, basename, formatSize, pickNumber, pickSize, pickString, plainError } from '../format';
import { jobEventsReady, listenJobEvents } from './job-events';

export const UPSCALE_FACTORS = [2, 3, 4, 8] as const;

/** The refiner's default denoising strength (the stage's own default). */
export const REFINE_DEFAULT_STRENGTH = 0.3;
/** The refiner works on latents (1/8 of the image): both sides must be multiples of this. */
export const REFINE_MULTIPLE = 8;

/** What the user chose for the optional refiner (img2img) stage. */
export interface RefineChoice {
  /** A verified checkpoint's registry name. */
  model: string;
  strength: number;
  prompt: string;
  /** Absent = the checkpoint's default steps. */
  steps?: number;
}

/** The stages of one enhance job, in the order they run. */
export interface EnhancePlan {
  refine: RefineChoice | null;
  upscale: { factor: number; model?: string } | null;
}

/** The seed's StageConfig list for a plan: refiner first (if any), then the upscaler (if any). */
export function buildEnhanceStages(plan: EnhancePlan): StageRequest[] {
  const stages: StageRequest[] = [];
  if (plan.refine) {
    const parameters: Record<string, unknown> = { strength: plan.refine.strength };
    if (plan.refine.model) parameters.model = plan.refine.model;
    const prompt = plan.refine.prompt.trim();
    if (prompt) parameters.prompt = prompt;
    if (plan.refine.steps !== undefined) parameters.steps = plan.refine.steps;
    stages.push({ stage_type: 'refiner', parameters });
  }
  if (plan.upscale) stages.push(upscalerStageRequest(plan.upscale.factor, plan.upscale.model));
  return stages;
}

/** Why an image of this size cannot be refined, or null. */
export function refineSizeProblem(size: { width: number; height: number }): string | null {
  const { width, height } = size;
  if (width % REFINE_MULTIPLE === 0 && height % REFINE_MULTIPLE === 0) return null;
  const down = (v: number) => Math.max(REFINE_MULTIPLE, Math.floor(v / REFINE_MULTIPLE) * REFINE_MULTIPLE);
  const up = (v: number) => Math.ceil(v / REFINE_MULTIPLE) * REFINE_MULTIPLE;
  return (
    `This image is ${formatSize(width, height)}: the refiner needs a width and height that are multiples of ` +
    `${REFINE_MULTIPLE} (e.g. ${formatSize(down(width), down(height))} or ${formatSize(up(width), up(height))}). ` +
    `Crop or resize it first, or untick “Refine first” to only upscale.`
  );
}

/** The data key each stage stores its artifact id under. */
const ARTIFACT_KEY: Record<string, string> = { refiner: 'refined_artifact', upscaler: 'upscaled_artifact' };

/** A blocking reason for the refine settings; `model` ones come with a way to the Models view. */
export interface RefineProblem {
  kind: 'loading' | 'model' | 'size' | 'value';
  message: string;
}

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
  /** Time the stages spent working (from their metadata). */
  ms?: number;
  /** From submit to the result being loaded, as the user waited. */
  totalMs: number;
  backend?: string;
  model?: string;
  /** 1 when nothing was upscaled. */
  factor: number;
  /** The stage types that ran, in order (`refiner`, `upscaler`). */
  stages: string[];
  /** Set when the refiner ran. */
  refine?: { model?: string; strength?: number };
}

const TERMINAL: ReadonlySet<EnhancePhase> = new Set(['idle', 'done', 'failed', 'cancelled']);

function createEnhanceStore() {
  const [source, setSource] = createSignal<EnhanceSource | null>(null);
  const [previewUrl, setPreviewUrl] = createSignal<string | null>(null);
  const [previewBroken, setPreviewBroken] = createSignal(false);
  const [factor, setFactor] = createSignal<number>(2);
  const [modelChoice, setModelChoice] = createSignal('');
  // Size from the file header (known at once, also for files the browser cannot show) and from
  // the decoded preview (wins when both are known).
  const [headerSize, setHeaderSize] = createSignal<{ width: number; height: number } | null>(null);
  const [shownSize, setShownSize] = createSignal<{ width: number; height: number } | null>(null);
  const inputSize = createMemo(() => shownSize() ?? headerSize());

  // The optional refiner (img2img) that runs before the upscaler.
  const [refine, setRefine] = createSignal(false);
  const [refineModelChoice, setRefineModelChoice] = createSignal('');
  const [refineStrength, setRefineStrength] = createSignal(REFINE_DEFAULT_STRENGTH);
  const [refinePrompt, setRefinePrompt] = createSignal('');
  /** null = the checkpoint's default. */
  const [refineSteps, setRefineSteps] = createSignal<number | null>(null);
  const [alsoUpscale, setAlsoUpscale] = createSignal(true);
  /** The stage types of the job shown (set at submit). */
  const [runStages, setRunStages] = createSignal<string[]>(['upscaler']);

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

  const [checkpoints, { refetch: refetchCheckpoints }] = createResource(modelsWanted, async (): Promise<ModelInfo[]> => {
    await connectStudio();
    return modelsApi().list('checkpoint');
  });
  const verifiedCheckpoints = createMemo(() =>
    (checkpoints.error ? [] : (checkpoints.latest ?? [])).filter((m) => m.model_type === 'checkpoint' && m.status === 'verified'),
  );
  /** img2img starts by encoding the image: only checkpoints with a VAE encoder can refine. */
  const canRefineWith = (m: ModelInfo) => m.components.some((c) => c.role === 'vae_encoder');
  const refineModel = createMemo(() => {
    const usable = verifiedCheckpoints().filter(canRefineWith);
    const choice = refineModelChoice();
    return usable.some((m) => m.name === choice) ? choice : (usable[0]?.name ?? '');
  });
  const willUpscale = createMemo(() => !refine() || alsoUpscale());

  /** Everything that stops the refiner from running now (all of it, so one fix is not followed by another surprise). */
  const refineProblems = createMemo((): RefineProblem[] => {
    if (!refine()) return [];
    const problems: RefineProblem[] = [];
    if (checkpoints.error) {
      problems.push({ kind: 'model', message: `Could not list the checkpoints: ${plainError(checkpoints.error)}` });
    } else if (checkpoints.latest === undefined) {
      problems.push({ kind: 'loading', message: 'Looking for checkpoints…' });
    } else if (!refineModel()) {
      const all = checkpoints.latest.filter((m) => m.model_type === 'checkpoint');
      const verified = verifiedCheckpoints();
      let message: string;
      if (verified.length > 0) {
        message =
          'None of the imported checkpoints has a VAE encoder, which the refiner needs to start from an image ' +
          '(the SD-Turbo export for onnxruntime-web has none). Import a diffusers / Optimum ONNX folder with ' +
          'vae_encoder/ on the Models view (Import folder…).';
      } else if (all.length > 0) {
        message =
          `No checkpoint is ready: ${all.map((m) => `“${m.name}” is ${m.status === 'importing' ? 'still importing' : 'not verified'}`).join(', ')}. ` +
          'Check it on the Models view, or import another Stable Diffusion ONNX folder there (Import folder…).';
      } else {
        message =
          'Refining needs a Stable Diffusion checkpoint, and none is imported. Import an ONNX model folder on the ' +
          'Models view (Import folder…, or drop the folder there), then come back. Upscaling alone needs none.';
      }
      problems.push({ kind: 'model', message });
    }
    const size = inputSize();
    const sizeProblem = size ? refineSizeProblem(size) : null;
    if (sizeProblem) problems.push({ kind: 'size', message: sizeProblem });
    const strength = refineStrength();
    if (!Number.isFinite(strength) || strength < 0 || strength > 1) {
      problems.push({ kind: 'value', message: 'Strength must be a number from 0 to 1.' });
    }
    const steps = refineSteps();
    if (steps !== null && (!Number.isInteger(steps) || steps < 1 || steps > 150)) {
      problems.push({ kind: 'value', message: 'Steps must be a whole number from 1 to 150 (or empty for the model’s default).' });
    }
    return problems;
  });
  const refineProblem = createMemo(() => refineProblems()[0] ?? null);

  const busy = createMemo(() => !TERMINAL.has(phase()));
  const canRun = createMemo(() => source() !== null && !busy() && refineProblem() === null);

  // Bumped whenever a new job starts or the source changes; stale async work checks it.
  let generation = 0;
  let buffered: JobEvent[] = [];
  let lastArtifact: string | undefined;
  let submittedAt = 0;
  let sourceGeneration = 0;
  let runFactor = 2;
  let runModel: string | undefined;
  let runRefine: RefineChoice | null = null;
  /** What the job shown does, for messages: "upscale", "refine", "refine + upscale". */
  const runNoun = () => {
    const stages = runStages();
    return stages.length > 1 ? 'refine + upscale' : stages[0] === 'refiner' ? 'refine' : 'upscale';
  };

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
    const blob = next.kind === 'file' ? next.file : next.blob;
    const gen = ++sourceGeneration;
    batch(() => {
      replacePreview(URL.createObjectURL(blob));
      setShownSize(null);
      setHeaderSize(null);
      setPreviewBroken(false);
      setSource(next);
    });
    // The size from the header: enough to tell at once whether the refiner can take the image.
    // A file that cannot be read is explained by the worker when it runs; nothing to say here.
    void blob
      .slice(0, 1 << 20)
      .arrayBuffer()
      .then((bytes) => {
        const header = readImageHeader(new Uint8Array(bytes));
        if (gen === sourceGeneration) setHeaderSize({ width: header.width, height: header.height });
      })
      .catch(() => undefined);
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
    const noun = runNoun();
    if (!result.success) {
      fail(`The ${noun} failed: ${plainError(result.error ?? 'unknown error')}`);
      return;
    }
    // The result is the last stage's image.
    const stages = runStages();
    const last = stages[stages.length - 1] ?? 'upscaler';
    const fromData = result.data?.[ARTIFACT_KEY[last] ?? 'upscaled_artifact'];
    const artifactId =
      typeof fromData === 'string' ? fromData : (lastArtifact ?? result.artifacts[result.artifacts.length - 1]);
    if (!artifactId) {
      fail(`The ${noun} finished but produced no image.`);
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
        fail(`The ${noun === 'refine' ? 'refined' : 'upscaled'} image could not be found in storage.`);
        return;
      }
      const metadata = result.metadata ?? {};
      // Metadata is keyed by stage name, which is the stage type here (no names are set).
      const stageMeta = metadata[last] ?? Object.values(metadata).find((m) => 'output_size' in m);
      const refinerMeta = stages.includes('refiner') ? metadata.refiner : undefined;
      const meta = asRecord(summary?.metadata);
      const params = asRecord(summary?.parameters);
      const outputSize = pickSize('output_size', meta, stageMeta);
      const totalMs = performance.now() - submittedAt;
      const stageMs = stages.map((stage) => pickNumber('ms', metadata[stage]));
      const ms = stageMs.every((v) => v !== undefined)
        ? stageMs.reduce<number>((sum, v) => sum + v!, 0)
        : (pickNumber('ms', meta, stageMeta) ?? progress()?.elapsedMs);
      const upscaled = stages.includes('upscaler');
      batch(() => {
        replaceOutcome({
          artifactId,
          name: basename(summary?.name ?? (last === 'refiner' ? 'generated_refined.png' : 'generated_upscaled.png')),
          url: URL.createObjectURL(blob),
          width: summary?.width || outputSize?.[0],
          height: summary?.height || outputSize?.[1],
          bytes: summary?.bytes ?? blob.size,
          ms,
          totalMs,
          backend: pickString('backend', meta, stageMeta),
          model: pickString('model', meta, stageMeta, params) ?? (last === 'refiner' ? runRefine?.model : runModel),
          factor: upscaled ? (pickNumber('upscale_factor', upscaled ? metadata.upscaler : undefined, meta, params) ?? runFactor) : 1,
          stages,
          refine: stages.includes('refiner')
            ? {
                model: pickString('model', refinerMeta) ?? runRefine?.model,
                strength: pickNumber('strength', refinerMeta) ?? runRefine?.strength,
              }
            : undefined,
        });
        setPhase('done');
        setCancelling(false);
        setError(null);
      });
    } catch (err) {
      if (gen === generation) fail(`The result could not be loaded: ${plainError(err)}`);
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
        fail(`The ${runNoun()} failed: ${plainError(event.error)}`);
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
    const problems = refineProblems();
    if (problems.length) {
      // The button is disabled then; this is for Enter in a field.
      setError(problems.map((p) => p.message).join(' '));
      return;
    }
    resetJob();
    const gen = generation;
    runFactor = factor();
    runModel = model() || undefined;
    const steps = refineSteps();
    runRefine = refine()
      ? { model: refineModel(), strength: refineStrength(), prompt: refinePrompt(), ...(steps !== null ? { steps } : {}) }
      : null;
    const stages = buildEnhanceStages({
      refine: runRefine,
      upscale: willUpscale() ? { factor: runFactor, model: runModel } : null,
    });
    setRunStages(stages.map((stage) => stage.stage_type));
    submittedAt = performance.now();
    setPhase('submitting');
    try {
      await jobEventsReady();
      const image = input.kind === 'file' ? { file: input.file } : { artifactId: input.artifactId };
      const { job_id } = await submitEnhance(image, stages);
      if (gen !== generation) return;
      const pending = buffered;
      buffered = [];
      batch(() => {
        setJobId(job_id);
        setPhase('queued');
      });
      for (const event of pending) if (event.job_id === job_id) handle(event);
    } catch (err) {
      if (gen === generation) fail(`Could not start the ${runNoun()}: ${plainError(err)}`);
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
    setInputSize: setShownSize,
    previewBroken,
    setPreviewBroken,
    factor,
    setFactor,
    model,
    setModel: setModelChoice,
    upscalers,
    refetchUpscalers,
    modelsForFactor,
    /** Lists the models (once), and re-lists the checkpoints: one may have been imported since. */
    wantModels: () => {
      if (modelsWanted()) void refetchCheckpoints();
      else setModelsWanted(true);
    },
    refine,
    setRefine,
    refineModel,
    setRefineModel: setRefineModelChoice,
    refineStrength,
    setRefineStrength,
    refinePrompt,
    setRefinePrompt,
    refineSteps,
    setRefineSteps,
    alsoUpscale,
    setAlsoUpscale,
    willUpscale,
    checkpoints,
    verifiedCheckpoints,
    canRefineWith,
    refetchCheckpoints,
    refineProblems,
    refineProblem,
    canRun,
    runStages,
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
