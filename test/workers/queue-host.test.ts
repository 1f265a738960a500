// @vitest-environment node
// Several "tabs" in one process: each its own QueueHost and JobQueue, sharing one fake-indexeddb
// database, one lock manager (a stand-in for navigator.locks) and a real Node BroadcastChannel.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeImageFile } from '../../src/media/decode-image';
import { encodePng } from '../../src/media/png';
import type { JobEvent } from '../../src/protocol/events';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { INTERRUPTED_RUNNING, JobRepository } from '../../src/storage/jobs';
import { openStudioDb } from '../../src/storage/schema';
import { JobQueue } from '../../workers/job-queue';
import { QUEUE_LOCK, QueueHost, type QueueRole } from '../../workers/queue-host';
import { FakeLocks } from '../helpers/fake-locks';
import { createBoxUpscaler } from '../helpers/test-upscaler';

const astronautBytes = new Uint8Array(readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url)));
const upscale = (factor: number) => ({
  pipeline_config: { stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: factor } }] },
  input_data: { image_file: { name: 'astronaut.png', type: 'image/png', bytes: astronautBytes.slice().buffer } },
});

const hosts: QueueHost[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) host.close();
});

/** A world of tabs: one database, one lock manager, one channel name. */
function world() {
  const dbName = `host-test-${crypto.randomUUID()}`;
  const channelName = `jobs-${crypto.randomUUID()}`;
  const locks = new FakeLocks();
  /** Opens a tab; `gate` holds every upscale this tab runs inside its first tile. */
  const tab = (gate?: Promise<void>) => {
    const db = openStudioDb({ name: dbName });
    const jobs = new JobRepository(db);
    const artifacts = new ArtifactRepository(db);
    const events: JobEvent[] = [];
    const roles: QueueRole[] = [];
    const host = new QueueHost({
      jobs,
      locks: locks.manager,
      channel: new BroadcastChannel(channelName) as never,
      answerTimeoutMs: 5_000,
      onRoleChange: (role) => roles.push(role),
      createQueue: () =>
        new JobQueue({
          jobs,
          artifacts,
          backend: () => 'test',
          decodeImage: decodeImageFile,
          encodePng,
          upscalers: async () => ({
            async load(_model, factor) {
              const inner = createBoxUpscaler(factor, 1, 64);
              return { ...inner, run: async (t) => (await gate, inner.run(t)) };
            },
            async available() {
              return [{ name: 'box', scale: 2 }];
            },
          }),
        }),
    });
    hosts.push(host);
    host.subscribe((e) => void events.push(e));
    return { host, jobs, artifacts, events, roles };
  };
  return { tab, locks };
}

describe('QueueHost (one tab runs the jobs, the others watch)', () => {
  it('the first tab owns the queue; a second watches, and its jobs run in the owner with events relayed', async () => {
    const { tab, locks } = world();
    const a = tab();
    await a.host.ready;
    const b = tab();
    await b.host.ready;
    expect(a.host.role).toBe('owner');
    expect(b.host.role).toBe('watcher');
    expect(b.roles).toEqual(['watcher']);
    expect(locks.isHeld(QUEUE_LOCK)).toBe(true);

    const { job_id, done } = await b.host.submit(upscale(2), 'enhance');
    const result = await done;
    expect(result.success).toBe(true);
    expect(result.job_id).toBe(job_id);
    // Both tabs heard the job from queued to finished; the artifact is in the shared gallery.
    for (const t of [a, b]) {
      const types = t.events.filter((e) => e.job_id === job_id).map((e) => e.type);
      expect(types[0]).toBe('queued');
      expect(types.at(-1)).toBe('finished');
      expect(types).toContain('progress');
    }
    expect((await b.host.get(job_id))?.status).toBe('succeeded');
    expect(await b.artifacts.count()).toBe(1);
  });

  it('a watching tab cancels the owner\'s running job and a queued one', async () => {
    const { tab } = world();
    let release!: () => void;
    const a = tab(new Promise<void>((r) => (release = r)));
    await a.host.ready;
    const b = tab();
    await b.host.ready;
    const running = await b.host.submit(upscale(2), 'enhance');
    const queued = await b.host.submit(upscale(2), 'enhance');
    await vi.waitFor(() => expect(b.events.some((e) => e.job_id === running.job_id && e.type === 'started')).toBe(true));
    expect(await b.host.cancel(running.job_id)).toBe(true);
    expect(await b.host.cancel(queued.job_id)).toBe(true);
    release(); // the running job reaches its next checkpoint and stops there
    expect((await running.done).success).toBe(false);
    expect((await queued.done).success).toBe(false);
    expect((await a.host.get(running.job_id))?.status).toBe('cancelled');
    expect((await a.host.get(queued.job_id))?.status).toBe('cancelled');
    expect(b.events.filter((e) => e.type === 'cancelled').map((e) => e.job_id).sort()).toEqual([running.job_id, queued.job_id].sort());
    expect(await a.artifacts.count()).toBe(0);
    expect(await b.host.cancel('no-such-job')).toBe(false);
  });

  it('when the owner tab closes, the next tab takes over: the running job is interrupted, the queued ones run', async () => {
    const { tab } = world();
    const a = tab(new Promise(() => {}));
    await a.host.ready;
    const b = tab();
    await b.host.ready;
    const running = await b.host.submit(upscale(2), 'enhance');
    const waiting = await b.host.submit(upscale(2), 'enhance');
    await vi.waitFor(async () => expect((await b.jobs.get(running.job_id))?.status).toBe('running'));
    expect((await b.jobs.get(waiting.job_id))?.status).toBe('queued');

    a.host.close(); // the tab goes away: its lock is released, its channel closed
    await vi.waitFor(() => expect(b.host.role).toBe('owner'));
    expect(b.roles).toEqual(['watcher', 'owner']);

    const interrupted = await running.done;
    expect(interrupted).toMatchObject({ success: false, error: INTERRUPTED_RUNNING });
    expect(b.events).toContainEqual({ type: 'interrupted', job_id: running.job_id, error: INTERRUPTED_RUNNING });
    expect((await b.jobs.get(running.job_id))?.status).toBe('interrupted');

    const result = await waiting.done;
    expect(result.success).toBe(true);
    expect((await b.jobs.get(waiting.job_id))?.status).toBe('succeeded');
    // New work now runs in B directly.
    const again = await b.host.submit(upscale(2), 'enhance');
    expect((await again.done).success).toBe(true);
  });

  it('a tab opening after a reload recovers alone: only the lock holder marks jobs interrupted', async () => {
    const { tab, locks } = world();
    const a = tab(new Promise(() => {}));
    await a.host.ready;
    const job = await a.host.submit(upscale(2), 'enhance');
    await vi.waitFor(async () => expect((await a.jobs.get(job.job_id))?.status).toBe('running'));
    // A second tab opening while A still runs the job must not touch it (the old two-tab bug).
    const b = tab();
    await b.host.ready;
    expect(b.host.role).toBe('watcher');
    expect((await b.jobs.get(job.job_id))?.status).toBe('running');
    b.host.close();
    // A reload of A: the old worker is gone (its lock freed), the new one takes the lock and recovers.
    a.host.close();
    await vi.waitFor(() => expect(locks.isHeld(QUEUE_LOCK)).toBe(false));
    const a2 = tab();
    await a2.host.ready;
    expect(a2.host.role).toBe('owner');
    expect((await a2.jobs.get(job.job_id))?.status).toBe('interrupted');
  });

  it('a caller-chosen job id passes from a watching tab to the owner; a taken one is refused clearly', async () => {
    const { tab } = world();
    const a = tab();
    await a.host.ready;
    const b = tab();
    await b.host.ready;
    const heard: string[] = [];
    b.host.subscribe((e) => {
      if (e.job_id === 'chosen-by-b_1') heard.push(e.type);
    });
    const { job_id, done } = await b.host.submit(upscale(2), 'enhance', 'chosen-by-b_1');
    expect(job_id).toBe('chosen-by-b_1');
    expect((await done).job_id).toBe('chosen-by-b_1');
    expect(heard[0]).toBe('queued');
    expect((await a.host.get('chosen-by-b_1'))?.status).toBe('succeeded');
    // Again, from either tab: the owner knows the id.
    await expect(b.host.submit(upscale(2), 'enhance', 'chosen-by-b_1')).rejects.toThrow("a job with id 'chosen-by-b_1' already exists");
    await expect(a.host.submit(upscale(2), 'enhance', 'chosen-by-b_1')).rejects.toThrow(/already exists/);
    expect((await a.host.list()).filter((j) => j.id === 'chosen-by-b_1')).toHaveLength(1);
  });

  it('a watcher whose owner never answers gets a clear error, and nothing is left queued', async () => {
    const { tab, locks } = world();
    // Something else holds the lock and never listens on the channel.
    void locks.manager.request(QUEUE_LOCK, {}, () => new Promise(() => {}));
    const b = tab();
    await b.host.ready;
    expect(b.host.role).toBe('watcher');
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const submitted = b.host.submit(upscale(2), 'enhance');
      const check = expect(submitted).rejects.toThrow(/did not answer/);
      await vi.advanceTimersByTimeAsync(5_001);
      await check;
    } finally {
      vi.useRealTimers();
    }
    expect(await b.host.list()).toEqual([]);
  });
});
