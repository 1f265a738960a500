// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; storage runs in the worker, tested on fake-indexeddb.)
import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CorruptRecordError } from '../../src/storage/errors';
import { INTERRUPTED_QUEUED, INTERRUPTED_RUNNING, JobRepository, type NewJob } from '../../src/storage/jobs';
import type { JobRecord, JobStatus } from '../../src/storage/records';
import { openStudioDb, type StudioDb } from '../../src/storage/schema';

let db: StudioDb;
let jobs: JobRepository;

beforeEach(async () => {
  db = await openStudioDb({ name: `jobs-test-${crypto.randomUUID()}` });
  jobs = new JobRepository(Promise.resolve(db));
});

afterEach(() => {
  db.close();
  vi.restoreAllMocks();
});

const request = { pipeline_config: { stages: ['upscale'] }, input_data: { image_artifact: 'a1' } };
const job = (overrides: Partial<NewJob> = {}): NewJob => ({ kind: 'enhance', request, ...overrides });

describe('JobRepository', () => {
  it('create fills in id, created_at, status and artifacts', async () => {
    const before = Date.now();
    const created = await jobs.create(job());
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.created_at).toBeGreaterThanOrEqual(before);
    expect(created).toMatchObject({ kind: 'enhance', status: 'queued', artifacts: [], request });
    expect(await jobs.get(created.id)).toEqual(created);
    expect(await jobs.get('nope')).toBeUndefined();
  });

  it('create keeps a given id and refuses a duplicate', async () => {
    await jobs.create(job({ id: 'j1', created_at: 5 }));
    expect((await jobs.get('j1'))!.created_at).toBe(5);
    await expect(jobs.create(job({ id: 'j1' }))).rejects.toMatchObject({ name: 'ConstraintError' });
  });

  it('update merges a patch and returns the new record', async () => {
    const { id, created_at } = await jobs.create(job());
    const running = await jobs.update(id, { status: 'running', started_at: 10 });
    expect(running).toMatchObject({ id, created_at, status: 'running', started_at: 10, request });

    await jobs.update(id, { status: 'succeeded', finished_at: 20, timings: { upscale: 9.5 }, artifacts: ['a1'], error: null });
    expect(await jobs.get(id)).toMatchObject({
      status: 'succeeded',
      started_at: 10,
      finished_at: 20,
      timings: { upscale: 9.5 },
      artifacts: ['a1'],
      error: null,
    });
  });

  it('concurrent updates of different fields do not lose each other (read-modify-write in one transaction)', async () => {
    const { id } = await jobs.create(job());
    await Promise.all([
      jobs.update(id, { started_at: 1 }),
      jobs.update(id, { timings: { load: 2 } }),
      jobs.update(id, { metadata: { backend: 'wasm' } }),
    ]);
    expect(await jobs.get(id)).toMatchObject({ started_at: 1, timings: { load: 2 }, metadata: { backend: 'wasm' } });
  });

  it('update of an unknown job fails; an invalid patch is refused and changes nothing', async () => {
    await expect(jobs.update('nope', { status: 'running' })).rejects.toThrow('no job with id "nope"');
    const { id } = await jobs.create(job());
    await expect(jobs.update(id, { status: 'exploded' as JobStatus })).rejects.toThrow(/invalid job record: status/);
    expect((await jobs.get(id))!.status).toBe('queued');
  });

  it('lists newest first', async () => {
    await jobs.create(job({ id: 'old', created_at: 100 }));
    await jobs.create(job({ id: 'new', created_at: 300 }));
    await jobs.create(job({ id: 'mid', created_at: 200 }));
    expect((await jobs.list()).map((j) => j.id)).toEqual(['new', 'mid', 'old']);
  });

  it('recoverAfterRestart: running → interrupted; queued with a kept input → resumable, oldest first; queued without → interrupted', async () => {
    const statuses: JobStatus[] = ['running', 'queued', 'succeeded', 'failed', 'cancelled', 'interrupted'];
    for (const [i, status] of statuses.entries()) await jobs.create(job({ id: status, status, created_at: 10 + i }));
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    const input = (id: string) => ({ pipeline_config: { stages: [] }, input_data: { image_file: { name: id, type: 'image/png', bytes } } });
    await jobs.create(job({ id: 'queued-late', created_at: 30 }), input('late'));
    await jobs.create(job({ id: 'queued-early', created_at: 2 }), input('early'));
    // A job that was running keeps no claim on its input either.
    await jobs.create(job({ id: 'running-with-input', status: 'running', created_at: 3 }), input('r'));

    const { interrupted, resumable } = await jobs.recoverAfterRestart(12345);
    expect(interrupted.sort()).toEqual(['queued', 'running', 'running-with-input']);
    expect(resumable.map((r) => r.job.id)).toEqual(['queued-early', 'queued-late']);
    // The binary input comes back whole.
    const file = resumable[0].input.input_data.image_file as { bytes: ArrayBuffer };
    expect([...new Uint8Array(file.bytes)]).toEqual([1, 2, 3]);
    expect(await jobs.get('running')).toMatchObject({ status: 'interrupted', error: INTERRUPTED_RUNNING, finished_at: 12345 });
    expect(await jobs.get('queued')).toMatchObject({ status: 'interrupted', error: INTERRUPTED_QUEUED, finished_at: 12345 });
    expect(await jobs.get('queued-late')).toMatchObject({ status: 'queued' });
    expect(await jobs.getInput('running-with-input')).toBeUndefined();
    expect(INTERRUPTED_RUNNING).toBe('the tab closed while this job was running');
    expect(INTERRUPTED_QUEUED).toBe('the tab closed while this job was waiting');
    for (const status of ['succeeded', 'failed', 'cancelled'] as const) {
      expect((await jobs.get(status))!.status).toBe(status);
    }
    // Nothing changed for the resumable ones: a second pass finds them again.
    expect((await jobs.recoverAfterRestart()).resumable.map((r) => r.job.id)).toEqual(['queued-early', 'queued-late']);
  });

  it('keeps a job input until the job ends, then deletes it with the status change', async () => {
    await jobs.create(job({ id: 'j' }), { pipeline_config: { a: 1 }, input_data: { seed: 4 } });
    expect(await jobs.getInput('j')).toEqual({ id: 'j', pipeline_config: { a: 1 }, input_data: { seed: 4 } });
    await jobs.update('j', { status: 'running' });
    expect(await jobs.getInput('j')).toBeDefined();
    await jobs.update('j', { status: 'succeeded' });
    expect(await jobs.getInput('j')).toBeUndefined();
    expect(await db.count('job_inputs')).toBe(0);
  });

  it('skips damaged rows in list and recoverAfterRestart with a warning; get throws a clear error', async () => {
    await jobs.create(job({ id: 'ok', status: 'running', created_at: 1 }));
    await db.put('jobs', { id: 'bad', request, kind: 'paint', status: 'running', created_at: 2, artifacts: [] } as unknown as JobRecord);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    expect((await jobs.list()).map((j) => j.id)).toEqual(['ok']);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/skipping damaged job record "bad": kind/));
    expect((await jobs.recoverAfterRestart()).interrupted).toEqual(['ok']);
    await expect(jobs.get('bad')).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(jobs.update('bad', { status: 'failed' })).rejects.toBeInstanceOf(CorruptRecordError);
  });
});
