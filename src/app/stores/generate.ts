/**
 * State of the Generate view, kept at module level so the form and a running job survive
 * switching views. The form holds text as typed (src/app/lib/generate-form.ts checks it on
 * submit, so a half-typed value never turns into a silent default); each submit becomes one job
 * in the studio's queue, followed through its handle. The view shows the job that runs (its
 * progress, live preview and ETA), else the next one waiting, else the one that ended last; every
 * finished job's images stay on the view until dismissed. Other views fill the form through
 * `applyParameters` / `reuseArtifact`.
 */
import { batch, createEffect, createMemo, createRoot, createSignal, on } from 'solid-js';
import { createStore, unwrap } from 'solid-js/store';
import { submitGenerate } from '../../client/generate';
import { studio, type JobHandle } from '../../client/studio-client';
import type { PreviewImage } from '../../protocol/events';
import { SCHEDULER_NAMES, UPSCALE_FACTORS, type PipelineConfigInput, type SchedulerName } from '../../protocol/pipeline-config';
import type { ArtifactSummary } from '../../protocol/schemas';
import { asRecord, plainError } from '../format';
import { checkGenerateForm, firstError, INITIAL_FORM, initialDetailerText, modelDefaultsPatch, type FieldErrors, type GenerateFormText } from '../lib/generate-form';
import { applyLoaded } from '../lib/generate-load';
import { restoreForm, saveForm, type KeyValueStore } from '../lib/form-persistence';
import {
  buildPipelineConfig,
  fromMediaLabMetadata,
  fromPipelineConfig,
  oneOfBatch,
  modelFixedSize,
  ParametersError,
  parsePipelineConfigText,
  readPngParameters,
  SOURCE_LABELS,
  type LoadedParameters,
} from '../lib/generation-parameters';
import { isTerminal, newJob, reduceJob, type JobState } from '../lib/job-state';
import { seedOfResult } from '../lib/stage-metadata';
import { modelLists } from './checkpoints';

export type { FieldErrors };

/** A job this view submitted: its state (the one reducer's) and what the view knows of it. */
export interface GenerateJob extends JobState {
  /** Stage names in order (for "stage 2 of 3"). */
  stages: string[];
  width: number;
  height: number;
  /** The seed it runs with: fixed by the user, or drawn by the worker (known once queued). */
  seed?: number;
  seedDrawn: boolean;
  cancelling?: boolean;
  /** The prompt, to label the job's results. */
  prompt: string;
  /** Submit order (1, 2, …): the newest waiting job, the newest results first. */
  order: number;
}

/** What the last load (PNG, config, gallery) did, shown above the form. */
export interface LoadNotice {
  origin: string;
  source?: string;
  loaded: string[];
  unmapped: string[];
  error?: string;
}

/** A fresh seed in [0, 2^32): what the dice gives. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

const initialForm = (): GenerateFormText => ({
  prompt: '',
  negativePrompt: '',
  scheduler: INITIAL_FORM.scheduler,
  karras: false,
  steps: INITIAL_FORM.steps,
  cfg: INITIAL_FORM.cfg,
  seedText: '',
  seedLocked: false,
  variationSeed: '',
  variationStrength: '0',
  width: INITIAL_FORM.side,
  height: INITIAL_FORM.side,
  batchSize: INITIAL_FORM.batch,
  emphasis: INITIAL_FORM.emphasis,
  hires: { on: false, scale: INITIAL_FORM.hiresScale, upscaler: INITIAL_FORM.hiresUpscaler, strength: INITIAL_FORM.hiresStrength, steps: '' },
  refiner: { on: false, strength: INITIAL_FORM.refinerStrength, model: '', steps: '' },
  detailer: initialDetailerText(),
  upscale: { on: false, factor: INITIAL_FORM.upscaleFactor, model: '' },
});

/** This tab's storage, then the last form of any tab (none in Node, or where storage is blocked). */
function formStores(): KeyValueStore[] {
  try {
    return typeof window === 'undefined' ? [] : [window.sessionStorage, window.localStorage];
  } catch {
    return [];
  }
}

/** How long typing pauses before the form is saved. */
const SAVE_FORM_DELAY_MS = 300;

function createGenerateStore() {
  // ---------- the form (restored after a reload; a new tab starts from the last one used) ----------
  const restored = restoreForm(formStores(), initialForm());
  const [form, setForm] = createStore<GenerateFormText>(restored?.form ?? initialForm());
  const [modelChoice, setModelChoice] = createSignal(restored?.model ?? '');
  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  createEffect(() => {
    const snapshot = JSON.stringify(form); // reads every field: any change saves
    const choice = modelChoice();
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => saveForm(formStores(), { form: JSON.parse(snapshot) as GenerateFormText, model: choice }), SAVE_FORM_DELAY_MS);
  });
  const [fieldErrors, setFieldErrors] = createSignal<FieldErrors>({});
  const [error, setError] = createSignal<string | null>(null);
  const [notice, setNotice] = createSignal<LoadNotice | null>(null);
  /** Set when switching models changed steps / CFG / sampler / size. */
  const [defaultsNote, setDefaultsNote] = createSignal<string | null>(null);

  // ---------- models (the page's one checkpoint list) ----------
  const lists = modelLists();
  const usableModels = lists.verified;
  /** The user's pick if it is usable, else the first usable checkpoint. */
  const model = createMemo(() => {
    const choice = modelChoice();
    const usable = usableModels();
    return usable.some((m) => m.name === choice) ? choice : (usable[0]?.name ?? '');
  });
  const modelInfo = createMemo(() => usableModels().find((m) => m.name === model()));
  const fixedSize = createMemo(() => modelFixedSize(modelInfo()));

  let skipDefaults = false;
  // A newly picked model brings its defaults, unless it came with loaded parameters.
  createEffect(
    on(model, (name, previous) => {
      if (!name || name === previous) return;
      if (skipDefaults) {
        skipDefaults = false;
        return;
      }
      // The first model is picked when the list arrives: what the user typed before that stays.
      const { patch, changed } = modelDefaultsPatch(modelInfo()?.family, modelFixedSize(modelInfo()), form, !previous);
      setForm(patch);
      const said = changed.join(', ');
      setDefaultsNote(!said ? null : previous !== undefined ? `Set to ${name}'s defaults: ${said}.` : `${name}'s defaults: ${said}.`);
    }),
  );

  // ---------- jobs ----------
  const [jobs, setJobs] = createStore<Record<string, GenerateJob>>({});
  /** The job submitted last: the seed box follows it. */
  const [lastId, setLastId] = createSignal<string | null>(null);
  /** A job the user opened from the queue; shown until the next submit. */
  const [focusId, setFocusId] = createSignal<string | null>(null);
  /** Ended jobs the user dismissed from the view. */
  const [dismissed, setDismissed] = createSignal<ReadonlySet<string>>(new Set());
  const [submitting, setSubmitting] = createSignal(0);
  const [preview, setPreview] = createSignal<{ jobId: string; image: PreviewImage } | null>(null);
  const handles = new Map<string, JobHandle>();
  let submitted = 0;
  const byOrder = createMemo(() => Object.values(jobs).sort((a, b) => b.order - a.order));
  const running = createMemo(() => byOrder().filter((j) => !isTerminal(j.phase)).length);
  /**
   * The job the panel shows: the one opened from the queue, else the one running (not the last
   * submitted: with three queued, that one only waits), else the next to run, else, unless a
   * new submit is on its way, the one that ended last, until dismissed.
   */
  const current = createMemo((): GenerateJob | undefined => {
    const focused = focusId();
    if (focused && jobs[focused] && !dismissed().has(focused)) return jobs[focused];
    const all = byOrder();
    const active = all.filter((j) => !isTerminal(j.phase));
    if (active.length) return active.find((j) => j.phase === 'running') ?? active[active.length - 1];
    if (submitting() > 0) return undefined;
    // Once the latest is dismissed the panel is empty; earlier results stay in their list.
    const latest = [...all].sort((a, b) => (b.timings.finished ?? 0) - (a.timings.finished ?? 0))[0];
    return latest && !dismissed().has(latest.id) ? latest : undefined;
  });
  /** Every other finished job with images, newest first, until dismissed. */
  const results = createMemo(() => {
    const shown = current()?.id;
    return byOrder().filter((j) => j.phase === 'succeeded' && j.artifacts.length > 0 && j.id !== shown && !dismissed().has(j.id));
  });
  const dismiss = (id: string) => {
    if (!jobs[id] || !isTerminal(jobs[id].phase)) return;
    batch(() => {
      setDismissed((set) => new Set(set).add(id));
      if (focusId() === id) setFocusId(null);
    });
  };
  const dismissAll = () => {
    batch(() => {
      setDismissed(new Set(byOrder().filter((j) => isTerminal(j.phase)).map((j) => j.id)));
      setFocusId(null);
    });
  };

  /** Applies the job's events (the one reducer), its previews and, at the end, the seed it ran with. */
  const follow = (handle: JobHandle) =>
    handle.on((event) => {
      const id = handle.id;
      if (!jobs[id]) return;
      const before = { ...unwrap(jobs[id]) };
      const next = reduceJob(before, event, performance.now());
      if (next === before) return;
      batch(() => {
        setJobs(id, { ...next, cancelling: !isTerminal(next.phase) && before.cancelling });
        if (event.type === 'progress' && event.preview) setPreview({ jobId: id, image: event.preview });
        if (event.type !== 'finished') return;
        const seed = seedOfResult(event.result) ?? before.seed;
        setJobs(id, 'seed', seed);
        // The seed actually used is shown in the seed box (unlocked: the next run draws again).
        if (id === lastId() && before.seedDrawn && seed !== undefined && !form.seedLocked) setForm('seedText', String(seed));
      });
    });

  const check = (forSave = false) =>
    checkGenerateForm(form, {
      model: model(),
      registeredCount: lists.all().length,
      usableModels: usableModels().map((m) => m.name),
      fixedSize: fixedSize(),
      forSave,
    });

  /** Checks the form and queues a job; true when one was queued. */
  const run = async (): Promise<boolean> => {
    // Right after a load the model list may still be on its way: an empty list then means
    // "not known yet", not "none registered", so wait for it (the panel says it is sending).
    if (!lists.loaded()) {
      setSubmitting((n) => n + 1);
      try {
        await lists.ensure();
      } finally {
        setSubmitting((n) => n - 1);
      }
    }
    if (lists.checkpoints.error) {
      setError(`Could not list the models: ${plainError(lists.checkpoints.error)}`);
      return false;
    }
    const { form: values, errors } = check();
    setFieldErrors(errors);
    if (!values) {
      setError(firstError(errors));
      return false;
    }
    // Until the new job is known the panel says so (unless another job runs), rather than showing the previous job.
    batch(() => {
      setError(null);
      setFocusId(null);
      setDefaultsNote(null);
    });
    const config = buildPipelineConfig(values);
    const submittedAt = performance.now();
    setSubmitting((n) => n + 1);
    try {
      const handle = await submitGenerate(config);
      handles.set(handle.id, handle);
      const job: GenerateJob = {
        ...newJob(handle.id, submittedAt, { kind: 'generate', phase: 'queued' }),
        stages: config.stages.map((s) => s.name ?? s.stage_type),
        width: values.width,
        height: values.height,
        seed: values.seed,
        seedDrawn: values.seed === undefined,
        prompt: values.prompt,
        order: ++submitted,
      };
      batch(() => {
        setJobs(handle.id, job);
        setLastId(handle.id);
      });
      follow(handle);
      void handle.result.then(() => handles.delete(handle.id));
      if (job.seedDrawn) void learnDrawnSeed(handle.id);
      return true;
    } catch (err) {
      setError(`Could not start the generation: ${plainError(err)}`);
      return false;
    } finally {
      setSubmitting((n) => n - 1);
    }
  };

  /** The worker draws a missing seed when it queues the job and stores it with the request. */
  const learnDrawnSeed = async (id: string) => {
    try {
      const summary = await studio().getJob(id);
      const seed = asRecord(asRecord(summary?.request)?.input_data)?.seed;
      if (typeof seed === 'number' && jobs[id] && jobs[id].seed === undefined) setJobs(id, 'seed', seed);
    } catch {
      // The result will say it.
    }
  };

  const cancel = async (id = current()?.id) => {
    const handle = id ? handles.get(id) : undefined;
    if (!id || !handle || !jobs[id] || isTerminal(jobs[id].phase)) return;
    setJobs(id, 'cancelling', true);
    try {
      // Not accepted: the job already ended; its own event says how.
      if (!(await handle.cancel())) setJobs(id, 'cancelling', false);
    } catch (err) {
      setJobs(id, 'cancelling', false);
      setError(`Could not cancel: ${plainError(err)}`);
    }
  };

  // ---------- seed ----------
  const lastJob = () => {
    const id = lastId();
    return id ? jobs[id] : undefined;
  };
  const rollSeed = () => setForm({ seedText: String(randomSeed()), seedLocked: true });
  const typeSeed = (text: string) => setForm({ seedText: text, seedLocked: text.trim() !== '' });
  const toggleSeedLock = (locked: boolean) =>
    setForm({ seedLocked: locked, ...(locked && form.seedText.trim() === '' ? { seedText: String(lastJob()?.seed ?? randomSeed()) } : {}) });

  // ---------- loading parameters ----------

  /** Fills the form from loaded parameters; returns the notice shown. */
  const applyParameters = (loaded: LoadedParameters, origin: string): LoadNotice => {
    const extras = lists.extraNetworks();
    const out = applyLoaded(unwrap(form), loaded, {
      usableModels: usableModels().map((m) => m.name),
      currentModel: model(),
      upscalers: lists.upscalerList().map((u) => u.name),
      ...(lists.extraNetworksLoaded()
        ? { loras: extras.filter((m) => m.model_type === 'lora').map((m) => m.name), embeddings: extras.filter((m) => m.model_type === 'embedding').map((m) => m.name) }
        : {}),
    });
    batch(() => {
      setForm(out.form);
      if (out.model) {
        if (out.model !== model()) skipDefaults = true;
        setModelChoice(out.model);
      }
      setFieldErrors({});
      setError(null);
      setDefaultsNote(null);
    });
    const result: LoadNotice = { origin, source: SOURCE_LABELS[loaded.source], loaded: out.loaded, unmapped: out.unmapped };
    setNotice(result);
    return result;
  };

  const loadFailed = (origin: string, err: unknown) => {
    const message = err instanceof ParametersError || err instanceof Error ? plainError(err) : String(err);
    setNotice({ origin, loaded: [], unmapped: [], error: message });
  };

  /** A PNG from this app, A1111 or ComfyUI. */
  const loadPng = async (file: File) => {
    try {
      await lists.ensure();
      const bytes = new Uint8Array(await file.arrayBuffer());
      applyParameters(readPngParameters(bytes), file.name);
    } catch (err) {
      loadFailed(file.name, err);
    }
  };

  /** A saved pipeline config (JSON). */
  const loadConfig = async (file: File) => {
    try {
      if (file.size > 1024 * 1024) throw new ParametersError(`the file is ${Math.round(file.size / 1024)} KB; a pipeline config is at most 1 MB`);
      const text = await file.text();
      await lists.ensure();
      applyParameters(parsePipelineConfigText(text), file.name);
    } catch (err) {
      loadFailed(file.name, err);
    }
  };

  /** Gallery "reuse parameters": the job's whole pipeline when it is still recorded, else the image's own. */
  const reuseArtifact = async (artifact: ArtifactSummary) => {
    const origin = artifact.name.split('/').pop() ?? artifact.name;
    try {
      await lists.ensure();
      const job = await studio()
        .getJob(artifact.job_id)
        .catch(() => undefined);
      const request = asRecord(job?.request);
      if (job?.kind === 'generate' && request?.pipeline_config) {
        try {
          // The job's whole pipeline, as this image of it was made (its own seed, batch 1).
          const loaded = fromPipelineConfig(request.pipeline_config, asRecord(request.input_data) ?? {}, 'media-lab');
          applyParameters(oneOfBatch(asRecord(artifact.metadata) ?? {}, loaded), origin);
          return;
        } catch {
          // Fall back to the image's own metadata.
        }
      }
      applyParameters(fromMediaLabMetadata(artifact.metadata), origin);
    } catch (err) {
      loadFailed(origin, err);
    }
  };

  /** The current pipeline config for saving, or an error message. */
  const configForSave = (): { config: PipelineConfigInput } | { error: string } => {
    const { form: values, errors } = check(true);
    if (!values) {
      setFieldErrors(errors);
      return { error: `Fix the form before saving: ${firstError(errors)}` };
    }
    const config = buildPipelineConfig(values);
    if (!values.model) delete (config.stages[0].parameters as Record<string, unknown>).model;
    return { config };
  };

  return {
    // form: values as typed, set with `setForm('steps', '20')`
    form,
    setForm,
    model,
    setModel: setModelChoice,
    setScheduler: (v: string) => {
      if ((SCHEDULER_NAMES as readonly string[]).includes(v)) setForm('scheduler', v as SchedulerName);
    },
    setUpscaleFactor: (v: number) => {
      if ((UPSCALE_FACTORS as readonly number[]).includes(v)) setForm('upscale', { factor: v, model: '' });
    },
    typeSeed,
    toggleSeedLock,
    rollSeed,
    fieldErrors,
    clearFieldError: (key: keyof FieldErrors) => {
      if (fieldErrors()[key]) setFieldErrors(({ [key]: _, ...rest }) => rest);
    },
    error,
    setError,
    notice,
    dismissNotice: () => setNotice(null),
    defaultsNote,
    // models
    checkpointsError: () => lists.checkpoints.error as unknown,
    allCheckpoints: lists.all,
    usableModels,
    modelInfo,
    fixedSize,
    modelsLoaded: lists.loaded,
    upscalerModels: lists.upscalerList,
    wantModels: lists.want,
    // jobs
    jobs,
    current,
    results,
    dismiss,
    dismissAll,
    focus: (id: string) => {
      if (!jobs[id]) return;
      batch(() => {
        setFocusId(id);
        setDismissed((set) => {
          if (!set.has(id)) return set;
          const next = new Set(set);
          next.delete(id);
          return next;
        });
      });
    },
    submitting: () => submitting() > 0,
    running,
    preview,
    run,
    cancel,
    // loading and saving
    applyParameters,
    loadPng,
    loadConfig,
    reuseArtifact,
    configForSave,
  };
}

export type GenerateStore = ReturnType<typeof createGenerateStore>;

let store: GenerateStore | undefined;

/** The one Generate store (created on first use, lives as long as the page). */
export function generateStore(): GenerateStore {
  store ??= createRoot(() => createGenerateStore());
  return store;
}
