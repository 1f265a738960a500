/**
 * State of the Generate view, kept at module level so the form and a running job survive
 * switching views. The form holds text as typed (numbers are parsed and checked on submit, so a
 * half-typed value never turns into a silent default); each submit becomes one job in the
 * studio's queue, and the view follows the one it submitted last (its progress, live preview
 * and images). Other views fill the form through `applyParameters` / `reuseArtifact`.
 */
import { batch, createEffect, createMemo, createResource, createRoot, createSignal, on, untrack } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import { submitGenerate } from '../../client/generate';
import { connectStudio, studio } from '../../client/studio-client';
import type { PipelineConfigInput } from '../../pipeline/config';
import type { JobEvent, PreviewImage } from '../../protocol/events';
import type { ModelInfo } from '../../protocol/models';
import type { ArtifactSummary, JobResult } from '../../protocol/schemas';
import { asRecord, plainError } from '../format';
import {
  buildPipelineConfig,
  DEFAULT_HIRES_STRENGTH,
  DEFAULT_REFINER_STRENGTH,
  describeLoaded,
  fromMediaLabMetadata,
  fromPipelineConfig,
  matchModelName,
  modelFixedSize,
  ParametersError,
  parsePipelineConfigText,
  readPngParameters,
  SCHEDULER_NAMES,
  SOURCE_LABELS,
  STAGE_NAMES,
  supportsKarras,
  UPSCALE_FACTORS,
  type Emphasis,
  type GenerateForm,
  type GenerationParameters,
  type LoadedParameters,
  type SchedulerName,
  type UpscaleFactor,
} from '../lib/generation-parameters';
import { modelsApi } from '../lib/models';
import { jobEventsReady, listenJobEvents } from './job-events';

export type GeneratePhase = 'submitting' | 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

const TERMINAL: ReadonlySet<GeneratePhase> = new Set(['done', 'failed', 'cancelled', 'interrupted']);

export interface GenerateProgress {
  stage: string;
  /** 1-based index of the stage in the job's pipeline, and how many it has. */
  stageIndex: number;
  stageCount: number;
  step: number;
  total: number;
  elapsedMs: number;
  etaMs?: number;
}

/** A job this view submitted. */
export interface GenerateJob {
  id: string;
  phase: GeneratePhase;
  position?: number;
  progress?: GenerateProgress;
  /** Stage names in order (for "stage 2 of 3"). */
  stages: string[];
  width: number;
  height: number;
  /** The seed it runs with: fixed by the user, or drawn by the worker (known once queued). */
  seed?: number;
  seedDrawn: boolean;
  artifacts: string[];
  error?: string;
  submittedAt: number;
  totalMs?: number;
  cancelling?: boolean;
}

/** What the last load (PNG, config, gallery) did, shown above the form. */
export interface LoadNotice {
  origin: string;
  source?: string;
  loaded: string[];
  unmapped: string[];
  error?: string;
}

export interface FieldErrors {
  prompt?: string;
  model?: string;
  steps?: string;
  cfg?: string;
  seed?: string;
  width?: string;
  height?: string;
  batch?: string;
  hires?: string;
  refiner?: string;
  upscaler?: string;
}

/** As the pipeline allows (A1111 stops at 150; a long run is useful to test and to compare). */
export const MAX_STEPS = 1000;
export const MAX_CFG = 30;
export const MIN_SIDE = 64;
export const MAX_SIDE = 2048;
export const MAX_BATCH = 8;
/** The upscaler stage's largest result (src/pipeline/stages/upscaler.ts). */
const MAX_OUTPUT_PIXELS = 8192 * 4096;
const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** A fresh seed in [0, 2^32): what the dice gives. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

const WHOLE = /^\s*\d+\s*$/;
const DECIMAL = /^\s*(\d+\.?\d*|\.\d+)\s*$/;

function parseWhole(text: string): number | undefined {
  return WHOLE.test(text) ? Number(text) : undefined;
}
function parseDecimal(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/** The seed a finished job ran with, from its result (data, else the first stage's metadata). */
function seedOfResult(result: JobResult): number | undefined {
  if (typeof result.data?.seed === 'number') return result.data.seed;
  for (const meta of Object.values(result.metadata ?? {})) if (typeof meta.seed === 'number') return meta.seed;
  return undefined;
}

/** The form's values before any model is known. */
const INITIAL = { scheduler: 'euler_a' as SchedulerName, steps: '20', cfg: '7' };

function createGenerateStore() {
  // ---------- the form ----------
  const [prompt, setPrompt] = createSignal('');
  const [negativePrompt, setNegativePrompt] = createSignal('');
  const [modelChoice, setModelChoice] = createSignal('');
  const [scheduler, setScheduler] = createSignal<SchedulerName>(INITIAL.scheduler);
  const [karras, setKarras] = createSignal(false);
  const [steps, setSteps] = createSignal(INITIAL.steps);
  const [cfg, setCfg] = createSignal(INITIAL.cfg);
  const [seedText, setSeedText] = createSignal('');
  const [seedLocked, setSeedLocked] = createSignal(false);
  const [width, setWidth] = createSignal('512');
  const [height, setHeight] = createSignal('512');
  const [batchSize, setBatchSize] = createSignal('1');
  const [emphasis, setEmphasis] = createSignal<Emphasis>('original');

  const [hiresOn, setHiresOn] = createSignal(false);
  const [hiresScale, setHiresScale] = createSignal('2');
  const [hiresUpscaler, setHiresUpscaler] = createSignal('latent');
  const [hiresStrength, setHiresStrength] = createSignal(String(DEFAULT_HIRES_STRENGTH));
  const [hiresSteps, setHiresSteps] = createSignal('');

  const [refinerOn, setRefinerOn] = createSignal(false);
  const [refinerStrength, setRefinerStrength] = createSignal(String(DEFAULT_REFINER_STRENGTH));
  const [refinerModel, setRefinerModel] = createSignal('');
  const [refinerSteps, setRefinerSteps] = createSignal('');

  const [upscaleOn, setUpscaleOn] = createSignal(false);
  const [upscaleFactor, setUpscaleFactor] = createSignal<UpscaleFactor>(2);
  const [upscaleModel, setUpscaleModel] = createSignal('');

  const [fieldErrors, setFieldErrors] = createSignal<FieldErrors>({});
  const [error, setError] = createSignal<string | null>(null);
  const [notice, setNotice] = createSignal<LoadNotice | null>(null);
  /** Set when switching models changed steps / CFG / sampler / size. */
  const [defaultsNote, setDefaultsNote] = createSignal<string | null>(null);

  // ---------- models ----------
  const [modelsWanted, setModelsWanted] = createSignal(0);
  const [checkpoints, { refetch: refetchCheckpoints }] = createResource(modelsWanted, async (): Promise<ModelInfo[]> => {
    await connectStudio();
    return modelsApi().list('checkpoint');
  });
  const [upscalerModels] = createResource(
    () => modelsWanted() > 0,
    async () => {
      await connectStudio();
      return studio().upscalers();
    },
  );
  const allCheckpoints = createMemo<ModelInfo[]>(() => (checkpoints.error ? [] : (checkpoints.latest ?? [])));
  const usableModels = createMemo(() => allCheckpoints().filter((m) => m.status === 'verified'));
  /** The user's pick if it is usable, else the first usable checkpoint. */
  const model = createMemo(() => {
    const choice = modelChoice();
    const usable = usableModels();
    return usable.some((m) => m.name === choice) ? choice : (usable[0]?.name ?? '');
  });
  const modelInfo = createMemo(() => usableModels().find((m) => m.name === model()));
  const fixedSize = createMemo(() => modelFixedSize(modelInfo()));
  const modelsLoaded = createMemo(() => checkpoints.state === 'ready' || checkpoints.state === 'refreshing' || !!checkpoints.error);

  /** A model's defaults for the fields they decide (family settings, fixed size). */
  const defaultsOf = (info: ModelInfo | undefined) => {
    const family = info?.family;
    const size = modelFixedSize(info);
    return {
      steps: family?.default_steps,
      cfg: family?.default_cfg,
      scheduler: family?.default_scheduler,
      size,
    };
  };

  let skipDefaults = false;
  // A newly picked model brings its defaults (an SD-Turbo wants 1 step and CFG 0; a fixed-size
  // export only one size), unless the model came with loaded parameters.
  createEffect(
    on(model, (name, previous) => {
      if (!name || name === previous) return;
      if (skipDefaults) {
        skipDefaults = false;
        return;
      }
      const d = defaultsOf(modelInfo());
      const changed: string[] = [];
      // The first model is picked when the list arrives: what the user typed before that stays
      // (a fixed-size export's size still wins, as it cannot make another).
      const mayChange = (value: string, initial: string) => Boolean(previous) || value === initial;
      batch(() => {
        const [s, c, sch] = [untrack(steps), untrack(cfg), untrack(scheduler)];
        if (d.steps !== undefined && String(d.steps) !== s && mayChange(s, INITIAL.steps)) (setSteps(String(d.steps)), changed.push(`${d.steps} steps`));
        if (d.cfg !== undefined && String(d.cfg) !== c && mayChange(c, INITIAL.cfg)) (setCfg(String(d.cfg)), changed.push(`CFG ${d.cfg}`));
        if (d.scheduler && d.scheduler !== sch && mayChange(sch, INITIAL.scheduler)) (setScheduler(d.scheduler), changed.push(d.scheduler));
        if (d.size && (String(d.size.width) !== untrack(width) || String(d.size.height) !== untrack(height))) {
          setWidth(String(d.size.width));
          setHeight(String(d.size.height));
          changed.push(`${d.size.width}×${d.size.height} (its only size)`);
        }
      });
      setDefaultsNote(changed.length && previous !== undefined ? `Set to ${name}'s defaults: ${changed.join(', ')}.` : changed.length ? `${name}'s defaults: ${changed.join(', ')}.` : null);
    }),
  );

  /** Resolves once the checkpoint list has loaded (or failed), so loaded names can be matched. */
  const ensureModels = (): Promise<void> => {
    if (modelsLoaded()) return Promise.resolve();
    if (untrack(modelsWanted) === 0) setModelsWanted(1);
    return new Promise<void>((resolve) => {
      createRoot((dispose) => {
        createEffect(() => {
          if (modelsLoaded()) {
            queueMicrotask(dispose);
            resolve();
          }
        });
      });
    });
  };

  // ---------- jobs ----------
  const [jobs, setJobs] = createStore<Record<string, GenerateJob>>({});
  const [currentId, setCurrentId] = createSignal<string | null>(null);
  const [submitting, setSubmitting] = createSignal(0);
  const [preview, setPreview] = createSignal<{ jobId: string; image: PreviewImage } | null>(null);
  const current = createMemo(() => {
    const id = currentId();
    return id ? jobs[id] : undefined;
  });
  const running = createMemo(() => Object.values(jobs).filter((j) => !TERMINAL.has(j.phase)).length);

  // Events that arrive before submit() returns the job's id are kept and replayed.
  let early: JobEvent[] = [];

  const stageIndex = (job: GenerateJob, stage: string) => Math.max(0, job.stages.indexOf(stage)) + 1;

  const update = (id: string, fields: Partial<GenerateJob>) => {
    if (jobs[id]) setJobs(id, fields);
  };

  const finish = (id: string, result: JobResult) => {
    const job = jobs[id];
    if (!job) return;
    const seed = seedOfResult(result) ?? job.seed;
    batch(() => {
      setJobs(
        id,
        produce((j) => {
          j.phase = 'done';
          j.artifacts = [...result.artifacts];
          j.seed = seed;
          j.totalMs = performance.now() - j.submittedAt;
          j.cancelling = false;
          if (j.progress) j.progress = { ...j.progress, step: j.progress.total };
        }),
      );
      // The seed actually used is shown in the seed box (unlocked: the next run draws again).
      if (id === currentId() && job.seedDrawn && seed !== undefined && !seedLocked()) setSeedText(String(seed));
    });
  };

  const handle = (event: JobEvent) => {
    const job = jobs[event.job_id];
    if (!job) {
      if (submitting() > 0) {
        early.push(event);
        if (early.length > 2000) early.shift();
      }
      return;
    }
    if (TERMINAL.has(job.phase)) return;
    switch (event.type) {
      case 'queued':
        update(job.id, { phase: job.phase === 'submitting' ? 'queued' : job.phase, position: event.position });
        break;
      case 'started':
        update(job.id, { phase: 'running', position: undefined });
        break;
      case 'progress':
        batch(() => {
          update(job.id, {
            phase: 'running',
            progress: {
              stage: event.stage,
              stageIndex: stageIndex(job, event.stage),
              stageCount: job.stages.length,
              step: event.step,
              total: event.total,
              elapsedMs: event.elapsed_ms,
              etaMs: event.eta_ms,
            },
          });
          if (event.preview) setPreview({ jobId: job.id, image: event.preview });
        });
        break;
      case 'artifact':
        if (!job.artifacts.includes(event.artifact_id)) setJobs(job.id, 'artifacts', (a) => [...a, event.artifact_id]);
        break;
      case 'finished':
        finish(job.id, event.result);
        break;
      case 'failed':
        update(job.id, { phase: 'failed', error: event.error, cancelling: false, totalMs: performance.now() - job.submittedAt });
        break;
      case 'cancelled':
        update(job.id, { phase: 'cancelled', cancelling: false });
        break;
      default: {
        const other = event as { type: string; error?: string };
        if (other.type === 'interrupted') update(job.id, { phase: 'interrupted', error: other.error, cancelling: false });
      }
    }
  };
  listenJobEvents(handle);

  // ---------- validation ----------

  interface Checked {
    form?: GenerateForm;
    errors: FieldErrors;
  }

  /** The form as a GenerateForm, or what is wrong with each field. `forSave` allows an empty prompt and no model. */
  const check = (forSave = false): Checked => {
    const errors: FieldErrors = {};
    const name = model();
    const info = modelInfo();
    if (!name && !forSave) {
      errors.model =
        allCheckpoints().length === 0
          ? 'No image model is registered. Import a Stable Diffusion checkpoint (an ONNX export) in the Models view first.'
          : 'None of the registered checkpoints is ready (verified); see the Models view.';
    }
    if (!forSave && prompt().trim() === '') errors.prompt = 'Write a prompt first: describe the image to make.';

    const stepsValue = parseWhole(steps());
    if (stepsValue === undefined || stepsValue < 1 || stepsValue > MAX_STEPS) errors.steps = `Steps must be a whole number from 1 to ${MAX_STEPS}.`;
    const cfgValue = parseDecimal(cfg());
    if (cfgValue === undefined || cfgValue > MAX_CFG) errors.cfg = `CFG must be a number from 0 to ${MAX_CFG}.`;

    let seed: number | undefined;
    if (seedLocked()) {
      const s = parseWhole(seedText());
      if (s === undefined || s > MAX_SEED) errors.seed = `The seed must be a whole number from 0 to ${MAX_SEED}.`;
      else seed = s;
    }

    const w = parseWhole(width());
    const h = parseWhole(height());
    const sideProblem = (v: number | undefined, what: string) =>
      v === undefined || v < MIN_SIDE || v > MAX_SIDE || v % 8 !== 0 ? `${what} must be a multiple of 8 from ${MIN_SIDE} to ${MAX_SIDE}.` : undefined;
    errors.width = sideProblem(w, 'Width');
    errors.height = sideProblem(h, 'Height');
    const fixed = fixedSize();
    if (!errors.width && !errors.height && fixed && (w !== fixed.width || h !== fixed.height)) {
      errors.width = `${name} only makes ${fixed.width}×${fixed.height} images (its UNet has a fixed size). Set the size to ${fixed.width}×${fixed.height}, or pick another model.`;
    }
    const batchValue = parseWhole(batchSize());
    if (batchValue === undefined || batchValue < 1 || batchValue > MAX_BATCH) errors.batch = `Batch must be a whole number from 1 to ${MAX_BATCH}.`;

    let hires: GenerateForm['hires_fix'] = null;
    if (hiresOn()) {
      const scale = parseDecimal(hiresScale());
      const strength = parseDecimal(hiresStrength());
      const hSteps = hiresSteps().trim() ? parseWhole(hiresSteps()) : undefined;
      if (scale === undefined || scale <= 1 || scale > 4) errors.hires = 'Hires fix scale must be more than 1 and at most 4.';
      else if (strength === undefined || strength > 1) errors.hires = 'Hires fix denoising strength must be from 0 to 1.';
      else if (hiresSteps().trim() && (hSteps === undefined || hSteps < 1 || hSteps > MAX_STEPS)) errors.hires = `Hires fix steps must be empty (same as above) or 1 to ${MAX_STEPS}.`;
      else if (fixed && w && h) errors.hires = `${name} only makes ${fixed.width}×${fixed.height} images, so it cannot refine a ${Math.round((w * scale) / 8) * 8}×${Math.round((h * scale) / 8) * 8} hires fix.`;
      else hires = { scale, upscaler: hiresUpscaler() || 'latent', strength, ...(hSteps !== undefined ? { steps: hSteps } : {}) };
    }

    let refiner: GenerateForm['refiner'] = null;
    if (refinerOn()) {
      const strength = parseDecimal(refinerStrength());
      const rSteps = refinerSteps().trim() ? parseWhole(refinerSteps()) : undefined;
      const rModel = refinerModel();
      if (strength === undefined || strength > 1) errors.refiner = 'Refiner strength must be from 0 to 1.';
      else if (refinerSteps().trim() && (rSteps === undefined || rSteps < 1 || rSteps > MAX_STEPS)) errors.refiner = `Refiner steps must be empty (same as above) or 1 to ${MAX_STEPS}.`;
      else if (rModel && !usableModels().some((m) => m.name === rModel)) errors.refiner = `The refiner model '${rModel}' is not a ready checkpoint.`;
      else refiner = { strength, ...(rModel ? { model: rModel } : {}), ...(rSteps !== undefined ? { steps: rSteps } : {}) };
    }

    let upscaler: GenerateForm['upscaler'] = null;
    if (upscaleOn()) {
      const factor = upscaleFactor();
      const scale = hires?.scale ?? 1;
      const pixels = (w ?? 0) * scale * factor * ((h ?? 0) * scale * factor);
      if (pixels > MAX_OUTPUT_PIXELS) errors.upscaler = `×${factor} would make ${Math.round((w ?? 0) * scale * factor)}×${Math.round((h ?? 0) * scale * factor)}; the largest upscale result is ${(MAX_OUTPUT_PIXELS / 1e6).toFixed(1)} MP.`;
      else upscaler = { factor, ...(upscaleModel() ? { model: upscaleModel() } : {}) };
    }

    for (const key of Object.keys(errors) as Array<keyof FieldErrors>) if (!errors[key]) delete errors[key];
    if (Object.keys(errors).length > 0) return { errors };
    return {
      errors,
      form: {
        prompt: prompt(),
        negative_prompt: negativePrompt(),
        model: name,
        ...(seed !== undefined ? { seed } : {}),
        steps: stepsValue!,
        guidance_scale: cfgValue!,
        scheduler: scheduler(),
        karras: karras() && supportsKarras(scheduler()),
        width: w!,
        height: h!,
        batch_size: batchValue!,
        emphasis: emphasis(),
        hires_fix: hires,
        refiner,
        upscaler,
      },
    };
  };

  const firstError = (errors: FieldErrors) => Object.values(errors).find(Boolean) ?? null;

  // ---------- running ----------

  const run = async () => {
    const { form, errors } = check();
    setFieldErrors(errors);
    if (!form) {
      setError(firstError(errors));
      return;
    }
    // Until the new job is known the panel says so, rather than showing the previous job.
    batch(() => {
      setError(null);
      setCurrentId(null);
      setDefaultsNote(null);
    });
    const config = buildPipelineConfig(form);
    const stages = config.stages.map((s) => s.name ?? s.stage_type);
    const submittedAt = performance.now();
    setSubmitting((n) => n + 1);
    try {
      await jobEventsReady();
      const { job_id } = await submitGenerate(config);
      const job: GenerateJob = {
        id: job_id,
        phase: 'queued',
        stages,
        width: form.width,
        height: form.height,
        seed: form.seed,
        seedDrawn: form.seed === undefined,
        artifacts: [],
        submittedAt,
      };
      batch(() => {
        setJobs(job_id, job);
        setCurrentId(job_id);
      });
      const pending = early.filter((e) => e.job_id === job_id);
      early = early.filter((e) => e.job_id !== job_id);
      for (const event of pending) handle(event);
      if (job.seedDrawn) void learnDrawnSeed(job_id);
    } catch (err) {
      setError(`Could not start the generation: ${plainError(err)}`);
    } finally {
      setSubmitting((n) => n - 1);
      if (submitting() === 0) early = [];
    }
  };

  /** The worker draws a missing seed when it queues the job and stores it with the request. */
  const learnDrawnSeed = async (id: string) => {
    try {
      const summary = await studio().getJob(id);
      const seed = asRecord(asRecord(summary?.request)?.input_data)?.seed;
      if (typeof seed === 'number' && jobs[id] && jobs[id].seed === undefined) update(id, { seed });
    } catch {
      // The result will say it.
    }
  };

  const cancel = async (id = currentId()) => {
    if (!id || !jobs[id] || TERMINAL.has(jobs[id].phase)) return;
    update(id, { cancelling: true });
    try {
      const accepted = await studio().cancel(id);
      if (!accepted) update(id, { cancelling: false });
    } catch (err) {
      update(id, { cancelling: false });
      setError(`Could not cancel: ${plainError(err)}`);
    }
  };

  // ---------- seed ----------

  const rollSeed = () =>
    batch(() => {
      setSeedText(String(randomSeed()));
      setSeedLocked(true);
    });
  const typeSeed = (text: string) =>
    batch(() => {
      setSeedText(text);
      setSeedLocked(text.trim() !== '');
    });
  const toggleSeedLock = (locked: boolean) =>
    batch(() => {
      if (locked && seedText().trim() === '') setSeedText(String(current()?.seed ?? randomSeed()));
      setSeedLocked(locked);
    });

  // ---------- loading parameters ----------

  /** Fills the form from loaded parameters; returns the notice shown. */
  const applyParameters = (loaded: LoadedParameters, origin: string): LoadNotice => {
    const p: GenerationParameters = loaded.parameters;
    const unmapped = [...loaded.unmapped];
    const set = describeLoaded(p);
    batch(() => {
      if (p.prompt !== undefined) setPrompt(p.prompt);
      if (p.negative_prompt !== undefined) setNegativePrompt(p.negative_prompt);
      if (p.model !== undefined) {
        const names = usableModels().map((m) => m.name);
        const match = matchModelName(p.model, names);
        if (match) {
          if (match !== model()) skipDefaults = true;
          setModelChoice(match);
        } else {
          unmapped.push(
            names.length
              ? `model '${p.model}' is not registered here; keeping ${model() || 'the current model'}`
              : `model '${p.model}' is not registered here (import it in the Models view)`,
          );
          set.splice(set.indexOf('model'), 1);
        }
      }
      if (p.scheduler !== undefined) setScheduler(p.scheduler);
      if (p.karras !== undefined) setKarras(p.karras);
      if (p.steps !== undefined) setSteps(String(p.steps));
      if (p.guidance_scale !== undefined) setCfg(String(p.guidance_scale));
      if (p.seed !== undefined) {
        setSeedText(String(p.seed));
        setSeedLocked(true);
      }
      if (p.width !== undefined) setWidth(String(p.width));
      if (p.height !== undefined) setHeight(String(p.height));
      if (p.batch_size !== undefined) setBatchSize(String(p.batch_size));
      if (p.emphasis !== undefined) setEmphasis(p.emphasis);
      if (p.hires_fix !== undefined) {
        setHiresOn(p.hires_fix !== null);
        if (p.hires_fix) {
          setHiresScale(String(p.hires_fix.scale));
          setHiresStrength(String(p.hires_fix.strength));
          setHiresSteps(p.hires_fix.steps !== undefined ? String(p.hires_fix.steps) : '');
          const up = p.hires_fix.upscaler;
          const known = up === 'latent' || (upscalerModels.latest ?? []).some((u) => u.name === up);
          setHiresUpscaler(known ? up : 'latent');
          if (!known) unmapped.push(`hires fix upscaler '${up}' is not installed here; using Latent`);
        }
      }
      if (p.refiner !== undefined) {
        setRefinerOn(p.refiner !== null);
        if (p.refiner) {
          setRefinerStrength(String(p.refiner.strength));
          setRefinerSteps(p.refiner.steps !== undefined ? String(p.refiner.steps) : '');
          const match = p.refiner.model ? matchModelName(p.refiner.model, usableModels().map((m) => m.name)) : undefined;
          setRefinerModel(match ?? '');
          if (p.refiner.model && !match) unmapped.push(`refiner model '${p.refiner.model}' is not registered here; the main model is used`);
        }
      }
      if (p.upscaler !== undefined) {
        setUpscaleOn(p.upscaler !== null);
        if (p.upscaler) {
          setUpscaleFactor(p.upscaler.factor);
          setUpscaleModel(p.upscaler.model ?? '');
        }
      }
      setFieldErrors({});
      setError(null);
      setDefaultsNote(null);
    });
    const result: LoadNotice = { origin, source: SOURCE_LABELS[loaded.source], loaded: set, unmapped };
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
      await ensureModels();
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
      await ensureModels();
      applyParameters(parsePipelineConfigText(text), file.name);
    } catch (err) {
      loadFailed(file.name, err);
    }
  };

  /** Gallery "reuse parameters": the job's whole pipeline when it is still recorded, else the image's own. */
  const reuseArtifact = async (artifact: ArtifactSummary) => {
    const origin = artifact.name.split('/').pop() ?? artifact.name;
    try {
      await ensureModels();
      const job = await studio()
        .getJob(artifact.job_id)
        .catch(() => undefined);
      const request = asRecord(job?.request);
      if (job?.kind === 'generate' && request?.pipeline_config) {
        try {
          applyParameters(fromPipelineConfig(request.pipeline_config, asRecord(request.input_data) ?? {}, 'media-lab'), origin);
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
    const { form, errors } = check(true);
    if (!form) {
      setFieldErrors(errors);
      return { error: `Fix the form before saving: ${firstError(errors)}` };
    }
    const config = buildPipelineConfig(form);
    if (!form.model) delete (config.stages[0].parameters as Record<string, unknown>).model;
    return { config };
  };

  return {
    // form
    prompt,
    setPrompt,
    negativePrompt,
    setNegativePrompt,
    model,
    setModel: setModelChoice,
    scheduler,
    setScheduler: (v: string) => {
      if ((SCHEDULER_NAMES as readonly string[]).includes(v)) setScheduler(v as SchedulerName);
    },
    karras,
    setKarras,
    steps,
    setSteps,
    cfg,
    setCfg,
    seedText,
    typeSeed,
    seedLocked,
    toggleSeedLock,
    rollSeed,
    width,
    setWidth,
    height,
    setHeight,
    batchSize,
    setBatchSize,
    emphasis,
    setEmphasis,
    hiresOn,
    setHiresOn,
    hiresScale,
    setHiresScale,
    hiresUpscaler,
    setHiresUpscaler,
    hiresStrength,
    setHiresStrength,
    hiresSteps,
    setHiresSteps,
    refinerOn,
    setRefinerOn,
    refinerStrength,
    setRefinerStrength,
    refinerModel,
    setRefinerModel,
    refinerSteps,
    setRefinerSteps,
    upscaleOn,
    setUpscaleOn,
    upscaleFactor,
    setUpscaleFactor: (v: number) => {
      if ((UPSCALE_FACTORS as readonly number[]).includes(v)) setUpscaleFactor(v as UpscaleFactor);
    },
    upscaleModel,
    setUpscaleModel,
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
    checkpoints,
    allCheckpoints,
    usableModels,
    modelInfo,
    fixedSize,
    modelsLoaded,
    upscalerModels,
    wantModels: () => setModelsWanted((n) => n + 1),
    refetchCheckpoints,
    // jobs
    jobs,
    current,
    currentId,
    focus: (id: string) => {
      if (jobs[id]) setCurrentId(id);
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
    stageNames: STAGE_NAMES,
  };
}

export type GenerateStore = ReturnType<typeof createGenerateStore>;

let store: GenerateStore | undefined;

/** The one Generate store (created on first use, lives as long as the page). */
export function generateStore(): GenerateStore {
  store ??= createRoot(() => createGenerateStore());
  return store;
}
