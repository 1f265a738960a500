import { createMemo, For, onMount, Show } from 'solid-js';
import { formatDuration } from '../../format';
import { isActive, queueStore, type QueueRow } from '../../stores/queue';
import { stageLabel } from './JobPanel';

/** Finished jobs shown below the active ones. */
const RECENT = 12;

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

function detail(row: QueueRow): string {
  if (row.phase === 'running' && row.progress) {
    const unit = row.progress.stage === 'upscaler' ? 'tile' : 'step';
    return `${stageLabel(row.progress.stage)} · ${unit} ${row.progress.step}/${row.progress.total}`;
  }
  if (row.phase === 'running') return 'starting';
  if (row.phase === 'queued') return row.position && row.position > 1 ? `position ${row.position}` : 'next';
  const { started, finished, submitted } = row.timings;
  if (finished && started) return formatDuration(finished - started);
  return submitted !== undefined ? shortTime(submitted) : '';
}

/** Every job of the studio (this tab's and earlier ones), newest first; queued and running ones can be cancelled. */
export function QueuePanel(props: { onOpen?: (id: string) => boolean }) {
  const q = queueStore();
  onMount(() => q.want());
  const visible = createMemo(() => {
    const active = q.rows.filter((r) => isActive(r));
    const done = q.rows.filter((r) => !isActive(r)).slice(0, RECENT);
    return [...active, ...done];
  });
  const activeCount = createMemo(() => q.rows.filter((r) => isActive(r)).length);

  return (
    <section class="panel queue-panel" aria-label="Queue" data-testid="queue">
      <div class="queue-header">
        <h3 class="panel-subtitle">Queue</h3>
        <span class="muted small">{activeCount() ? `${activeCount()} waiting or running` : 'idle'}</span>
      </div>
      <Show when={q.error()}>
        <p class="error small">{q.error()}</p>
      </Show>
      <Show when={q.loaded() && visible().length === 0}>
        <p class="muted small">No jobs yet.</p>
      </Show>
      <ul class="queue-list" role="list">
        <For each={visible()}>
          {(row) => (
            <li class="queue-row" classList={{ [`queue-${row.phase}`]: true }} data-testid="queue-row" data-job-id={row.id} data-status={row.phase}>
              <span class="queue-status badge" data-testid="queue-status">
                {row.cancelling && isActive(row) ? 'cancelling' : row.phase}
              </span>
              <button
                type="button"
                class="queue-label truncate"
                title={row.error ? `${row.label}\n${row.error}` : row.label}
                onClick={() => props.onOpen?.(row.id)}
              >
                <span class="queue-kind muted small">{row.kind}</span> {row.label}
              </button>
              <span class="queue-detail muted small num">{detail(row)}</span>
              <Show when={isActive(row)}>
                <button
                  type="button"
                  class="btn btn-small"
                  data-testid="queue-cancel"
                  disabled={row.cancelling}
                  aria-label={`Cancel ${row.label}`}
                  onClick={() => void q.cancel(row.id)}
                >
                  Cancel
                </button>
              </Show>
              <Show when={row.phase === 'failed' && row.error}>
                <span class="queue-error small">{row.error}</span>
              </Show>
            </li>
          )}
        </For>
      </ul>
    </section>
  );
}
