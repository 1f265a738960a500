import { createMemo, For, Show } from 'solid-js';
import type { ImportProgress } from '../../../protocol/models';
import { ProgressBar } from '../../components/ProgressBar';
import { basename, formatBytes, plainError } from '../../format';
import type { ImportRun, ModelsStore } from '../../stores/models';

const PHASE_LABELS: Record<ImportProgress['phase'], string> = {
  storing: 'Storing',
  verifying: 'Verifying',
  done: 'Imported',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

const FINISHED: ReadonlySet<ImportProgress['phase']> = new Set(['verifying', 'done', 'failed', 'cancelled']);

/** Over all models of the run: each model's progress reports count its own bytes only. */
function overall(run: ImportRun): { value?: number; max?: number; text: string } {
  const count = run.models.length;
  const noun = count === 1 ? 'model' : 'models';
  if (!run.latest) return { text: `Starting the import of ${count} ${noun}…` };
  let total = 0;
  let stored = 0;
  let finished = 0;
  for (const name of run.models) {
    const p = run.byModel[name];
    const size = p && p.bytes_total > 0 ? p.bytes_total : (run.sizes[name] ?? 0);
    total += size;
    if (!p) continue;
    if (FINISHED.has(p.phase)) stored += size;
    else stored += Math.min(size, p.bytes_done);
    if (p.phase === 'done' || p.phase === 'failed' || p.phase === 'cancelled') finished++;
  }
  const parts = [`${finished} of ${count} ${noun} done`];
  if (total > 0) parts.push(`${formatBytes(stored)} of ${formatBytes(total)} stored`);
  return { value: total > 0 ? stored : undefined, max: total > 0 ? total : undefined, text: parts.join(' · ') };
}

function fileLine(p: ImportProgress): { value?: number; max?: number; text: string } {
  if (p.phase === 'verifying') return { text: p.message ?? `Verifying ${p.model} in the runtime…` };
  const name = p.file ? basename(p.file) : p.model;
  if (p.file_bytes && p.file_bytes > 0) {
    const done = p.file_bytes_done ?? 0;
    return { value: done, max: p.file_bytes, text: `${name}: ${formatBytes(done)} of ${formatBytes(p.file_bytes)}` };
  }
  return { text: p.message ?? name };
}

/** Progress of a running import (overall, current file, per model), with cancel. */
export function ImportRunning(props: { store: ModelsStore; run: ImportRun }) {
  const s = props.store;
  const total = createMemo(() => overall(props.run));
  const current = createMemo(() => {
    const p = props.run.latest;
    return p && (p.phase === 'storing' || p.phase === 'verifying') ? fileLine(p) : null;
  });

  return (
    <section class="panel import-status" aria-label="Import in progress">
      <div class="panel-header">
        <h3 class="panel-subtitle">Importing</h3>
        <div class="spacer" />
        <button
          type="button"
          class="btn btn-danger"
          data-testid="import-cancel"
          disabled={!props.run.importId || s.cancelling()}
          title={props.run.importId ? undefined : 'Can be cancelled once the import reports its progress.'}
          onClick={() => void s.cancelImport()}
        >
          {s.cancelling() ? 'Cancelling…' : 'Cancel'}
        </button>
      </div>
      <ProgressBar testid="import-progress" label="Import progress" value={total().value} max={total().max} text={total().text} />
      <Show when={current()}>
        {(line) => <ProgressBar testid="import-file-progress" label="Current file" value={line().value} max={line().max} text={line().text} />}
      </Show>
      <ul class="import-models" role="list">
        <For each={props.run.models}>
          {(name) => {
            const p = () => props.run.byModel[name];
            return (
              <li data-testid="import-model" data-phase={p()?.phase ?? 'waiting'}>
                <span class="truncate">{name}</span>
                <span class={`status import-phase-${p()?.phase ?? 'waiting'}`}>{p() ? PHASE_LABELS[p()!.phase] : 'Waiting'}</span>
                <Show when={p()?.phase === 'failed' && p()?.message}>
                  <span class="muted small">{p()!.message}</span>
                </Show>
              </li>
            );
          }}
        </For>
      </ul>
    </section>
  );
}

/** What the last import did: one line per model, errors as alerts. */
export function ImportResults(props: { store: ModelsStore }) {
  const s = props.store;
  const outcomes = () => s.outcomes() ?? [];
  return (
    <section class="panel import-results" aria-label="Import results" data-testid="import-results">
      <div class="panel-header">
        <h3 class="panel-subtitle">{s.outcomesCancelled() ? 'Import cancelled' : 'Import finished'}</h3>
        <div class="spacer" />
        <button type="button" class="btn btn-ghost" data-testid="import-results-dismiss" onClick={() => s.dismissOutcomes()}>
          Close
        </button>
      </div>
      <Show when={s.importError()}>
        <p class="error" role="alert" data-testid="import-error">
          {s.importError()}
        </p>
      </Show>
      <Show when={s.outcomesCancelled() && outcomes().length === 0}>
        <p class="muted" role="status">The import was cancelled; nothing of it was kept.</p>
      </Show>
      <ul class="import-outcomes" role="list">
        <For each={outcomes()}>
          {(o) => (
            <li data-testid="import-outcome" data-ok={o.ok ? 'true' : 'false'}>
              <Show
                when={o.ok}
                fallback={
                  <Show
                    when={s.outcomesCancelled() && /cancel/i.test(o.error ?? '')}
                    fallback={
                      <p class="error" role="alert" data-testid="import-error">
                        <strong>{o.name}</strong>: {o.error ? plainError(o.error) : 'the import failed.'}
                      </p>
                    }
                  >
                    <span class="status status-cancelled">✕</span> <strong>{o.name}</strong>{' '}
                    <span class="muted small">cancelled; nothing of it was kept.</span>
                  </Show>
                }
              >
                <span class="status status-done">✓</span> <strong>{o.name}</strong>{' '}
                <span class="muted small">
                  imported{o.model?.status === 'error' ? `, but: ${o.model.status_message ?? 'it did not pass verification'}` : ''}
                </span>
              </Show>
            </li>
          )}
        </For>
      </ul>
    </section>
  );
}
