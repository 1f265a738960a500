/** The job history: one row per submitted job, kept after it finishes. */
import { runWrite } from './errors';
import { JobRecordSchema, parseFetchedRow, parseListedRow, parseNewRecord, type JobRecord } from './records';
import type { StudioDb } from './schema';

/** What a caller supplies; id, created_at, status ('queued') and artifacts ([]) have defaults. */
export type NewJob = Omit<JobRecord, 'id' | 'created_at' | 'status' | 'artifacts'> &
  Partial<Pick<JobRecord, 'id' | 'created_at' | 'status' | 'artifacts'>>;

/** Everything but the identity and creation time can change. */
export type JobPatch = Partial<Omit<JobRecord, 'id' | 'created_at'>>;

export const INTERRUPTED_RUNNING = 'the tab closed while this job was running';
export const INTERRUPTED_QUEUED = 'the tab closed while this job was waiting';

export class JobRepository {
  constructor(private readonly db: Promise<StudioDb>) {}

  /** Adds a new job; fails if a job with the same id exists. */
  async create(job: NewJob): Promise<JobRecord> {
    const record = parseNewRecord(JobRecordSchema, 'job', {
      status: 'queued',
      artifacts: [],
      ...job,
      id: job.id ?? crypto.randomUUID(),
      created_at: job.created_at ?? Date.now(),
    });
    const tx = (await this.db).transaction('jobs', 'readwrite');
    await runWrite(tx, async () => {
      await tx.store.add(record);
    });
    return record;
  }

  /** Read-modify-write in one transaction, so concurrent updates cannot lose each other's fields. */
  async update(id: string, patch: JobPatch): Promise<JobRecord> {
    const tx = (await this.db).transaction('jobs', 'readwrite');
    return runWrite(tx, async () => {
      const row = await tx.store.get(id);
      if (row === undefined) throw new Error(`no job with id "${id}"`);
      const current = parseFetchedRow(JobRecordSchema, 'job', row);
      const next = parseNewRecord(JobRecordSchema, 'job', { ...current, ...patch, id, created_at: current.created_at });
      await tx.store.put(next);
      return next;
    });
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
   * At start-up (in the tab that owns the queue): a job still 'running' or 'queued' belonged to
   * a tab that has gone, and nothing will ever finish it. Mark those 'interrupted' so the history
   * says so. Returns their ids.
   */
  async markInterrupted(now: number = Date.now()): Promise<string[]> {
    const tx = (await this.db).transaction('jobs', 'readwrite');
    return runWrite(tx, async () => {
      const ids: string[] = [];
      let cursor = await tx.store.openCursor();
      while (cursor) {
        const job = parseListedRow(JobRecordSchema, 'job', cursor.value);
        if (job && (job.status === 'running' || job.status === 'queued')) {
          const error = job.status === 'running' ? INTERRUPTED_RUNNING : INTERRUPTED_QUEUED;
          await cursor.update({ ...job, status: 'interrupted', error, finished_at: now });
          ids.push(job.id);
        }
        cursor = await cursor.continue();
      }
      return ids;
    });
  }
}
