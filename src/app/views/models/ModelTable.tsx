import { createMemo, createSignal, For, Show } from 'solid-js';
import type { ModelInfo, ModelType } from '../../../protocol/models';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { plainError } from '../../format';
import type { ModelsStore } from '../../stores/models';
import { MODEL_TYPE_LIST, typeLabel } from './labels';
import { ModelRow } from './ModelRow';

type Filter = ModelType | 'all';

/** The registry: filter by type, rows, remove one (confirmed), clear all but bundled (confirmed). */
export function ModelTable(props: { store: ModelsStore }) {
  const s = props.store;
  const [filter, setFilter] = createSignal<Filter>('all');
  const [removing, setRemoving] = createSignal<ModelInfo | null>(null);
  const [confirmingClear, setConfirmingClear] = createSignal(false);
  const [working, setWorking] = createSignal(false);
  const [actionError, setActionError] = createSignal<string | null>(null);
  const [notice, setNotice] = createSignal<string | null>(null);

  const counts = createMemo(() => {
    const byType = new Map<ModelType, number>(MODEL_TYPE_LIST.map((t) => [t, 0]));
    for (const m of s.models()) byType.set(m.model_type, (byType.get(m.model_type) ?? 0) + 1);
    return byType;
  });
  const rows = createMemo(() => {
    const f = filter();
    const list = f === 'all' ? s.models() : s.models().filter((m) => m.model_type === f);
    return [...list].sort((a, b) => Number(a.read_only) - Number(b.read_only) || a.name.localeCompare(b.name));
  });
  const removable = createMemo(() => s.models().filter((m) => !m.read_only).length);

  const act = async (work: () => Promise<void>) => {
    setWorking(true);
    setActionError(null);
    setNotice(null);
    try {
      await work();
    } catch (err) {
      setActionError(plainError(err));
    } finally {
      setWorking(false);
    }
  };

  const remove = () =>
    act(async () => {
      const model = removing();
      if (!model) return;
      try {
        const removed = await s.remove(model.name);
        setNotice(removed ? `Removed “${model.name}”.` : `“${model.name}” was already gone.`);
      } finally {
        setRemoving(null);
      }
    });

  const clear = () =>
    act(async () => {
      try {
        const n = await s.clear();
        setNotice(`Removed ${n} ${n === 1 ? 'model' : 'models'}${s.models().some((m) => m.read_only) ? '; bundled models stay' : ''}.`);
      } finally {
        setConfirmingClear(false);
      }
    });

  return (
    <section class="panel model-table-panel" aria-labelledby="registry-title">
      <div class="panel-header">
        <h3 id="registry-title" class="panel-subtitle">
          Installed models
        </h3>
        <label class="filter">
          <span class="visually-hidden">Show type</span>
          <select value={filter()} data-testid="model-filter" onChange={(e) => setFilter(e.currentTarget.value as Filter)}>
            <option value="all">All types ({s.models().length})</option>
            <For each={MODEL_TYPE_LIST}>
              {(t) => (
                <option value={t}>
                  {typeLabel(t)} ({counts().get(t) ?? 0})
                </option>
              )}
            </For>
          </select>
        </label>
        <div class="spacer" />
        <button type="button" class="btn btn-ghost" disabled={s.list.loading} onClick={() => s.refresh()}>
          Refresh
        </button>
        <button
          type="button"
          class="btn btn-danger"
          data-testid="models-clear"
          disabled={working() || removable() === 0 || s.importing()}
          onClick={() => setConfirmingClear(true)}
        >
          Clear all
        </button>
      </div>

      <Show when={s.list.error}>
        <p class="error" role="alert" data-testid="models-error">
          Could not list the models: {plainError(s.list.error)}
        </p>
      </Show>
      <Show when={actionError()}>
        <p class="error" role="alert" data-testid="models-action-error">
          {actionError()}
        </p>
      </Show>
      <Show when={notice()}>
        <p class="muted small" role="status" data-testid="models-notice">
          {notice()}
        </p>
      </Show>

      <Show when={s.list.loading && !s.list.latest}>
        <p class="muted">Loading…</p>
      </Show>
      <Show when={!s.list.error && s.list.latest && rows().length === 0}>
        <p class="muted" data-testid="models-empty">
          {filter() === 'all' ? 'No models yet.' : `No ${typeLabel(filter() as ModelType).toLowerCase()} models.`}
        </p>
      </Show>

      <Show when={rows().length > 0}>
        <div class="table-scroll">
          <table class="model-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Size</th>
                <th scope="col">Components</th>
                <th scope="col">Settings</th>
                <th scope="col">Tags</th>
                <th scope="col">Description</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              <For each={rows()}>{(model) => <ModelRow model={model} store={s} onRemove={setRemoving} />}</For>
            </tbody>
          </table>
        </div>
      </Show>

      <Show when={removing()}>
        {(model) => (
          <ConfirmDialog
            title={`Remove “${model().name}”?`}
            confirmLabel="Remove"
            danger
            busy={working()}
            confirmTestid="confirm-remove-model"
            cancelTestid="cancel-remove-model"
            onConfirm={() => void remove()}
            onCancel={() => setRemoving(null)}
          >
            <p>Its files are deleted from this browser's storage. It cannot be undone; you can import it again.</p>
          </ConfirmDialog>
        )}
      </Show>

      <Show when={confirmingClear()}>
        <ConfirmDialog
          title="Remove all imported models?"
          confirmLabel="Remove all"
          danger
          busy={working()}
          confirmTestid="confirm-clear-models"
          cancelTestid="cancel-clear-models"
          onConfirm={() => void clear()}
          onCancel={() => setConfirmingClear(false)}
        >
          <p>
            This deletes {removable() === 1 ? 'the imported model' : `all ${removable()} imported models`} and their files
            from this browser. Bundled models stay. It cannot be undone.
          </p>
        </ConfirmDialog>
      </Show>
    </section>
  );
}
