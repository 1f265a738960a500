import { createMemo, For, onMount, Show } from 'solid-js';
import { queueDetail } from '../../lib/progress-text';
import { isActive, queueStore } from '../../stores/queue';

/** Finished jobs shown below the active ones. */
const RECENT = 12;

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
              <span class="queue-detail muted small num">{queueDetail(row)}</span>
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
