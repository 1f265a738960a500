// @vitest-environment node
/** Job handles against a test double of the worker: one subscription, events dispatched by job id. */
import { describe, expect, it, vi } from 'vitest';
import { createJobClient, type JobListener, type JobTransport } from '../../src/client/job-handle';
import type { JobEvent } from '../../src/protocol/events';
import type { JobRequest, JobResult } from '../../src/protocol/schemas';

const request: JobRequest = { pipeline_config: { stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: 2 } }] }, input_data: {} };

const ok = (job_id: string): JobResult => ({ job_id, success: true, data: {}, artifacts: ['a1'], metadata: {}, error: null });

/**
 * A stand-in for the studio worker: it emits a job's first events from inside `submit`, before
 * answering (as the real worker's queue does), and lets a test emit more later.
 */
function fakeWorker(options: { eventsDuringSubmit?: (jobId: string) => JobEvent[]; refuse?: string } = {}) {
  const listeners = new Set<JobListener>();
  const submitted: Array<{ job_id: string; kind: string; transfer: Transferable[] }> = [];
  const emit = (event: JobEvent) => {
    for (const listener of listeners) listener(event);
  };
  const transport: JobTransport = {
    submit: vi.fn(async (req, transfer) => {
      if (options.refuse) throw new Error(options.refuse);
      submitted.push({ job_id: req.job_id, kind: req.kind, transfer });
      for (const event of options.eventsDuringSubmit?.(req.job_id) ?? []) emit(event);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { job_id: req.job_id };
    }),
    cancel: vi.fn(async (jobId: string) => jobId.length > 0),
    subscribe: vi.fn(async (listener: JobListener) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    }),
  };
  return { transport, emit, submitted, listeners };
}

const ids = () => {
  let n = 0;
  return () => `job-${++n}`;
};

describe('job handles', () => {
  it('events emitted before submit resolves are not lost (replayed to the first listener)', async () => {
    const worker = fakeWorker({
      eventsDuringSubmit: (id) => [
        { type: 'queued', job_id: id, kind: 'enhance', position: 1 },
        { type: 'started', job_id: id, backend: 'wasm' },
      ],
    });
    const client = createJobClient(worker.transport, { newId: ids() });
    const handle = await client.submitJob(request, 'enhance');
    expect(handle.id).toBe('job-1');
    expect(worker.submitted).toEqual([{ job_id: 'job-1', kind: 'enhance', transfer: [] }]);
    const seen: string[] = [];
    handle.on((e) => seen.push(e.type));
    expect(seen).toEqual(['queued', 'started']);
    worker.emit({ type: 'progress', job_id: 'job-1', stage: 'upscaler', step: 1, total: 4, elapsed_ms: 10 });
    expect(seen).toEqual(['queued', 'started', 'progress']);
  });

  it('uses one subscription for every handle and every all-jobs listener', async () => {
    const worker = fakeWorker();
    const client = createJobClient(worker.transport, { newId: ids() });
    const all: string[] = [];
    client.onAnyEvent((e) => all.push(e.job_id));
    await client.submitJob(request, 'enhance');
    await client.submitJob(request, 'generate');
    expect(worker.transport.subscribe).toHaveBeenCalledTimes(1);
    expect(worker.listeners.size).toBe(1);
    worker.emit({ type: 'queued', job_id: 'job-2', kind: 'generate', position: 1 });
    worker.emit({ type: 'queued', job_id: 'other-tab', kind: 'generate', position: 2 });
    expect(all).toEqual(['job-2', 'other-tab']);
  });

  it('two handles do not see each other\'s events', async () => {
    const worker = fakeWorker({ eventsDuringSubmit: (id) => [{ type: 'queued', job_id: id, kind: 'enhance', position: 1 }] });
    const client = createJobClient(worker.transport, { newId: ids() });
    const a = await client.submitJob(request, 'enhance');
    const b = await client.submitJob(request, 'enhance');
    const seenA: JobEvent[] = [];
    const seenB: JobEvent[] = [];
    a.on((e) => seenA.push(e));
    b.on((e) => seenB.push(e));
    worker.emit({ type: 'artifact', job_id: b.id, artifact_id: 'x', name: 'x.png' });
    worker.emit({ type: 'progress', job_id: 'someone-else', stage: 's', step: 1, total: 2, elapsed_ms: 1 });
    expect(seenA.map((e) => [e.job_id, e.type])).toEqual([['job-1', 'queued']]);
    expect(seenB.map((e) => [e.job_id, e.type])).toEqual([
      ['job-2', 'queued'],
      ['job-2', 'artifact'],
    ]);
  });

  it('cancel forwards to the worker with the handle\'s id', async () => {
    const worker = fakeWorker();
    const client = createJobClient(worker.transport, { newId: ids() });
    const handle = await client.submitJob(request, 'enhance');
    await expect(handle.cancel()).resolves.toBe(true);
    expect(worker.transport.cancel).toHaveBeenCalledWith('job-1');
  });

  it('result resolves on each terminal event', async () => {
    const worker = fakeWorker();
    const client = createJobClient(worker.transport, { newId: ids() });
    const [finished, failed, failedWithResult, cancelled, interrupted] = await Promise.all(
      [1, 2, 3, 4, 5].map(() => client.submitJob(request, 'generate')),
    );
    worker.emit({ type: 'finished', job_id: finished.id, result: ok(finished.id) });
    worker.emit({ type: 'failed', job_id: failed.id, error: 'out of memory' });
    worker.emit({ type: 'failed', job_id: failedWithResult.id, error: 'stage 2 failed', result: { ...ok(failedWithResult.id), success: false, error: null } });
    worker.emit({ type: 'cancelled', job_id: cancelled.id });
    worker.emit({ type: 'interrupted', job_id: interrupted.id, error: 'the tab closed' });
    await expect(finished.result).resolves.toEqual(ok(finished.id));
    await expect(failed.result).resolves.toMatchObject({ job_id: failed.id, success: false, error: 'out of memory', artifacts: [] });
    await expect(failedWithResult.result).resolves.toMatchObject({ success: false, error: 'stage 2 failed', artifacts: ['a1'] });
    await expect(cancelled.result).resolves.toMatchObject({ job_id: cancelled.id, success: false, error: 'cancelled' });
    await expect(interrupted.result).resolves.toMatchObject({ success: false, error: 'the tab closed' });
  });

  it('a job that ends before anyone listens still resolves, and a late listener gets its events', async () => {
    const worker = fakeWorker({
      eventsDuringSubmit: (id) => [
        { type: 'queued', job_id: id, kind: 'enhance', position: 1 },
        { type: 'finished', job_id: id, result: ok(id) },
      ],
    });
    const client = createJobClient(worker.transport, { newId: ids() });
    const handle = await client.submitJob(request, 'enhance');
    await expect(handle.result).resolves.toEqual(ok('job-1'));
    const seen: string[] = [];
    handle.on((e) => seen.push(e.type));
    expect(seen).toEqual(['queued', 'finished']);
    // Nothing after the end reaches it.
    worker.emit({ type: 'progress', job_id: 'job-1', stage: 's', step: 1, total: 1, elapsed_ms: 1 });
    expect(seen).toEqual(['queued', 'finished']);
  });

  it('keeps a bounded buffer: old progress events go first, the rest stay in order', async () => {
    const worker = fakeWorker();
    const client = createJobClient(worker.transport, { newId: ids(), bufferLimit: 3 });
    const handle = await client.submitJob(request, 'enhance');
    worker.emit({ type: 'started', job_id: handle.id, backend: 'wasm' });
    for (let step = 1; step <= 5; step++) worker.emit({ type: 'progress', job_id: handle.id, stage: 's', step, total: 5, elapsed_ms: step });
    const seen: string[] = [];
    handle.on((e) => seen.push(e.type === 'progress' ? `progress ${e.step}` : e.type));
    expect(seen).toEqual(['started', 'progress 4', 'progress 5']);
  });

  it('listeners can detach; a listener that throws does not stop the others', async () => {
    const worker = fakeWorker();
    const client = createJobClient(worker.transport, { newId: ids() });
    const handle = await client.submitJob(request, 'enhance');
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const seen: number[] = [];
    handle.on(() => {
      throw new Error('boom');
    });
    const off = handle.on((e) => e.type === 'progress' && seen.push(e.step));
    worker.emit({ type: 'progress', job_id: handle.id, stage: 's', step: 1, total: 2, elapsed_ms: 1 });
    off();
    worker.emit({ type: 'progress', job_id: handle.id, stage: 's', step: 2, total: 2, elapsed_ms: 2 });
    expect(seen).toEqual([1]);
    expect(error).toHaveBeenCalled();
    error.mockRestore();
  });

  it('a refused submit rejects, and the subscription is retried after it failed to start', async () => {
    const refusing = createJobClient(fakeWorker({ refuse: 'job_id must be 1 to 100 letters' }).transport, { newId: ids() });
    await expect(refusing.submitJob(request, 'enhance')).rejects.toThrow(/job_id must be/);

    const worker = fakeWorker();
    let attempts = 0;
    const flaky: JobTransport = {
      ...worker.transport,
      subscribe: async (listener) => {
        if (++attempts === 1) throw new Error('the studio worker failed to start');
        return worker.transport.subscribe(listener);
      },
    };
    const client = createJobClient(flaky, { newId: ids() });
    await expect(client.submitJob(request, 'enhance')).rejects.toThrow(/failed to start/);
    expect(worker.transport.submit).not.toHaveBeenCalled();
    await expect(client.submitJob(request, 'enhance')).resolves.toMatchObject({ id: 'job-1' });
  });

  it('passes buffers to transfer along with the request', async () => {
    const worker = fakeWorker();
    const client = createJobClient(worker.transport, { newId: ids() });
    const bytes = new ArrayBuffer(8);
    await client.submitJob({ ...request, input_data: { image_file: { name: 'a.png', type: 'image/png', bytes } } }, 'enhance', { transfer: [bytes] });
    expect(worker.submitted[0].transfer).toEqual([bytes]);
  });
});
