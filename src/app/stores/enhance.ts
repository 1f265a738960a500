/**
 * State of the Enhance view, kept at module level so a running job survives switching views.
 * The job shown is followed through its handle and kept with the one job reducer; what may run
 * and what the result was are src/app/lib/enhance-form.ts's. Object URLs it creates (preview,
 * result) are revoked when replaced.
 */
import { batch, createMemo, createRoot, createSignal } from 'solid-js';
import { submitEnhance, type JobHandle } from '../../client/studio-client';
import type { JobEvent } from '../../protocol/events';
import type { JobResult } from '../../protocol/schemas';
import { basename, plainError } from '../format';
import { artifactsApi } from '../lib/artifacts';
import { buildEnhanceStages, enhanceOutcome, factorProblem, resultArtifact, runNoun, type EnhanceOutcome, type EnhanceRun } from '../lib/enhance-form';
import { newJob, reduceJob, type JobState } from '../lib/job-state';
import { modelLists } from './checkpoints';
import { createImageSource, type EnhanceSource } from './enhance-source';
import { createDetailSettings } from './enhance-detail';
import { createRefineSettings } from './enhance-refine';

/** The view's phase: the job's (see job-state.ts) until its result is loaded (`done`), or `idle`. */
export type EnhancePhase = 'idle' | 'submitting' | 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

const TERMINAL: ReadonlySet<EnhancePhase> = new Set(['idle', 'done', 'failed', 'cancelled', 'interrupted']);

function createEnhanceStore() {
  const image = createImageSource();
  const { source, inputSize } = image;
  const [factor, setFactor] = createSignal<number>(2);
  const [modelChoice, setModelChoice] = createSignal('');
  /** What the job shown was asked to do (set at submit). */
  const [runPlan, setRunPlan] = createSignal<EnhanceRun>({ stages: ['upscaler'], factor: 2, refine: null, detail: null });

  const [job, setJob] = createSignal<JobState | null>(null);
  const [phase, setPhase] = createSignal<EnhancePhase>('idle');
  const [cancelling, setCancelling] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [outcome, setOutcome] = createSignal<EnhanceOutcome | null>(null);

  // ---------- models (the page's one list) ----------
  const lists = modelLists();
  const modelsForFactor = createMemo(() => lists.upscalerList().filter((model) => model.scale === factor()));
  /** The user's pick if it fits the factor, else the bundled (or first) model for the factor. */
  const model = createMemo(() => {
    const models = modelsForFactor();
    const choice = modelChoice();
    return models.some((m) => m.name === choice) ? choice : ((models.find((m) => m.bundled) ?? models[0])?.name ?? '');
  });
  // The optional refiner (img2img) that runs before the upscaler.
  const refiner = createRefineSettings(lists, inputSize);
  // The optional detailer (faces/hands or a painted mask) that runs after it.
  const detailer = createDetailSettings(lists, source);
  const { alsoUpscale } = refiner;
  /** Upscaling alone, or "Then upscale" after refining / detailing. */
  const willUpscale = createMemo(() => (!refiner.refine() && !detailer.detail()) || alsoUpscale());
  /** Everything that stops the run: the refiner's, then the detailer's. */
  const runProblems = createMemo(() => [...refiner.refineProblems(), ...detailer.detailProblems()]);

  const busy = createMemo(() => !TERMINAL.has(phase()));
  const canRun = createMemo(
    () => source() !== null && !busy() && refiner.refineProblem() === null && detailer.detailProblem() === null && (willUpscale() || refiner.refine() || detailer.detail()),
  );

  // Bumped whenever a new job starts or the source changes; stale async work checks it.
  let generation = 0;
  let handle: JobHandle | null = null;
  let detach: (() => void) | null = null;
  let submittedAt = 0;
  const noun = () => runNoun(runPlan().stages);

  const replaceOutcome = (next: EnhanceOutcome | null) => {
    const old = outcome();
    if (old && old.url !== next?.url) URL.revokeObjectURL(old.url);
    setOutcome(next);
  };

  /** Stops showing the job (it keeps running; its result goes to the gallery). */
  const resetJob = () => {
    generation++;
    detach?.();
    detach = null;
    handle = null;
    batch(() => {
      setJob(null);
      setPhase('idle');
      setCancelling(false);
      setError(null);
      replaceOutcome(null);
    });
  };

  const fail = (message: string) =>
    batch(() => {
      setPhase('failed');
      setCancelling(false);
      setError(message);
    });

  /** Replaces the picked image. A job already running keeps running; its result goes to the gallery. */
  const useSource = (next: EnhanceSource) => {
    resetJob();
    detailer.clearFound();
    detailer.clearMask();
    image.use(next);
  };

  const useFile = (file: File) => useSource({ kind: 'file', file, name: file.name || 'image' });

  /** Takes an artifact from the gallery as the input image. */
  const useArtifact = async (artifactId: string, name: string) => {
    try {
      const blob = await artifactsApi().getBlob(artifactId);
      if (!blob) throw new Error('This image is no longer in storage.');
      useSource({ kind: 'artifact', artifactId, name: basename(name), blob });
      const summary = await artifactsApi()
        .get(artifactId)
        .catch(() => undefined);
      if (summary) await detailer.restoreMaskOf(summary);
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

  /** Loads the finished job's image and what its stages reported. */
  const finish = async (result: JobResult, gen: number) => {
    const run = runPlan();
    const artifactId = resultArtifact(result, run, job()?.artifacts.at(-1));
    if (!artifactId) return fail(`The ${noun()} finished but produced no image.`);
    try {
      const api = artifactsApi();
      const [blob, summary] = await Promise.all([api.getBlob(artifactId), api.get(artifactId).catch(() => undefined)]);
      if (gen !== generation) return;
      if (!blob) return fail(`The ${noun() === 'refine' ? 'refined' : 'upscaled'} image could not be found in storage.`);
      const found = { artifactId, summary, blobSize: blob.size, url: URL.createObjectURL(blob), totalMs: performance.now() - submittedAt };
      batch(() => {
        replaceOutcome(enhanceOutcome(result, run, { ...found, elapsedMs: job()?.progress?.elapsedMs }));
        setPhase('done');
        setCancelling(false);
        setError(null);
      });
    } catch (err) {
      if (gen === generation) fail(`The result could not be loaded: ${plainError(err)}`);
    }
  };

  /** The shown job's events, through the one job reducer. */
  const apply = (event: JobEvent, gen: number) => {
    const before = job();
    if (gen !== generation || !before || TERMINAL.has(phase())) return;
    const next = reduceJob(before, event, performance.now());
    if (next === before) return;
    setJob(next);
    switch (next.phase) {
      case 'queued':
      case 'running':
        setPhase(next.phase);
        break;
      case 'succeeded':
        void finish(next.result!, gen);
        break;
      case 'failed':
        fail(`The ${noun()} failed: ${plainError(next.error ?? 'unknown error')}`);
        break;
      case 'cancelled':
        batch(() => {
          setPhase('cancelled');
          setCancelling(false);
        });
        break;
      case 'interrupted':
        fail(`The ${noun()} was interrupted: the tab that ran it was closed.`);
        break;
    }
  };

  const run = async () => {
    const input = source();
    if (!input || busy()) return;
    const problems = runProblems();
    if (problems.length) {
      // The button is disabled then; this is for Enter in a field.
      setError(problems.map((p) => p.message).join(' '));
      return;
    }
    resetJob();
    const gen = generation;
    const plan: EnhanceRun = { stages: [], factor: factor(), model: model() || undefined, refine: refiner.refineChoice(), detail: detailer.detailChoice() };
    const stages = buildEnhanceStages({
      refine: plan.refine,
      detail: plan.detail,
      upscale: willUpscale() ? { factor: plan.factor, model: plan.model } : null,
    });
    plan.stages = stages.map((stage) => stage.stage_type);
    setRunPlan(plan);
    // A factor the stage would refuse (only a hand-edited page offers one) is refused here, in its words.
    const badFactor = willUpscale() ? factorProblem(plan.factor) : null;
    if (badFactor) return fail(`The ${noun()} cannot run: ${badFactor}.`);
    submittedAt = performance.now();
    setPhase('submitting');
    try {
      const image = input.kind === 'file' ? { file: input.file } : { artifactId: input.artifactId };
      const mask = await detailer.maskForRun();
      if (plan.detail?.mode === 'mask' && !mask) return fail('Paint over what to redraw first: the mask is empty.');
      const submitted = await submitEnhance({ ...image, ...(mask ? { mask } : {}) }, stages);
      if (gen !== generation) return;
      handle = submitted;
      batch(() => {
        setJob(newJob(submitted.id, submittedAt, { kind: 'enhance', phase: 'queued' }));
        setPhase('queued');
      });
      detach = submitted.on((event) => apply(event, gen));
    } catch (err) {
      if (gen === generation) fail(`Could not start the ${noun()}: ${plainError(err)}`);
    }
  };

  const cancel = async () => {
    if (!handle || !busy()) return;
    setCancelling(true);
    try {
      // Not accepted: the job already ended; its own event says how.
      if (!(await handle.cancel())) setCancelling(false);
    } catch (err) {
      setCancelling(false);
      setError(`Could not cancel: ${plainError(err)}`);
    }
  };

  return {
    source,
    previewUrl: image.previewUrl,
    inputSize,
    setInputSize: image.setInputSize,
    previewBroken: image.previewBroken,
    setPreviewBroken: image.setPreviewBroken,
    factor,
    setFactor,
    model,
    setModel: setModelChoice,
    upscalers: lists.upscalers,
    modelsForFactor,
    /** Lists the models (once), and re-lists the checkpoints: one may have been imported since. */
    wantModels: lists.want,
    ...refiner,
    willUpscale,
    ...detailer,
    canRun,
    runStages: () => runPlan().stages,
    jobId: () => job()?.id ?? null,
    phase,
    busy,
    progress: () => job()?.progress ?? null,
    /** When the job started running (performance.now()), or null. */
    startedAt: () => job()?.timings.started ?? null,
    /** What the job is doing between steps (e.g. building a checkpoint's graphs), until the next step. */
    activity: () => job()?.activity ?? null,
    queuePosition: () => job()?.position ?? null,
    cancelling,
    error,
    clearError: () => setError(null),
    outcome,
    useFile,
    useArtifact,
    /** Stops showing the result (back to the picked image, e.g. to paint the mask again). */
    dismissResult: () => {
      if (!busy()) resetJob();
    },
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
