// Issue 13, defect 7: a job cancelled while queued shows an empty bar (no indeterminate sliver)
// and a duration like the others, not a clock time; Enhance says what runs and for how long
// before the first tile, never a bare "Running…".
import { describe, expect, it } from 'vitest';
import { newJob, reduceJob } from '../../src/app/lib/job-state';
import { enhanceProgressText, progressText, queueDetail } from '../../src/app/lib/progress-text';

const at = (ms: number) => ms;

function cancelledWhileQueued() {
  let job = newJob('j1', at(1_000), { kind: 'generate' });
  job = reduceJob(job, { type: 'queued', job_id: 'j1', kind: 'generate', position: 2 }, at(1_050));
  return reduceJob(job, { type: 'cancelled', job_id: 'j1' }, at(4_250));
}

describe('a job cancelled while queued', () => {
  it('has an empty, determinate bar in the Generate panel, and says how long it waited', () => {
    const bar = progressText({ ...cancelledWhileQueued(), stages: ['text_to_image'] });
    expect(bar.value).toBe(0);
    expect(bar.max).toBeGreaterThan(0);
    expect(bar.text).toBe('Cancelled · 3.3 s');
  });

  it('shows a duration in its queue row, as the other ended rows do', () => {
    expect(queueDetail(cancelledWhileQueued())).toBe('3.3 s');
    // A job that ran: from start to end, as before.
    const ran = { ...cancelledWhileQueued(), timings: { submitted: 1_000, started: 2_000, finished: 4_500 } };
    expect(queueDetail(ran)).toBe('2.5 s');
  });

  it('a cancelled job that had run keeps its bar at the step it reached', () => {
    const job = { ...cancelledWhileQueued(), progress: { stage: 'text_to_image', step: 7, total: 20, elapsedMs: 900 }, stages: ['text_to_image'] };
    expect(progressText(job)).toMatchObject({ value: 7, max: 20 });
  });
});

describe('Enhance before the first tile', () => {
  it('names the stage and the time it has run, not a bare "Running…"', () => {
    const bar = enhanceProgressText({ phase: 'running', stages: ['upscaler'], progress: null, activity: null, queuePosition: null, runningMs: 2_400 });
    expect(bar.text).not.toMatch(/^Running…$/);
    expect(bar.text).toBe('Upscaler · first tile · 2.4 s · time left after the first tile');
  });

  it('gives the time left from the first tile on', () => {
    const bar = enhanceProgressText({
      phase: 'running',
      stages: ['upscaler'],
      progress: { stage: 'upscaler', step: 1, total: 9, elapsedMs: 1_000 },
      activity: null,
      queuePosition: null,
      runningMs: 1_100,
    });
    expect(bar).toMatchObject({ value: 1, max: 9 });
    expect(bar.text).toContain('ETA 8 s');
  });
});
