/**
 * One tab runs the jobs; the others watch. Every tab has its own studio worker, and all of them
 * share one IndexedDB. The worker holding the Web Lock `media-lab.queue` owns the job queue: it
 * runs jobs (its own and those other tabs send it) and broadcasts every job event. A worker
 * without the lock forwards submit/cancel to the owner over a BroadcastChannel and relays the
 * events it hears to its own page. When the owner's tab closes, the lock passes to a waiting
 * tab, which marks the job that was running as interrupted and runs the queued ones.
 */
import type { JobEvent } from '../src/protocol/events';
import type { JobKind, JobResult, JobSummary } from '../src/protocol/schemas';
import type { JobRepository } from '../src/storage/jobs';
import type { JobQueue } from './job-queue';
import { Listeners } from './listeners';

export const QUEUE_LOCK = 'media-lab.queue';
export const QUEUE_CHANNEL = 'media-lab.jobs';

/** The part of the Web Locks API used here (navigator.locks). */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** The part of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  close(): void;
}

type Message =
  | { type: 'event'; event: JobEvent }
  | { type: 'submit'; job_id: string; kind: JobKind; request: unknown }
  | { type: 'submitted'; job_id: string; error?: string }
  | { type: 'cancel'; request_id: string; job_id: string }
  | { type: 'cancel-result'; request_id: string; accepted: boolean };

export type QueueRole = 'owner' | 'watcher';

export interface QueueHostDeps {
  jobs: JobRepository;
  /** Builds the queue when this tab becomes the owner. */
  createQueue(): JobQueue;
  locks: LockManagerLike;
  channel: ChannelLike;
  /** How long a watcher waits for the owner to take a job. */
  answerTimeoutMs?: number;
  onRoleChange?(role: QueueRole): void;
}

interface PendingSubmit {
  kind: JobKind;
  request: unknown;
  accepted: (error?: string) => void;
}

const TERMINAL = new Set<JobEvent['type']>(['finished', 'failed', 'cancelled', 'interrupted']);

export class QueueHost {
  private queue: JobQueue | null = null;
  private listeners = new Listeners<JobEvent>();
  private waiters = new Map<string, (result: JobResult) => void>();
  private unanswered = new Map<string, PendingSubmit>();
  private cancels = new Map<string, (accepted: boolean) => void>();
  private releaseLock: (() => void) | null = null;
  private closed = false;
  /** Resolves once the role at start is known (and, for the owner, the queue recovered). */
  readonly ready: Promise<void>;

  constructor(private readonly deps: QueueHostDeps) {
    deps.channel.addEventListener('message', (e) => void this.onMessage(e.data as Message));
    this.ready = this.start();
  }

  get role(): QueueRole {
    return this.queue ? 'owner' : 'watcher';
  }

  private start(): Promise<void> {
    return new Promise<void>((roleKnown) => {
      this.deps.locks
        .request(QUEUE_LOCK, { ifAvailable: true }, async (lock) => {
          if (!lock) {
            roleKnown();
            this.waitForLock();
            return;
          }
          await this.becomeOwner();
          roleKnown();
          await this.held();
        })
        .catch(() => roleKnown());
    });
  }

  /** Another tab owns the queue: wait in line for the lock (granted when that tab closes). */
  private waitForLock(): void {
    this.deps.onRoleChange?.('watcher');
    this.deps.locks
      .request(QUEUE_LOCK, {}, async () => {
        if (this.closed) return;
        await this.becomeOwner();
        await this.held();
      })
      .catch(() => undefined);
  }

  /** What the lock callback waits on: the lock is held until close() (or the tab dies). */
  private held(): Promise<void> {
    return new Promise<void>((release) => (this.releaseLock = release));
  }

  private async becomeOwner(): Promise<void> {
    const queue = this.deps.createQueue();
    queue.subscribe((event) => this.publish(event));
    this.queue = queue;
    this.deps.onRoleChange?.('owner');
    let recovery: Awaited<ReturnType<JobRepository['recoverAfterRestart']>> = { interrupted: [], resumable: [] };
    try {
      recovery = await this.deps.jobs.recoverAfterRestart();
    } catch (err) {
      console.error('could not recover the job queue from storage', err);
    }
    const { interrupted, resumable } = recovery;
    for (const id of interrupted) {
      const job = await this.deps.jobs.get(id).catch(() => undefined);
      this.publish({ type: 'interrupted', job_id: id, error: job?.error ?? 'interrupted' });
    }
    queue.resume(resumable);
    // Submissions the old owner never answered: run them here unless it had stored them.
    const known = new Set(resumable.map((r) => r.job.id));
    for (const [id, pending] of this.unanswered) {
      this.unanswered.delete(id);
      if (known.has(id) || interrupted.includes(id)) {
        pending.accepted();
        continue;
      }
      try {
        await queue.submit(pending.request, pending.kind, id);
        pending.accepted();
      } catch (err) {
        pending.accepted(err instanceof Error ? err.message : String(err));
      }
    }
  }

  /** Delivers an event to this tab's listeners and, as the owner, to every other tab. */
  private publish(event: JobEvent): void {
    if (this.queue && !this.closed) this.post({ type: 'event', event });
    this.deliver(event);
  }

  private deliver(event: JobEvent): void {
    this.listeners.emit(event);
    if (TERMINAL.has(event.type)) {
      const waiter = this.waiters.get(event.job_id);
      if (waiter) {
        this.waiters.delete(event.job_id);
        waiter(resultOf(event));
      }
    }
  }

  private post(message: Message): void {
    try {
      this.deps.channel.postMessage(message);
    } catch {
      // A closed channel (tab going away): nothing to tell.
    }
  }

  private async onMessage(message: Message): Promise<void> {
    if (this.closed || !message || typeof message !== 'object') return;
    const queue = this.queue;
    switch (message.type) {
      case 'event':
        if (!queue) this.deliver(message.event);
        break;
      case 'submit':
        if (!queue) break;
        try {
          await queue.submit(message.request, message.kind, message.job_id);
          this.post({ type: 'submitted', job_id: message.job_id });
        } catch (err) {
          this.post({ type: 'submitted', job_id: message.job_id, error: err instanceof Error ? err.message : String(err) });
        }
        break;
      case 'submitted': {
        const pending = this.unanswered.get(message.job_id);
        if (pending) {
          this.unanswered.delete(message.job_id);
          pending.accepted(message.error);
        }
        break;
      }
      case 'cancel':
        if (queue) this.post({ type: 'cancel-result', request_id: message.request_id, accepted: await queue.cancel(message.job_id) });
        break;
      case 'cancel-result':
        this.cancels.get(message.request_id)?.(message.accepted);
        this.cancels.delete(message.request_id);
        break;
    }
  }

  /** Queues a job here or, from a watching tab, in the owner's queue; `jobId` = the caller's choice of id. */
  async submit(request: unknown, kind: JobKind, jobId?: string): Promise<{ job_id: string; done: Promise<JobResult> }> {
    await this.ready;
    if (this.queue) return this.queue.submit(request, kind, jobId);
    const id = jobId ?? crypto.randomUUID();
    if (this.waiters.has(id) || this.unanswered.has(id)) throw new Error(`a job with id '${id}' already exists`);
    const done = new Promise<JobResult>((resolve) => this.waiters.set(id, resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.unanswered.delete(id)) return;
        this.waiters.delete(id);
        reject(new Error('the tab that runs the queue did not answer: reload it, or close it so this tab takes over'));
      }, this.deps.answerTimeoutMs ?? 15_000);
      this.unanswered.set(id, {
        kind,
        request,
        accepted: (error) => {
          clearTimeout(timer);
          if (error) {
            this.waiters.delete(id);
            reject(new Error(error));
          } else resolve();
        },
      });
      this.post({ type: 'submit', job_id: id, kind, request });
    });
    return { job_id: id, done };
  }

  async cancel(jobId: string): Promise<boolean> {
    await this.ready;
    if (this.queue) return this.queue.cancel(jobId);
    const requestId = crypto.randomUUID();
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.cancels.delete(requestId);
        resolve(false);
      }, this.deps.answerTimeoutMs ?? 15_000);
      this.cancels.set(requestId, (accepted) => {
        clearTimeout(timer);
        resolve(accepted);
      });
      this.post({ type: 'cancel', request_id: requestId, job_id: jobId });
    });
  }

  subscribe(listener: (event: JobEvent) => void): number {
    return this.listeners.add(listener);
  }

  unsubscribe(id: number): void {
    this.listeners.remove(id);
  }

  async list(): Promise<JobSummary[]> {
    return (await this.deps.jobs.list()) as JobSummary[];
  }

  async get(id: string): Promise<JobSummary | undefined> {
    return (await this.deps.jobs.get(id)) as JobSummary | undefined;
  }

  /** Stops taking part (a closing tab, or a test): releases the lock and the channel. */
  close(): void {
    this.closed = true;
    this.deps.channel.close();
    this.releaseLock?.();
  }
}

function resultOf(event: JobEvent): JobResult {
  if (event.type === 'finished') return event.result;
  if (event.type === 'failed' && event.result) return event.result;
  const error = event.type === 'failed' ? event.error : event.type === 'interrupted' ? event.error : 'cancelled';
  return { job_id: event.job_id, success: false, data: {}, artifacts: [], metadata: {}, error };
}
