// @vitest-environment node
/** The one job reducer the Generate, Enhance and queue stores share. */
import { describe, expect, it } from 'vitest';
import { elapsedOf, isTerminal, jobFromSummary, newJob, reduceJob, type JobState } from '../../src/app/lib/job-state';
import type { JobEvent } from '../../src/protocol/events';
import type { JobResult } from '../../src/protocol/schemas';

const result = (artifacts: string[]): JobResult => ({ job_id: 'j', success: true, data: {}, artifacts, metadata: {}, error: null });

function run(events: JobEvent[], start: JobState = newJob('j', 0)): JobState {
  return events.reduce((state, event, i) => reduceJob(state, event, (i + 1) * 10), start);
}

describe('reduceJob', () => {
  it('follows a job from queued to finished', () => {
    const state = run([
      { type: 'queued', job_id: 'j', kind: 'generate', position: 2 },
      { type: 'started', job_id: 'j', backend: 'wasm' },
      { type: 'progress', job_id: 'j', stage: 'text_to_image', step: 3, total: 4, elapsed_ms: 120, eta_ms: 40 },
      { type: 'artifact', job_id: 'j', artifact_id: 'a1', name: 'j/generated.png' },
      { type: 'artifact', job_id: 'j', artifact_id: 'a1', name: 'j/generated.png' },
      { type: 'finished', job_id: 'j', result: result(['a1', 'a2']) },
    ]);
    expect(state).toMatchObject({
      id: 'j',
      kind: 'generate',
      phase: 'succeeded',
      position: undefined,
      backend: 'wasm',
      artifacts: ['a1', 'a2'],
      progress: { stage: 'text_to_image', step: 4, total: 4, elapsedMs: 120, etaMs: 40 },
      timings: { submitted: 0, queued: 10, started: 20, finished: 60 },
    });
    expect(state.result?.artifacts).toEqual(['a1', 'a2']);
    expect(elapsedOf(state, 999)).toBe(60);
  });

  it('shows what a job is doing between steps (building a checkpoint) until its next step', () => {
    const building = run([
      { type: 'started', job_id: 'j', backend: 'wasm' },
      { type: 'status', job_id: 'j', message: 'Building the UNet from the checkpoint…' },
    ]);
    expect(building).toMatchObject({ phase: 'running', activity: 'Building the UNet from the checkpoint…' });
    const stepping = reduceJob(building, { type: 'progress', job_id: 'j', stage: 'text_to_image', step: 1, total: 4, elapsed_ms: 50 }, 99);
    expect(stepping.activity).toBeUndefined();
    expect(stepping.progress).toMatchObject({ step: 1, total: 4 });
  });

  it('tracks the queue position until the job starts; a late queued event does not take it back', () => {
    let state = run([{ type: 'queued', job_id: 'j', kind: 'enhance', position: 3 }]);
    expect(state).toMatchObject({ phase: 'queued', position: 3 });
    state = reduceJob(state, { type: 'queued', job_id: 'j', kind: 'enhance', position: 1 }, 20);
    expect(state.position).toBe(1);
    state = reduceJob(state, { type: 'progress', job_id: 'j', stage: 'upscaler', step: 1, total: 9, elapsed_ms: 5 }, 30);
    expect(state).toMatchObject({ phase: 'running', position: undefined, timings: { started: 30 } });
    state = reduceJob(state, { type: 'queued', job_id: 'j', kind: 'enhance', position: 2 }, 40);
    expect(state.phase).toBe('running');
  });

  it('ends failed (with the error and any result), cancelled or interrupted; later events change nothing', () => {
    const failed = run([{ type: 'failed', job_id: 'j', error: 'boom', result: result(['a1']) }]);
    expect(failed).toMatchObject({ phase: 'failed', error: 'boom', result: { artifacts: ['a1'] } });
    expect(run([{ type: 'cancelled', job_id: 'j' }]).phase).toBe('cancelled');
    expect(run([{ type: 'interrupted', job_id: 'j', error: 'tab closed' }])).toMatchObject({ phase: 'interrupted', error: 'tab closed' });
    for (const state of [failed, run([{ type: 'cancelled', job_id: 'j' }])]) {
      expect(isTerminal(state.phase)).toBe(true);
      expect(reduceJob(state, { type: 'started', job_id: 'j', backend: 'wasm' }, 99)).toBe(state);
    }
  });

  it('leaves the state as it is (same object) for other jobs and unknown event types', () => {
    const state = newJob('j', 0, { phase: 'queued' });
    expect(reduceJob(state, { type: 'started', job_id: 'other', backend: 'wasm' }, 1)).toBe(state);
    expect(reduceJob(state, { type: 'paused', job_id: 'j' } as unknown as JobEvent, 1)).toBe(state);
    expect(reduceJob(state, { type: 'artifact', job_id: 'j', artifact_id: 'a', name: 'a' }, 1)).not.toBe(state);
  });

  it('keeps the fields a store adds to a job', () => {
    const state = { ...newJob('j', 0), label: 'a cat', stages: ['text_to_image'] };
    const next = reduceJob(state, { type: 'started', job_id: 'j', backend: 'webgpu' }, 5);
    expect(next.label).toBe('a cat');
    expect(next.stages).toEqual(['text_to_image']);
  });

  it('reads a stored job summary', () => {
    const state = jobFromSummary({
      id: 's',
      kind: 'enhance',
      status: 'failed',
      created_at: 100,
      started_at: 110,
      finished_at: 150,
      error: 'bad image',
      artifacts: ['x'],
      request: {},
    });
    expect(state).toEqual({ id: 's', kind: 'enhance', phase: 'failed', artifacts: ['x'], error: 'bad image', timings: { submitted: 100, started: 110, finished: 150 } });
  });
});
