import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { decodeImageFile } from '../../src/media/decode-image';
import { decodePng, encodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import type { JobEvent } from '../../src/protocol/events';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { StorageFullError } from '../../src/storage/errors';
import { JobRepository } from '../../src/storage/jobs';
import { openStudioDb } from '../../src/storage/schema';
import { JobQueue } from '../../workers/job-queue';
import { createBoxUpscaler } from '../helpers/test-upscaler';

const astronautBytes = new Uint8Array(readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url)));
let dbCount = 0;

function setup(options: { gate?: Promise<void> } = {}) {
  const db = openStudioDb({ name: `queue-test-${++dbCount}` });
  const jobs = new JobRepository(db);
  const artifacts = new ArtifactRepository(db);
  const events: JobEvent[] = [];
  const queue = new JobQueue({
    jobs,
    artifacts,
    backend: () => 'test',
    decodeImage: decodeImageFile,
    encodePng,
    upscalers: async () => ({
      async load(model, factor) {
        if (model && model !== 'box') throw new Error(`unknown upscaler model '${model}'`);
        const inner = createBoxUpscaler(factor, 1, 64);
        return {
          ...inner,
          // Lets a test hold a job inside its first tile.
          run: async (t) => {
            await options.gate;
            return inner.run(t);
          },
        };
      },
      async available() {
        return [{ name: 'box', scale: 2 }];
      },
    }),
  });
  queue.subscribe((e) => void events.push(e));
  return { queue, jobs, artifacts, events };
}

const upscale = (factor: unknown, bytes: Uint8Array = astronautBytes, name = 'astronaut.png') => ({
  pipeline_config: { stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: factor } }] },
  input_data: { image_file: { name, type: 'image/png', bytes: bytes.slice().buffer } },
});

describe('JobQueue', () => {
  it("keeps a painted mask's PNG with the job record (restorable), not in the images' JSON", async () => {
    const { queue, jobs, artifacts } = setup();
    const mask = encodePng({ width: 8, height: 8, data: new Uint8ClampedArray(8 * 8 * 4).fill(255) });
    const request = upscale(2);
    const input = { ...request.input_data, mask_file: { name: 'mask.png', type: 'image/png', bytes: mask.slice().buffer } };
    const { job_id, done } = await queue.submit({ ...request, input_data: input });
    const result = await done;
    expect(result.error).toBeNull();
    const stored = (await jobs.get(job_id))!.request as { input_data: { mask_file: { bytes: number; png: ArrayBuffer } } };
    expect(stored.input_data.mask_file.bytes).toBe(mask.byteLength);
    expect(Buffer.from(stored.input_data.mask_file.png).equals(Buffer.from(mask))).toBe(true);
    const png = new Uint8Array(await (await artifacts.getBlob(result.artifacts[0]))!.arrayBuffer());
    const ours = JSON.parse(readPngTextChunks(png).find((c) => c.keyword === 'media-lab')!.text);
    expect(ours.job.input_data.mask_file).toEqual({ name: 'mask.png', type: 'image/png', bytes: mask.byteLength });
  });

  it('runs an upscale job: artifact stored, job succeeded, events in order', async () => {
    const { queue, jobs, artifacts, events } = setup();
    const { job_id, done } = await queue.submit(upscale(2));
    const result = await done;
    expect(result.error).toBeNull();
    expect(result.success).toBe(true);
    expect(result.artifacts).toHaveLength(1);
    expect(result.data.image).toEqual({ width: 1024, height: 1024 });
    expect(result.data.image_file).toBeUndefined();

    const record = await artifacts.get(result.artifacts[0]);
    expect(record).toMatchObject({ job_id, name: `${job_id}/generated_upscaled.png`, width: 1024, height: 1024, stage: 'upscaler' });
    const png = decodePng(new Uint8Array(await (await artifacts.getBlob(result.artifacts[0]))!.arrayBuffer()));
    expect([png.width, png.height]).toEqual([1024, 1024]);

    const job = await jobs.get(job_id);
    expect(job).toMatchObject({ status: 'succeeded', artifacts: result.artifacts, error: null });
    // The stored request has no image bytes, only a description of them.
    expect((job!.request as { input_data: { image_file: unknown } }).input_data.image_file).toEqual({
      name: 'astronaut.png',
      type: 'image/png',
      bytes: astronautBytes.byteLength,
    });

    const types = events.filter((e) => e.job_id === job_id).map((e) => e.type);
    expect(types[0]).toBe('queued');
    expect(types[1]).toBe('started');
    expect(types).toContain('progress');
    expect(types.at(-2)).toBe('artifact');
    expect(types.at(-1)).toBe('finished');
  });

  it.each([
    [7, /upscale_factor must be one of 2, 3, 4, 8/],
    [0, /upscale_factor must be one of 2, 3, 4, 8/],
  ])('fails a factor of %s with a clear error and no artifact', async (factor, message) => {
    const { queue, jobs, artifacts } = setup();
    const { job_id, done } = await queue.submit(upscale(factor));
    const result = await done;
    expect(result.success).toBe(false);
    expect(result.error).toMatch(message);
    expect(await artifacts.count()).toBe(0);
    expect((await jobs.get(job_id))?.status).toBe('failed');
  });

  it('runs a job under the id its caller chose, and refuses an id already queued, running or stored', async () => {
    let release!: () => void;
    const { queue, jobs, events } = setup({ gate: new Promise<void>((r) => (release = r)) });
    const running = await queue.submit(upscale(2), 'enhance', 'mine-1');
    const waiting = await queue.submit(upscale(2), 'enhance', 'mine-2');
    expect([running.job_id, waiting.job_id]).toEqual(['mine-1', 'mine-2']);
    expect(events.find((e) => e.type === 'queued')?.job_id).toBe('mine-1');
    await expect(queue.submit(upscale(2), 'enhance', 'mine-1')).rejects.toThrow("a job with id 'mine-1' already exists");
    await expect(queue.submit(upscale(2), 'enhance', 'mine-2')).rejects.toThrow(/already exists/);
    release();
    expect((await running.done).success).toBe(true);
    expect((await waiting.done).success).toBe(true);
    await expect(queue.submit(upscale(2), 'enhance', 'mine-1')).rejects.toThrow(/already exists/);
    expect((await jobs.list()).map((j) => j.id).sort()).toEqual(['mine-1', 'mine-2']);
  });

  it('fails an unknown stage type and a malformed request', async () => {
    const { queue } = setup();
    const a = await (await queue.submit({ pipeline_config: { stages: [{ stage_type: 'warp' }] }, input_data: {} })).done;
    expect(a.error).toMatch(/unknown stage_type 'warp'/);
    const b = await (await queue.submit('nonsense')).done;
    expect(b.error).toMatch(/\{pipeline_config, input_data\}/);
  });

  it.each([
    ['a zero-byte file', new Uint8Array(0), /'bad.png' is empty/],
    ['a non-image file', new TextEncoder().encode('hello, this is not a picture at all'), /not an image this app can read/],
    ['a truncated PNG', astronautBytes.slice(0, 4000), /truncated|damaged/],
    [
      'a 30000×30000 PNG header',
      (() => {
        const b = astronautBytes.slice(0, 33);
        new DataView(b.buffer).setUint32(16, 30000);
        new DataView(b.buffer).setUint32(20, 30000);
        return b;
      })(),
      /30000×30000.*8192/,
    ],
  ])('refuses %s with a clear message; the queue goes on', async (_label, bytes, message) => {
    const { queue, artifacts, jobs } = setup();
    const bad = await queue.submit(upscale(2, bytes, 'bad.png'));
    const good = await queue.submit(upscale(2));
    const badResult = await bad.done;
    expect(badResult.success).toBe(false);
    expect(badResult.error).toMatch(message);
    expect((await jobs.get(bad.job_id))?.status).toBe('failed');
    expect((await good.done).success).toBe(true);
    expect(await artifacts.count()).toBe(1);
  });

  it('cancels a running job between tiles and a queued one before it starts', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { queue, jobs, artifacts, events } = setup({ gate });
    const running = await queue.submit(upscale(2));
    const waiting = await queue.submit(upscale(2));
    // Wait until the first job is inside its first tile.
    await new Promise<void>((resolve) => {
      const id = setInterval(() => {
        if (events.some((e) => e.type === 'started' && e.job_id === running.job_id)) {
          clearInterval(id);
          resolve();
        }
      }, 5);
    });
    expect(await queue.cancel(waiting.job_id)).toBe(true);
    expect(await queue.cancel(running.job_id)).toBe(true);
    release();
    const r1 = await running.done;
    const r2 = await waiting.done;
    expect(r1.success).toBe(false);
    expect(r2.success).toBe(false);
    expect((await jobs.get(running.job_id))?.status).toBe('cancelled');
    expect((await jobs.get(waiting.job_id))?.status).toBe('cancelled');
    expect(await artifacts.count()).toBe(0);
    // Only one tile ran (of the 100+ a 512×512 image needs at tile 64).
    expect(events.filter((e) => e.type === 'progress' && e.job_id === running.job_id).length).toBeLessThanOrEqual(1);
    expect(events.filter((e) => e.type === 'cancelled').map((e) => e.job_id).sort()).toEqual(
      [running.job_id, waiting.job_id].sort(),
    );
    expect(await queue.cancel('no-such-job')).toBe(false);
  });

  it('storage full while saving the result: the job fails saying so, nothing half-saved, the next job runs', async () => {
    const { queue, jobs, artifacts } = setup();
    vi.spyOn(artifacts, 'save').mockRejectedValueOnce(new StorageFullError());
    const full = await queue.submit(upscale(2));
    const next = await queue.submit(upscale(2));
    const failed = await full.done;
    expect(failed.success).toBe(false);
    expect(failed.error).toMatch(/storage for this app is full.*deleting images from the gallery/s);
    expect((await jobs.get(full.job_id))?.status).toBe('failed');
    expect((await next.done).success).toBe(true);
    expect(await artifacts.count()).toBe(1);
  });

  it('keeps the whole input while a job waits, and runs resumed jobs in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { queue, jobs, events } = setup({ gate });
    const first = await queue.submit(upscale(2));
    const second = await queue.submit(upscale(2));
    // The waiting job's image bytes are kept (for a tab that takes over), not in the job row.
    const kept = await jobs.getInput(second.job_id);
    expect((kept!.input_data.image_file as { bytes: ArrayBuffer }).bytes.byteLength).toBe(astronautBytes.byteLength);
    expect(queue.pending()).toEqual([first.job_id, second.job_id]);
    release();
    await first.done;
    await second.done;
    expect(await jobs.getInput(second.job_id)).toBeUndefined();

    // Resume: jobs found in storage run oldest first, with their stored input.
    await jobs.create({ id: 'r1', kind: 'enhance', request: {}, created_at: 1 }, upscale(2));
    await jobs.create({ id: 'r2', kind: 'enhance', request: {}, created_at: 2 }, upscale(3));
    const { resumable } = await jobs.recoverAfterRestart();
    queue.resume(resumable);
    await vi.waitFor(async () => expect((await jobs.get('r2'))?.status).toBe('succeeded'), { timeout: 20_000 });
    expect((await jobs.get('r1'))?.status).toBe('succeeded');
    const starts = events.filter((e) => e.type === 'started').map((e) => e.job_id);
    expect(starts.slice(-2)).toEqual(['r1', 'r2']);
  });
});
