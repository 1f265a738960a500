import { createMemo, createSignal, For, Show } from 'solid-js';
import type { FamilySettings, ModelInfo } from '../../../protocol/models';
import { formatBytes, plainError } from '../../format';
import type { ModelsStore } from '../../stores/models';
import { validFamily } from '../../stores/models';
import { CheckpointWeightsField, hasWideWeights } from './CheckpointWeightsField';
import { ComponentList, dtypesOf, modelComponents } from './ComponentList';
import { FamilyFields, familySummary } from './FamilyFields';
import { InlineEdit } from './InlineEdit';
import { parseTags, STATUS_LABELS, typeLabel } from './labels';

export function modelSize(model: ModelInfo): number {
  return model.file_size_bytes ?? model.components.reduce((n, c) => n + c.bytes, 0);
}

interface RowProps {
  model: ModelInfo;
  store: ModelsStore;
  onRemove: (model: ModelInfo) => void;
}

/** One registry entry; bundled (read-only) models cannot be edited, renamed or removed. */
export function ModelRow(props: RowProps) {
  const m = () => props.model;
  const ro = () => m().read_only;

  return (
    <tr data-testid="model-row" data-name={m().name} data-type={m().model_type} classList={{ 'read-only': ro() }}>
      <td>
        <div class="model-name-cell">
          <InlineEdit
            value={m().name}
            placeholder="—"
            label={`name of ${m().name}`}
            editLabel="Rename"
            editName={`Rename ${m().name}`}
            testid="model-name"
            readOnly={ro()}
            onSave={async (text) => {
              const to = text.trim();
              if (!to) throw new Error('A model needs a name.');
              if (to !== m().name) await props.store.rename(m().name, to);
            }}
          />
          <Show when={ro()}>
            <span class="badge" title="Ships with the app; cannot be renamed or removed" data-testid="model-bundled">
              Bundled
            </span>
          </Show>
          <span class="muted small truncate" title={m().file_path}>
            {m().file_path}
          </span>
        </div>
      </td>
      <td data-testid="model-type" data-label="Type">
        {typeLabel(m().model_type)}
      </td>
      <td data-label="Status">
        <StatusCell model={m()} />
      </td>
      <td class="num" data-label="Size">
        {formatBytes(modelSize(m()))}
      </td>
      <td data-label="Components">
        <details class="cell-details" data-testid="model-components">
          <summary>
            {m().components.length} {m().components.length === 1 ? 'file' : 'files'} · {dtypesOf(m().components)}
            {m().source ? ` · ${m().source!.built.length} built` : ''}
          </summary>
          <ComponentList components={modelComponents(m())} />
        </details>
      </td>
      <td data-label="Settings">
        <Show when={m().model_type === 'checkpoint'} fallback={<RunnerInfo model={m()} />}>
          <FamilyCell model={m()} store={props.store} />
          <Show when={hasWideWeights(m())}>
            <CheckpointWeightsField model={m()} store={props.store} />
          </Show>
        </Show>
      </td>
      <td data-label="Tags">
        <InlineEdit
          value={m().tags.join(', ')}
          placeholder="No tags"
          label={`tags of ${m().name} (comma-separated)`}
          testid="model-tags"
          readOnly={ro()}
          view={
            <span class="tags">
              <For each={m().tags}>{(tag) => <span class="tag">{tag}</span>}</For>
            </span>
          }
          onSave={(text) => props.store.update(m().name, { tags: parseTags(text) })}
        />
      </td>
      <td data-label="Description">
        <InlineEdit
          value={m().description ?? ''}
          placeholder="No description"
          label={`description of ${m().name}`}
          testid="model-description"
          readOnly={ro()}
          multiline
          onSave={(text) => props.store.update(m().name, { description: text.trim() || null })}
        />
      </td>
      <td class="model-actions-cell">
        <Show when={!ro()}>
          <button
            type="button"
            class="btn btn-danger btn-small"
            data-testid="model-remove"
            aria-label={`Remove ${m().name}`}
            onClick={() => props.onRemove(m())}
          >
            Remove
          </button>
        </Show>
      </td>
    </tr>
  );
}

function StatusCell(props: { model: ModelInfo }) {
  const status = () => props.model.status;
  return (
    <div class={`model-status model-status-${status()}`} data-testid="model-status" data-status={status()}>
      <span class="status-label">{STATUS_LABELS[status()] ?? status()}</span>
      <Show when={props.model.status_message}>
        {(message) => (
          <span class="status-message" classList={{ error: status() === 'error' }} role={status() === 'error' ? 'note' : undefined}>
            {status() === 'error' ? plainError(message()) : message()}
          </span>
        )}
      </Show>
    </div>
  );
}

/** What an upscaler or detector does, as its probe (or models.json) found out. */
function RunnerInfo(props: { model: ModelInfo }) {
  return (
    <Show
      when={props.model.upscaler}
      fallback={
        <Show when={props.model.detector} fallback={<span class="muted">—</span>}>
          {(d) => (
            <span class="small">
              finds {d().classes.join(', ')} · {d().layout} · {d().input_size} px
            </span>
          )}
        </Show>
      }
    >
      {(u) => (
        <span class="small">
          ×{u().scale} · values {u().value_range[0]}–{u().value_range[1]}
        </span>
      )}
    </Show>
  );
}

/** A checkpoint's family settings; editable (→ models.update) unless bundled. */
function FamilyCell(props: { model: ModelInfo; store: ModelsStore }) {
  const [editing, setEditing] = createSignal<FamilySettings | null>(null);
  const [saving, setSaving] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const invalid = createMemo(() => {
    const draft = editing();
    return draft ? validFamily(draft) : null;
  });

  const save = async () => {
    const family = editing();
    if (!family || invalid()) return;
    setSaving(true);
    setError(null);
    try {
      await props.store.update(props.model.name, { family });
      setEditing(null);
    } catch (err) {
      setError(plainError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Show when={props.model.family} fallback={<span class="muted small">No family settings</span>}>
      {(family) => (
        <div class="family-cell" data-testid="model-family">
          <Show
            when={editing()}
            fallback={
              <>
                <span class="small">{familySummary(family())}</span>
                <Show when={!props.model.read_only}>
                  <button
                    type="button"
                    class="btn btn-ghost btn-small btn-link"
                    data-testid="model-family-edit"
                    onClick={() => {
                      setError(null);
                      setEditing({ ...family(), sources: { ...family().sources } });
                    }}
                  >
                    Edit
                  </button>
                </Show>
              </>
            }
          >
            {(draft) => (
              <>
                <FamilyFields value={draft()} disabled={saving()} onChange={setEditing} />
                <div class="inline-edit-actions">
                  <button
                    type="button"
                    class="btn btn-primary btn-small"
                    data-testid="model-family-save"
                    disabled={saving() || !!invalid()}
                    onClick={() => void save()}
                  >
                    Save
                  </button>
                  <button type="button" class="btn btn-small" disabled={saving()} onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </div>
                <Show when={invalid() ?? error()}>
                  <p class="field-error" role="alert" data-testid="model-family-error">
                    {invalid() ?? error()}
                  </p>
                </Show>
              </>
            )}
          </Show>
        </div>
      )}
    </Show>
  );
}
