import { createMemo, For, onMount, Show } from 'solid-js';
import { formatDuration } from '../../format';
import { ACTIVE_STATUSES, queueStore, type QueueRow } from '../../stores/queue';
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
  if (row.status === 'running' && row.progress) {
    const unit = row.progress.stage === 'upscaler' ? 'tile' : 'step';
    return `${stageLabel(row.progress.stage)} · ${unit} ${row.progress.step}/${row.progress.total}`;
  }
  if (row.status === 'running') return 'starting';
  if (row.status === 'queued') return row.position && row.position > 1 ? `position ${row.position}` : 'next';
  if (row.finished_at && row.started_at) return formatDuration(row.finished_at - row.started_at);
  return shortTime(row.created_at);
}

/** Every job of the studio (this tab's and earlier ones), newest first; queued and running ones can be cancelled. */
export function QueuePanel(props: { onOpen?: (id: string) => boolean }) {
  const q = queueStore();
  onMount(() => q.want());
  const visible = createMemo(() => {
    const active = q.rows.filter((r) => ACTIVE_STATUSES.has(r.status));
    const done = q.rows.filter((r) => !ACTIVE_STATUSES.has(r.status)).slice(0, RECENT);
    return [...active, ...done];
  });
  const activeCount = createMemo(() => q.rows.filter((r) => ACTIVE_STATUSES.has(r.status)).length);

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
            <li class="queue-row" classList={{ [`queue-${row.status}`]: true }} data-testid="queue-row" data-job-id={row.id} data-status={row.status}>
              <span class="queue-status badge" data-testid="queue-status">
                {row.cancelling && ACTIVE_STATUSES.has(row.status) ? 'cancelling' : row.status}
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
              <Show when={ACTIVE_STATUSES.has(row.status)}>
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
              <Show when={row.status === 'failed' && row.error}>
                <span class="queue-error small">{row.error}</span>
              </Show>
            </li>
          )}
        </For>
      </ul>
    </section>
  );
}
