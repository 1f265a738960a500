/**
 * The studio's job queue as the page sees it: the jobs the worker has stored (`listJobs`), kept
 * current by the live job events (status, step). Module level, so it keeps following jobs while
 * the user looks at another view. Cancelling goes to the worker; its event updates the row.
 */
import { batch, createRoot, createSignal } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import { connectStudio, studio } from '../../client/studio-client';
import type { JobEvent } from '../../protocol/events';
import type { JobKind, JobStatus, JobSummary } from '../../protocol/schemas';
import { asRecord, plainError } from '../format';
import { jobEventsReady, listenJobEvents } from './job-events';

export interface QueueRow {
  id: string;
  kind: JobKind;
  status: JobStatus;
  created_at: number;
  started_at?: number;
  finished_at?: number;
  /** What the job makes: its prompt, or its stages ("upscaler ×4 of photo.png"). */
  label: string;
  error?: string | null;
  artifacts: string[];
  /** Latest step of a running job. */
  progress?: { stage: string; step: number; total: number };
  /** Queue position when it was queued (1 = next). */
  position?: number;
  cancelling?: boolean;
}

export const ACTIVE_STATUSES: ReadonlySet<JobStatus> = new Set(['queued', 'running']);

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
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    label: describeRequest(job.request),
    error: job.error ?? null,
    artifacts: [...(job.artifacts ?? [])],
  };
}

function createQueueStore() {
  const [rows, setRows] = createStore<QueueRow[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  let refreshing: Promise<void> | null = null;
  let again = false;
  let started = false;

  const index = (id: string) => rows.findIndex((r) => r.id === id);

  const patch = (id: string, fields: Partial<QueueRow>, create?: () => QueueRow) => {
    const i = index(id);
    if (i >= 0) setRows(i, fields);
    else if (create) setRows(produce((list) => void list.unshift({ ...create(), ...fields })));
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
            if (!old || !ACTIVE_STATUSES.has(row.status)) return row;
            if (!ACTIVE_STATUSES.has(old.status)) return { ...row, status: old.status, error: old.error, artifacts: old.artifacts, finished_at: old.finished_at };
            const status = old.status === 'running' ? 'running' : row.status;
            return { ...row, status, progress: old.progress, cancelling: old.cancelling, position: old.position };
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
      if (job) patch(id, { label: describeRequest(job.request), created_at: job.created_at });
    } catch {
      // The next full refresh fills it in.
    }
  };

  const handle = (event: JobEvent) => {
    const now = Date.now();
    switch (event.type) {
      case 'queued':
        patch(event.job_id, { status: 'queued', position: event.position }, () => ({
          id: event.job_id,
          kind: event.kind,
          status: 'queued',
          created_at: now,
          label: '…',
          artifacts: [],
        }));
        void describeJob(event.job_id);
        break;
      case 'started':
        patch(event.job_id, { status: 'running', started_at: now, position: undefined });
        break;
      case 'progress':
        patch(event.job_id, { status: 'running', progress: { stage: event.stage, step: event.step, total: event.total } });
        break;
      case 'artifact': {
        const i = index(event.job_id);
        if (i >= 0 && !rows[i].artifacts.includes(event.artifact_id)) setRows(i, 'artifacts', (a) => [...a, event.artifact_id]);
        break;
      }
      case 'finished':
        patch(event.job_id, { status: 'succeeded', finished_at: now, artifacts: [...event.result.artifacts], progress: undefined, cancelling: false });
        break;
      case 'failed':
        patch(event.job_id, { status: 'failed', finished_at: now, error: event.error, progress: undefined, cancelling: false });
        break;
      case 'cancelled':
        patch(event.job_id, { status: 'cancelled', finished_at: now, progress: undefined, cancelling: false });
        break;
      default: {
        // 'interrupted' (a tab that ran it closed) and whatever later versions add.
        const other = event as { type: string; job_id?: string; error?: string };
        if (other.type === 'interrupted' && other.job_id) {
          patch(other.job_id, { status: 'interrupted', error: other.error ?? null, progress: undefined, cancelling: false });
        } else refreshSoon();
      }
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
