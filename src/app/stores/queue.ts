/**
 * The studio's job queue as the page sees it: the jobs the worker has stored (`listJobs`), kept
 * current by the live job events (status, step). Module level, so it keeps following jobs while
 * the user looks at another view. Cancelling goes to the worker; its event updates the row.
 */
import { batch, createRoot, createSignal } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import { connectStudio, studio } from '../../client/studio-client';
import type { JobEvent } from '../../protocol/events';
import type { JobSummary } from '../../protocol/schemas';
import { asRecord, plainError } from '../format';
import { ACTIVE_PHASES, jobFromSummary, newJob, reduceJob, type JobState } from '../lib/job-state';
import { jobEventsReady, listenJobEvents } from './job-events';

/** A job of the queue: its state (one reducer for every view) and how it is labelled. */
export interface QueueRow extends JobState {
  /** What the job makes: its prompt, or its stages ("upscaler ×4 of photo.png"). */
  label: string;
  cancelling?: boolean;
}

export const isActive = (row: JobState) => ACTIVE_PHASES.has(row.phase);
const KNOWN_EVENTS: ReadonlySet<string> = new Set<JobEvent['type']>(['queued', 'started', 'progress', 'artifact', 'finished', 'failed', 'cancelled', 'interrupted']);

/** A one-line description of a stored request. */
export function describeRequest(request: unknown): string {
  const r = asRecord(request);
  const config = asRecord(r?.pipeline_config);
  const input = asRecord(r?.input_data) ?? {};
  const stages = Array.isArray(config?.stages) ? (config.stages as unknown[]).map(asRecord).filter((s) => s !== undefined) : [];
  const t2i = stages.find((s) => s.stage_type === 'text_to_image');
  const prompt = asRecord(t2i?.parameters)?.prompt ?? input.prompt;
  if (typeof prompt === 'string') {
    const text = prompt.trim().replace(/\s+/g, ' ');
    return text ? (text.length > 90 ? `${text.slice(0, 90)}…` : text) : '(empty prompt)';
  }
  const parts = stages.map((s) => {
    const params = asRecord(s.parameters) ?? {};
    return s.stage_type === 'upscaler' && typeof params.upscale_factor === 'number' ? `upscale ×${params.upscale_factor}` : String(s.stage_type ?? '?');
  });
  const file = asRecord(input.image_file)?.name;
  const what = parts.join(' → ') || 'job';
  return typeof file === 'string' ? `${what} of ${file}` : what;
}

function rowOf(job: JobSummary): QueueRow {
  return { ...jobFromSummary(job), label: describeRequest(job.request) };
}

function createQueueStore() {
  const [rows, setRows] = createStore<QueueRow[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  let refreshing: Promise<void> | null = null;
  let again = false;
  let started = false;

  const index = (id: string) => rows.findIndex((r) => r.id === id);

  const patch = (id: string, fields: Partial<QueueRow>) => {
    const i = index(id);
    if (i >= 0) setRows(i, fields);
  };

  /** Reloads the list from the worker, keeping live progress of running jobs. */
  const refresh = (): Promise<void> => {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      try {
        await connectStudio();
        const jobs = await studio().listJobs();
        const live = new Map(rows.map((r) => [r.id, r]));
        const next = [...jobs]
          .sort((a, b) => b.created_at - a.created_at)
          .map((job) => {
            const row = rowOf(job);
            const old = live.get(job.id);
            // An event may be newer than the stored row (the store writes after it emits).
            if (!old || !isActive(row)) return row;
            if (!isActive(old)) return { ...row, phase: old.phase, error: old.error, artifacts: old.artifacts, timings: { ...row.timings, finished: old.timings.finished } };
            const phase = old.phase === 'running' ? 'running' : row.phase;
            return { ...row, phase, progress: old.progress, cancelling: old.cancelling, position: old.position };
          });
        // Rows known only from events (not yet listed) stay.
        for (const row of rows) if (!next.some((r) => r.id === row.id)) next.unshift(row);
        batch(() => {
          setRows(next);
          setLoaded(true);
          setError(null);
        });
      } catch (err) {
        setError(`Could not list the jobs: ${plainError(err)}`);
      } finally {
        refreshing = null;
        if (again) {
          again = false;
          void refresh();
        }
      }
    })();
    return refreshing;
  };

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshSoon = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refresh(), 250);
  };

  /** A new job's label and times from its stored record (one job, not the whole list). */
  const describeJob = async (id: string) => {
    try {
      const job = await studio().getJob(id);
      if (job) patch(id, { label: describeRequest(job.request), timings: { ...rows[index(id)]?.timings, submitted: job.created_at } });
    } catch {
      // The next full refresh fills it in.
    }
  };

  const handle = (event: JobEvent) => {
    const now = Date.now();
    const i = index(event.job_id);
    if (i >= 0) {
      const row = { ...rows[i] };
      const next = reduceJob(row, event, now);
      if (next !== row) setRows(i, { ...next, cancelling: isActive(next) && row.cancelling });
      return;
    }
    if (event.type === 'queued') {
      // A job this list has not seen (this tab's, or another tab's): its label comes from its record.
      const row: QueueRow = { ...reduceJob(newJob(event.job_id, now, { kind: event.kind }), event, now), label: '…' };
      setRows(produce((list) => void list.unshift(row)));
      void describeJob(event.job_id);
    } else if (!KNOWN_EVENTS.has(event.type)) {
      // Whatever later versions add: the stored list says it.
      refreshSoon();
    }
  };

  /** Starts following the queue (once); views call it on mount. */
  const want = () => {
    if (started) return;
    started = true;
    listenJobEvents(handle);
    void jobEventsReady()
      .then(() => refresh())
      .catch(() => undefined);
  };

  const cancel = async (id: string) => {
    patch(id, { cancelling: true });
    try {
      const accepted = await studio().cancel(id);
      if (!accepted) patch(id, { cancelling: false });
    } catch (err) {
      patch(id, { cancelling: false });
      setError(`Could not cancel: ${plainError(err)}`);
    }
  };

  return { rows, loaded, error, want, refresh, cancel };
}

export type QueueStore = ReturnType<typeof createQueueStore>;

let store: QueueStore | undefined;

export function queueStore(): QueueStore {
  store ??= createRoot(() => createQueueStore());
  return store;
}
