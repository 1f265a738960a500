/**
 * Job handles: the one way the page submits a job and follows it.
 *
 * The client holds ONE subscription to the worker's job events and dispatches each event by
 * its job id. `submitJob` chooses the job's id itself, registers it with the dispatcher, and only
 * then asks the worker to queue the job, so no event of the job can arrive before its id is known
 * (the worker's `queued` event may well arrive before `submit` answers). Events that arrive before
 * a listener is attached with `handle.on` are kept (a bounded buffer) and replayed to it.
 *
 * No Worker is created here: the transport (submit, cancel, subscribe) is injected, so this runs
 * in Node against a test double; src/client/studio-client.ts gives the app its transport.
 */
import type { JobEvent } from '../protocol/events';
import type { JobKind, JobRequest, JobResult } from '../protocol/schemas';

export type JobListener = (event: JobEvent) => void;

/** A submitted job. */
export interface JobHandle {
  readonly id: string;
  readonly kind: JobKind;
  /**
   * Calls `listener` with this job's events: first those that arrived while no listener was
   * attached (in order), then each new one. Returns a function that detaches it.
   */
  on(listener: JobListener): () => void;
  /** Asks the worker to cancel the job; false when it had already ended. */
  cancel(): Promise<boolean>;
  /**
   * Resolves when the job ends: finished (its result), failed (its result, or a failure carrying
   * the error), cancelled or interrupted (a failure saying so). Never rejects.
   */
  readonly result: Promise<JobResult>;
}

/** What the client needs from the worker. */
export interface JobTransport {
  /** Queues the job under the caller's id; `transfer` lists buffers to move rather than copy. */
  submit(request: JobRequest & { kind: JobKind; job_id: string }, transfer: Transferable[]): Promise<{ job_id: string }>;
  cancel(jobId: string): Promise<boolean>;
  /** Subscribes to every job's events; resolves once events flow, with a function that unsubscribes. */
  subscribe(listener: JobListener): Promise<() => void>;
}

export interface JobClientOptions {
  /** Job ids: `crypto.randomUUID()` unless given (tests). */
  newId?: () => string;
  /** Events kept per job while no listener is attached (older progress events go first). */
  bufferLimit?: number;
}

export interface SubmitOptions {
  /** Buffers in the request to transfer to the worker (e.g. a picked image's bytes). */
  transfer?: Transferable[];
}

export interface JobClient {
  /** Queues a job and returns its handle; rejects when the worker refuses the request. */
  submitJob(request: JobRequest, kind: JobKind, options?: SubmitOptions): Promise<JobHandle>;
  /** Every job's events (this tab's and other tabs'), through the same one subscription. */
  onAnyEvent(listener: JobListener): () => void;
  /** Resolves once the subscription is up (retried on the next call after a failure). */
  ready(): Promise<void>;
}

const TERMINAL: ReadonlySet<JobEvent['type']> = new Set(['finished', 'failed', 'cancelled', 'interrupted']);

export const isTerminalEvent = (event: JobEvent): boolean => TERMINAL.has(event.type);

/** The result a job ended with, as its terminal event tells it. */
export function resultOfEvent(event: JobEvent): JobResult | undefined {
  const failure = (error: string): JobResult => ({ job_id: event.job_id, success: false, data: {}, artifacts: [], metadata: {}, error });
  switch (event.type) {
    case 'finished':
      return event.result;
    case 'failed':
      return event.result ? { ...event.result, success: false, error: event.result.error ?? event.error } : failure(event.error);
    case 'cancelled':
      return failure('cancelled');
    case 'interrupted':
      return failure(event.error || 'interrupted');
    default:
      return undefined;
  }
}

/** One job's share of the dispatcher. */
class JobEntry {
  private buffer: JobEvent[] = [];
  private listeners = new Set<JobListener>();
  private ended = false;
  readonly result: Promise<JobResult>;
  private resolve!: (result: JobResult) => void;

  constructor(private readonly limit: number) {
    this.result = new Promise<JobResult>((resolve) => (this.resolve = resolve));
  }

  get done(): boolean {
    return this.ended;
  }

  deliver(event: JobEvent): void {
    if (this.ended) return;
    if (this.listeners.size === 0) this.keep(event);
    else for (const listener of [...this.listeners]) call(listener, event);
    const result = resultOfEvent(event);
    if (result) {
      this.ended = true;
      this.resolve(result);
    }
  }

  on(listener: JobListener): () => void {
    this.listeners.add(listener);
    const replay = this.buffer;
    this.buffer = [];
    for (const event of replay) call(listener, event);
    return () => void this.listeners.delete(listener);
  }

  /** Keeps an event for the first listener; over the limit the oldest progress event goes (then the oldest event). */
  private keep(event: JobEvent): void {
    this.buffer.push(event);
    if (this.buffer.length <= this.limit) return;
    const progress = this.buffer.findIndex((e) => e.type === 'progress');
    this.buffer.splice(progress >= 0 ? progress : 0, 1);
  }
}

function call(listener: JobListener, event: JobEvent): void {
  try {
    listener(event);
  } catch (err) {
    console.error('a job event listener failed', err);
  }
}

export function createJobClient(transport: JobTransport, options: JobClientOptions = {}): JobClient {
  const newId = options.newId ?? (() => crypto.randomUUID());
  const limit = Math.max(1, options.bufferLimit ?? 256);
  const entries = new Map<string, JobEntry>();
  const everyJob = new Set<JobListener>();
  let connection: Promise<void> | null = null;

  const dispatch = (event: JobEvent) => {
    const entry = entries.get(event.job_id);
    if (entry) {
      entry.deliver(event);
      if (entry.done) entries.delete(event.job_id);
    }
    for (const listener of [...everyJob]) call(listener, event);
  };

  const ready = (): Promise<void> => {
    if (!connection) {
      const attempt = transport.subscribe(dispatch).then(() => undefined);
      connection = attempt;
      attempt.catch(() => {
        if (connection === attempt) connection = null;
      });
    }
    return connection;
  };

  const submitJob = async (request: JobRequest, kind: JobKind, submitOptions: SubmitOptions = {}): Promise<JobHandle> => {
    await ready();
    const id = newId();
    if (entries.has(id)) throw new Error(`job id '${id}' is already in use`);
    const entry = new JobEntry(limit);
    // Listening before the worker hears of the job: its first event cannot be missed.
    entries.set(id, entry);
    try {
      const { job_id } = await transport.submit({ ...request, kind, job_id: id }, submitOptions.transfer ?? []);
      if (job_id !== id) throw new Error(`the studio queued the job as '${job_id}', not as '${id}'`);
    } catch (err) {
      if (entries.get(id) === entry) entries.delete(id);
      throw err;
    }
    return {
      id,
      kind,
      on: (listener) => entry.on(listener),
      cancel: () => transport.cancel(id),
      result: entry.result,
    };
  };

  const onAnyEvent = (listener: JobListener): (() => void) => {
    everyJob.add(listener);
    // A failure to connect is the app's startup banner's to report; the next call retries.
    ready().catch(() => undefined);
    return () => void everyJob.delete(listener);
  };

  return { submitJob, onAnyEvent, ready };
}
