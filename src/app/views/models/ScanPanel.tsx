import { createMemo, For, Show } from 'solid-js';
import type { FamilySettings, ModelType, ScannedModel } from '../../../protocol/models';
import { formatBytes } from '../../format';
import type { ModelsStore, ScanDraft } from '../../stores/models';
import { ComponentList } from './ComponentList';
import { FamilyFields } from './FamilyFields';
import { MODEL_TYPE_LIST, typeLabel } from './labels';

/** What a scan found: models to choose, refused files, the ignored count, and "Import selected". */
export function ScanPanel(props: { store: ModelsStore }) {
  const s = props.store;
  const report = () => s.report()!;
  const chosen = createMemo(() => s.selections().length);
  const blocked = () => s.draftProblems().size > 0;

  return (
    <section class="panel scan-panel" aria-labelledby="scan-title" data-testid="scan-results">
      <div class="panel-header">
        <h3 id="scan-title" class="panel-subtitle">
          Found {report().models.length} {report().models.length === 1 ? 'model' : 'models'}
        </h3>
        <div class="spacer" />
        <button type="button" class="btn btn-ghost" data-testid="scan-dismiss" disabled={s.importing()} onClick={() => s.dismissScan()}>
          Discard
        </button>
      </div>

      <Show when={report().models.length === 0}>
        <p class="muted">No model was found in these files.</p>
      </Show>

      <ul class="scan-list" role="list">
        <For each={report().models}>
          {(model) => {
            const draft = () => s.drafts.find((d) => d.index === model.index);
            return (
              <Show when={draft()}>
                {(d) => (
                  <ScannedModelCard
                    model={model}
                    draft={d()}
                    problem={s.draftProblems().get(model.index) ?? null}
                    disabled={s.importing()}
                    onChange={(patch) => s.setDrafts((x) => x.index === model.index, patch)}
                  />
                )}
              </Show>
            );
          }}
        </For>
      </ul>

      <Show when={report().refused.length > 0}>
        <div class="scan-refused" data-testid="scan-refused">
          <h4>Refused</h4>
          <ul role="list">
            <For each={report().refused}>
              {(r) => (
                <li data-testid="refused-file">
                  <span class="mono">{r.path}</span> <span class="muted small">({formatBytes(r.bytes)})</span>
                  <span class="refused-reason">{r.reason}</span>
                </li>
              )}
            </For>
          </ul>
        </div>
      </Show>

      <Show when={report().ignored > 0}>
        <p class="muted small" data-testid="scan-ignored">
          {report().ignored} {report().ignored === 1 ? 'file was' : 'files were'} ignored (not part of a model).
        </p>
      </Show>

      <div class="actions">
        <button
          type="button"
          class="btn btn-primary"
          data-testid="import-selected"
          disabled={s.importing() || chosen() === 0 || blocked()}
          onClick={() => void s.startImport()}
        >
          Import selected{chosen() ? ` (${chosen()})` : ''}
        </button>
        <Show when={blocked()}>
          <span class="muted small">Fix the marked models first.</span>
        </Show>
      </div>
    </section>
  );
}

interface CardProps {
  model: ScannedModel;
  draft: ScanDraft;
  problem: string | null;
  disabled: boolean;
  onChange: (patch: Partial<ScanDraft>) => void;
}

function ScannedModelCard(props: CardProps) {
  const id = `scan-${props.model.index}`;
  const refused = () => props.model.problem !== null;
  const showFamily = () => props.draft.model_type === 'checkpoint' && !!props.draft.family;

  return (
    <li class="scan-model" classList={{ refused: refused(), selected: props.draft.selected }} data-testid="scan-model">
      <div class="scan-model-head">
        <input
          id={`${id}-select`}
          type="checkbox"
          checked={props.draft.selected && !refused()}
          disabled={refused() || props.disabled}
          aria-label={`Import ${props.draft.name}`}
          data-testid="scan-select"
          onChange={(e) => props.onChange({ selected: e.currentTarget.checked })}
        />
        <label class="field grow">
          <span class="field-label">Name</span>
          <input
            type="text"
            value={props.draft.name}
            disabled={refused() || props.disabled}
            data-testid="scan-name"
            onInput={(e) => props.onChange({ name: e.currentTarget.value })}
          />
        </label>
        <label class="field">
          <span class="field-label">Type</span>
          <select
            value={props.draft.model_type}
            disabled={refused() || props.disabled}
            data-testid="scan-type"
            onChange={(e) => props.onChange({ model_type: e.currentTarget.value as ModelType | '' })}
          >
            <Show when={props.draft.model_type === ''}>
              <option value="">Choose…</option>
            </Show>
            <For each={MODEL_TYPE_LIST}>{(t) => <option value={t}>{typeLabel(t)}</option>}</For>
          </select>
        </label>
      </div>

      <p class="scan-summary" data-testid="scan-summary">
        {props.model.summary}
        <span class="muted small">
          {' '}
          · {props.model.file_path} · {formatBytes(props.model.file_size_bytes)}
        </span>
      </p>

      <Show when={props.model.problem}>
        {(problem) => (
          <p class="scan-problem" data-testid="scan-problem">
            Cannot be imported: {problem()}
          </p>
        )}
      </Show>
      <Show when={!refused() && props.draft.selected && props.problem}>
        <p class="field-error" role="alert" data-testid="scan-draft-error">
          {props.problem}
        </p>
      </Show>

      <Show when={props.model.components.length > 0}>
        <details class="scan-components">
          <summary>
            {fileCount(props.model.components)}
          </summary>
          <ComponentList components={props.model.components} />
        </details>
      </Show>

      <Show when={showFamily()}>
        <FamilyFields
          value={props.draft.family!}
          disabled={refused() || props.disabled}
          onChange={(family: FamilySettings) => props.onChange({ family })}
        />
      </Show>
    </li>
  );
}

/** "5 files", or for a single-file checkpoint "1 file, 4 components built from it". */
function fileCount(components: ReadonlyArray<{ built?: boolean }>): string {
  const files = components.filter((c) => !c.built).length;
  const built = components.length - files;
  return `${files} ${files === 1 ? 'file' : 'files'}${built ? `, ${built} components built from it` : ''}`;
}
