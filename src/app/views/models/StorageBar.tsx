import { Show } from 'solid-js';
import type { StorageSummary } from '../../../protocol/models';
import { formatBytes, plainError } from '../../format';

function describe(s: StorageSummary): string {
  if (s.usage === null && s.quota === null) return 'This browser does not report its storage use.';
  if (s.quota === null) return `${formatBytes(s.usage ?? 0)} used`;
  const percent = s.quota > 0 && s.usage !== null ? Math.round((s.usage / s.quota) * 100) : null;
  return `${formatBytes(s.usage ?? 0)} of ${formatBytes(s.quota)} used${percent !== null ? ` (${percent}%)` : ''}`;
}

function persistence(persisted: boolean | null): string {
  if (persisted === true) return 'Persistent: the browser keeps these files unless you remove them.';
  if (persisted === false) return 'Not persistent: the browser may delete stored models when the disk runs low.';
  return 'Whether the browser keeps these files for good is not known.';
}

/** Usage vs quota from `models.storage()`, and whether storage is persistent. */
export function StorageBar(props: { summary: StorageSummary | undefined; error?: unknown; loading: boolean }) {
  const fraction = () => {
    const s = props.summary;
    if (!s || s.usage === null || !s.quota) return null;
    return Math.min(1, Math.max(0, s.usage / s.quota));
  };
  return (
    <div class="storage-bar" data-testid="storage-bar" aria-live="polite">
      <Show
        when={props.summary}
        fallback={
          <span class="muted small">
            {props.error ? `Storage use unknown: ${plainError(props.error)}` : props.loading ? 'Measuring storage…' : ''}
          </span>
        }
      >
        {(s) => (
          <>
            <div class="storage-text">
              <span data-testid="storage-usage">{describe(s())}</span>
              <span
                class="muted small"
                data-testid="storage-persisted"
                data-persisted={s().persisted === null ? 'unknown' : String(s().persisted)}
              >
                {persistence(s().persisted)}
              </span>
            </div>
            <Show when={fraction() !== null}>
              <div
                class="storage-track"
                role="meter"
                aria-label="Storage used"
                aria-valuemin={0}
                aria-valuemax={s().quota ?? undefined}
                aria-valuenow={s().usage ?? undefined}
                aria-valuetext={describe(s())}
              >
                <div
                  class="storage-fill"
                  classList={{ high: (fraction() ?? 0) > 0.85 }}
                  style={{ width: `${((fraction() ?? 0) * 100).toFixed(1)}%` }}
                />
              </div>
            </Show>
          </>
        )}
      </Show>
    </div>
  );
}
