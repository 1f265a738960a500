/**
 * One job as the page sees it, and the one reducer that turns the worker's job events into it.
 * The Generate, Enhance and queue stores all keep their jobs with `reduceJob`, so a job reads the
 * same everywhere (its phase, queue position, progress, artifacts, error, result and times).
 *
 * Pure (no solid, no worker): `now` is passed in, so the reducer is deterministic and unit-tested.
 */
import type { JobEvent } from '../../protocol/events';
import type { JobKind, JobResult, JobStatus, JobSummary } from '../../protocol/schemas';

/** A job's status as stored (`JobStatus`), plus `submitting` until the worker has taken it. */
export type JobPhase = 'submitting' | JobStatus;

export const TERMINAL_PHASES: ReadonlySet<JobPhase> = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);
export const ACTIVE_PHASES: ReadonlySet<JobPhase> = new Set(['submitting', 'queued', 'running']);

export const isTerminal = (phase: JobPhase): boolean => TERMINAL_PHASES.has(phase);

export interface JobProgress {
  /** The stage's name (its stage_type unless the pipeline named it). */
  stage: string;
  step: number;
  total: number;
  elapsedMs: number;
  etaMs?: number;
}

/** Times (ms, on the clock the caller passes as `now`) of what happened to the job. */
export interface JobTimings {
  submitted?: number;
  queued?: number;
  started?: number;
  finished?: number;
}

export interface JobState {
  id: string;
  kind?: JobKind;
  phase: JobPhase;
  /** 1 = next; only while queued. */
  position?: number;
  /** The latest step of the stage running (kept after the end, at its last step). */
  progress?: JobProgress;
  /** What it is doing between steps (a `status` event), until the next step comes. */
  activity?: string;
  /** The backend it runs on (from `started`). */
  backend?: string;
  /** Artifact ids as they are saved; the result's list once finished. */
  artifacts: string[];
  error?: string;
  /** Set when it ended with one (finished, or failed with a partial result). */
  result?: JobResult;
  timings: JobTimings;
}

/** A job the page has just submitted (or learnt of). */
export function newJob(id: string, now: number, fields: Partial<Omit<JobState, 'id'>> = {}): JobState {
  return { id, phase: 'submitting', artifacts: [], ...fields, timings: { submitted: now, ...fields.timings } };
}

/** A stored job (`listJobs`, `getJob`) as a JobState. */
export function jobFromSummary(summary: JobSummary): JobState {
  return {
    id: summary.id,
    kind: summary.kind,
    phase: summary.status,
    artifacts: [...(summary.artifacts ?? [])],
    ...(summary.error ? { error: summary.error } : {}),
    timings: { submitted: summary.created_at, started: summary.started_at, finished: summary.finished_at },
  };
}

/**
 * The job after `event`. Events of other jobs, and any event once the job has ended, leave it as
 * it is (the same object, so a store can skip the update).
 */
export function reduceJob<S extends JobState>(state: S, event: JobEvent, now: number): S {
  if (event.job_id !== state.id || isTerminal(state.phase)) return state;
  switch (event.type) {
    case 'queued':
      return {
        ...state,
        kind: event.kind,
        // A late `queued` (another tab's relay) does not take a running job back.
        phase: state.phase === 'submitting' ? 'queued' : state.phase,
        position: event.position,
        timings: { ...state.timings, queued: state.timings.queued ?? now },
      };
    case 'started':
      return { ...state, phase: 'running', position: undefined, backend: event.backend, timings: { ...state.timings, started: now } };
    case 'status':
      return { ...state, phase: 'running', position: undefined, activity: event.message };
    case 'progress':
      return {
        ...state,
        phase: 'running',
        position: undefined,
        activity: undefined,
        progress: { stage: event.stage, step: event.step, total: event.total, elapsedMs: event.elapsed_ms, etaMs: event.eta_ms },
        timings: state.timings.started === undefined ? { ...state.timings, started: now } : state.timings,
      };
    case 'artifact':
      return state.artifacts.includes(event.artifact_id) ? state : { ...state, artifacts: [...state.artifacts, event.artifact_id] };
    case 'finished':
      return {
        ...ended(state, 'succeeded', now),
        artifacts: event.result.artifacts.length ? [...event.result.artifacts] : state.artifacts,
        result: event.result,
        progress: state.progress && { ...state.progress, step: state.progress.total },
      };
    case 'failed':
      return { ...ended(state, 'failed', now), error: event.error, ...(event.result ? { result: event.result } : {}) };
    case 'cancelled':
      return ended(state, 'cancelled', now);
    case 'interrupted':
      return { ...ended(state, 'interrupted', now), error: event.error };
    default:
      // An event type a newer worker sends: nothing to change.
      return state;
  }
}

function ended<S extends JobState>(state: S, phase: JobPhase, now: number): S {
  return { ...state, phase, position: undefined, timings: { ...state.timings, finished: now } };
}

/** Milliseconds from submit (else start) to the end, or to `now` while it runs. */
export function elapsedOf(state: JobState, now: number): number | undefined {
  const from = state.timings.submitted ?? state.timings.started;
  if (from === undefined) return undefined;
  return (state.timings.finished ?? now) - from;
}
