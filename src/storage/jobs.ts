/** The job history: one row per submitted job, kept after it finishes. */
import { runWrite } from './errors';
import {
  JobInputRecordSchema,
  JobRecordSchema,
  parseFetchedRow,
  parseListedRow,
  parseNewRecord,
  type JobInputRecord,
  type JobRecord,
} from './records';
import type { StudioDb } from './schema';

/** What a caller supplies; id, created_at, status ('queued') and artifacts ([]) have defaults. */
export type NewJob = Omit<JobRecord, 'id' | 'created_at' | 'status' | 'artifacts'> &
  Partial<Pick<JobRecord, 'id' | 'created_at' | 'status' | 'artifacts'>>;

/** Everything but the identity and creation time can change. */
export type JobPatch = Partial<Omit<JobRecord, 'id' | 'created_at'>>;

export const INTERRUPTED_RUNNING = 'the tab closed while this job was running';
export const INTERRUPTED_QUEUED = 'the tab closed while this job was waiting';

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

/** What the tab taking over the queue finds: jobs it marked interrupted, and queued jobs to run. */
export interface Recovery {
  interrupted: string[];
  /** Oldest first, each with its whole input. */
  resumable: Array<{ job: JobRecord; input: JobInputRecord }>;
}

export class JobRepository {
  constructor(private readonly db: Promise<StudioDb>) {}

  /**
   * Adds a new job; fails if a job with the same id exists. `input` (the whole request, binary
   * parts included) is kept until the job ends, in the same transaction.
   */
  async create(job: NewJob, input?: Omit<JobInputRecord, 'id'>): Promise<JobRecord> {
    const record = parseNewRecord(JobRecordSchema, 'job', {
      status: 'queued',
      artifacts: [],
      ...job,
      id: job.id ?? crypto.randomUUID(),
      created_at: job.created_at ?? Date.now(),
    });
    const inputRecord = input && parseNewRecord(JobInputRecordSchema, 'job input', { ...input, id: record.id });
    const tx = (await this.db).transaction(['jobs', 'job_inputs'], 'readwrite');
    await runWrite(tx, async () => {
      await tx.objectStore('jobs').add(record);
      if (inputRecord) await tx.objectStore('job_inputs').put(inputRecord);
    });
    return record;
  }

  /**
   * Read-modify-write in one transaction, so concurrent updates cannot lose each other's fields.
   * A job that ends no longer needs its stored input: it goes in the same transaction.
   */
  async update(id: string, patch: JobPatch): Promise<JobRecord> {
    const tx = (await this.db).transaction(['jobs', 'job_inputs'], 'readwrite');
    const store = tx.objectStore('jobs');
    return runWrite(tx, async () => {
      const row = await store.get(id);
      if (row === undefined) throw new Error(`no job with id "${id}"`);
      const current = parseFetchedRow(JobRecordSchema, 'job', row);
      const next = parseNewRecord(JobRecordSchema, 'job', { ...current, ...patch, id, created_at: current.created_at });
      await store.put(next);
      if (ENDED.has(next.status)) await tx.objectStore('job_inputs').delete(id);
      return next;
    });
  }

  /** The whole input of a job that has not ended, if it was stored. */
  async getInput(id: string): Promise<JobInputRecord | undefined> {
    const row = await (await this.db).transaction('job_inputs', 'readonly').store.get(id);
    return row === undefined ? undefined : parseFetchedRow(JobInputRecordSchema, 'job input', row);
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = await (await this.db).transaction('jobs', 'readonly').store.get(id);
    return row === undefined ? undefined : parseFetchedRow(JobRecordSchema, 'job', row);
  }

  /** Newest first; damaged rows are skipped with a warning. */
  async list(): Promise<JobRecord[]> {
    const store = (await this.db).transaction('jobs', 'readonly').store;
    const out: JobRecord[] = [];
    let cursor = await store.index('by_created').openCursor(null, 'prev');
    while (cursor) {
      const record = parseListedRow(JobRecordSchema, 'job', cursor.value);
      if (record) out.push(record);
      cursor = await cursor.continue();
    }
    return out;
  }

  /**
   * Run by the tab that takes over the queue (it holds the queue lock, so no other tab is running
   * a job): a job still 'running' was cut short with the tab that ran it, so it is marked
   * interrupted; a 'queued' job is handed back to be run, unless its input was not kept.
   */
  async recoverAfterRestart(now: number = Date.now()): Promise<Recovery> {
    const tx = (await this.db).transaction(['jobs', 'job_inputs'], 'readwrite');
    const inputs = tx.objectStore('job_inputs');
    return runWrite(tx, async () => {
      const interrupted: string[] = [];
      const resumable: Recovery['resumable'] = [];
      let cursor = await tx.objectStore('jobs').index('by_created').openCursor();
      while (cursor) {
        const job = parseListedRow(JobRecordSchema, 'job', cursor.value);
        if (job && (job.status === 'running' || job.status === 'queued')) {
          const row = job.status === 'queued' ? await inputs.get(job.id) : undefined;
          const input = row === undefined ? undefined : parseListedRow(JobInputRecordSchema, 'job input', row);
          if (input) {
            resumable.push({ job, input });
          } else {
            const error = job.status === 'running' ? INTERRUPTED_RUNNING : INTERRUPTED_QUEUED;
            await cursor.update({ ...job, status: 'interrupted', error, finished_at: now });
            await inputs.delete(job.id);
            interrupted.push(job.id);
          }
        }
        cursor = await cursor.continue();
      }
      return { interrupted, resumable };
    });
  }
}
