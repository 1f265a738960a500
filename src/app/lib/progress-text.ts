/**
 * What a job's progress bar and queue row say, from its state alone (pure, unit-tested): the
 * Generate panel's bar, a queue row's detail, the Enhance view's bar.
 */
import { formatDuration, formatEta } from '../format';
import type { JobPhase, JobProgress, JobState } from './job-state';

export interface BarText {
  /** Steps done; absent = indeterminate (waiting, no total known yet). */
  value?: number;
  max?: number;
  text: string;
}

/** What a stage is doing, by the names the Generate view gives its stages. */
export function stageLabel(stage: string): string {
  switch (stage) {
    case 'text_to_image':
      return 'Generating';
    case 'hires_fix':
      return 'Hires fix';
    case 'refiner':
      return 'Refining';
    case 'detailer':
      return 'Detailing';
    case 'upscaler':
      return 'Upscaling';
    default:
      return stage;
  }
}

/** The Generate panel's bar for a job with these stages (names in order). */
export function progressText(job: JobState & { stages: string[] }): BarText {
  const p = job.progress;
  const { submitted, finished } = job.timings;
  switch (job.phase) {
    case 'submitting':
      return { text: 'Sending to the studio…' };
    case 'queued':
      return { text: job.position && job.position > 1 ? `Waiting in the queue (position ${job.position})` : 'Waiting in the queue…' };
    case 'succeeded':
      return { value: 1, max: 1, text: ['Done', submitted !== undefined && finished !== undefined ? formatDuration(finished - submitted) : ''].filter(Boolean).join(' · ') };
    // An ended job's bar stays where it got to: empty (not the indeterminate sliver) if it never ran.
    case 'failed':
      return { value: p?.step ?? 0, max: p?.total ?? 1, text: 'Failed' };
    case 'cancelled':
      return { value: p?.step ?? 0, max: p?.total ?? 1, text: ['Cancelled', submitted !== undefined && finished !== undefined ? formatDuration(finished - submitted) : ''].filter(Boolean).join(' · ') };
    case 'interrupted':
      return { text: 'Interrupted (the tab that ran it was closed)' };
  }
  if (job.activity) return { text: job.activity };
  if (!p) return { text: 'Loading the model…' };
  const unit = p.stage === 'upscaler' ? 'tile' : 'step';
  const stageCount = job.stages.length;
  const stageIndex = Math.max(0, job.stages.indexOf(p.stage)) + 1;
  const parts = [
    stageCount > 1 ? `${stageIndex}/${stageCount} ${stageLabel(p.stage)}` : stageLabel(p.stage),
    `${unit} ${p.step} / ${p.total}`,
    formatDuration(p.elapsedMs),
  ];
  if (p.etaMs !== undefined) parts.push(`ETA ${formatEta(p.etaMs)}`);
  return { value: p.step, max: p.total, text: parts.join(' · ') };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/**
 * "14:05" today, "Nov 24 14:05" before. Written by hand: the first toLocaleString() with options
 * loads the locale's data and takes ~100 ms, a long task in the middle of a generation.
 */
export function shortTime(timestamp: number, now = Date.now()): string {
  const d = new Date(timestamp);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return new Date(now).toDateString() === d.toDateString() ? time : `${MONTHS[d.getMonth()]} ${d.getDate()} ${time}`;
}

/** A queue row's detail: step while running, position while waiting, how long once ended. */
export function queueDetail(row: JobState): string {
  if (row.phase === 'running' && row.progress) {
    const unit = row.progress.stage === 'upscaler' ? 'tile' : 'step';
    return `${stageLabel(row.progress.stage)} · ${unit} ${row.progress.step}/${row.progress.total}`;
  }
  if (row.phase === 'running') return 'starting';
  if (row.phase === 'queued') return row.position && row.position > 1 ? `position ${row.position}` : 'next';
  const { started, finished, submitted } = row.timings;
  // How long it ran; a job that ended before it started (cancelled while queued): how long it waited.
  const from = started ?? submitted;
  if (finished !== undefined && from !== undefined) return formatDuration(finished - from);
  return submitted !== undefined ? shortTime(submitted) : '';
}

// ---------- Enhance ----------

const ENHANCE_STAGE_LABELS: Record<string, string> = { refiner: 'Refiner', detailer: 'Detailer', upscaler: 'Upscaler' };

export function enhanceStageLabel(stage: string): string {
  return ENHANCE_STAGE_LABELS[stage] ?? stage.charAt(0).toUpperCase() + stage.slice(1);
}

export function unitOf(progress: JobProgress): string {
  return /upscal/i.test(progress.stage) ? 'tile' : 'step';
}

/** The worker's ETA, else one from the pace so far. */
export function etaOf(progress: JobProgress): number | undefined {
  if (progress.etaMs !== undefined) return progress.etaMs;
  if (progress.step <= 0 || progress.total <= progress.step) return undefined;
  return (progress.elapsedMs / progress.step) * (progress.total - progress.step);
}

export interface EnhanceBarInput {
  phase: 'idle' | 'submitting' | 'done' | JobPhase;
  /** The stages the job runs, in order. */
  stages: readonly string[];
  progress: JobProgress | null;
  activity: string | null;
  queuePosition: number | null;
  /** The finished job's time, from submit to result. */
  totalMs?: number;
  /** Milliseconds since the job started running (ticks while it runs). */
  runningMs?: number;
}

/** The Enhance view's bar. */
export function enhanceProgressText(input: EnhanceBarInput): BarText {
  const { progress: p, phase, stages } = input;
  const busy = phase === 'submitting' || phase === 'queued' || phase === 'running';
  /** "Refiner (1 of 2)" when the job has several stages, else the stage's name. */
  const stageText = (stage: string) => {
    const index = stages.indexOf(stage);
    return stages.length > 1 && index >= 0 ? `${enhanceStageLabel(stage)} (${index + 1} of ${stages.length})` : enhanceStageLabel(stage);
  };
  if (phase === 'done') {
    const what =
      stages.length > 1
        ? `${stages.map(enhanceStageLabel).join(' → ')} finished`
        : p
          ? `${enhanceStageLabel(p.stage)} · ${unitOf(p)} ${p.total} / ${p.total}`
          : 'finished';
    const parts = [what, input.totalMs !== undefined ? formatDuration(input.totalMs) : ''];
    return { value: p?.total ?? 1, max: p?.total ?? 1, text: parts.filter(Boolean).join(' · ') };
  }
  if (phase === 'submitting') return { text: 'Sending the image to the studio…' };
  if (input.activity && busy) return { text: input.activity };
  if (!p) {
    if (phase === 'queued') {
      const position = input.queuePosition;
      return { text: position ? `Waiting in the queue (position ${position})` : 'Waiting in the queue…' };
    }
    if (phase === 'running') {
      // Nothing counted yet (a tile or step takes a while): say what runs and for how long; the
      // time left follows from the first tile or step.
      const first = stages[0] ?? 'upscaler';
      const doing = first === 'refiner' ? 'loading the checkpoint…' : first === 'upscaler' ? 'first tile' : 'starting';
      const unit = first === 'upscaler' ? 'tile' : 'step';
      const parts = [stageText(first), doing];
      if (input.runningMs !== undefined) parts.push(formatDuration(input.runningMs), `time left after the first ${unit}`);
      return { text: parts.join(' · ') };
    }
    return { text: '' };
  }
  const parts = [stageText(p.stage), `${unitOf(p)} ${p.step} / ${p.total}`, formatDuration(p.elapsedMs)];
  const eta = etaOf(p);
  if (busy && eta !== undefined) parts.push(`ETA ${formatEta(eta)}`);
  return { value: p.step, max: p.total, text: parts.join(' · ') };
}
