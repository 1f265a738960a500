import { createEffect, createMemo, onCleanup, onMount, Show } from 'solid-js';
import { DropZone } from '../components/DropZone';
import { ErrorBanner } from '../components/ErrorBanner';
import { fromDataTransfer } from '../lib/pick-files';
import { modelsStore } from '../stores/models';
import { CheckpointGuidance } from './models/CheckpointGuidance';
import { ImportPanel } from './models/ImportPanel';
import { ImportResults, ImportRunning } from './models/ImportStatus';
import { ModelTable } from './models/ModelTable';
import { ScanPanel } from './models/ScanPanel';
import { StorageBar } from './models/StorageBar';

/** While a model imported elsewhere (another tab) is still importing, look again this often. */
const POLL_MS = 3000;

export function ModelsView() {
  const s = modelsStore();
  onMount(() => s.want());

  const noCheckpoint = createMemo(
    () => !s.list.error && s.list.latest !== undefined && !s.models().some((m) => m.model_type === 'checkpoint'),
  );

  createEffect(() => {
    if (s.importing() || !s.models().some((m) => m.status === 'importing')) return;
    const timer = setInterval(() => void s.refetchList(), POLL_MS);
    onCleanup(() => clearInterval(timer));
  });

  return (
    <DropZone
      class="view view-models"
      data-testid="view-models"
      aria-label="Models"
      hint="Drop model files or folders to import"
      onTransfer={(transfer) => {
        // Read the drop now (its items are emptied after the event), walk folders afterwards.
        const walking = fromDataTransfer(transfer);
        void s.scan(() => walking);
      }}
    >
      <div class="models-header">
        <h2 class="panel-title">Models</h2>
        <div class="spacer" />
        <StorageBar summary={s.storage.latest} error={s.storage.error} loading={s.storage.loading} />
      </div>

      <ImportPanel store={s} />

      <Show when={s.scanError()}>
        <ErrorBanner testid="scan-error" message={s.scanError()!} onDismiss={() => s.clearScanError()} />
      </Show>

      <Show when={s.run()}>{(run) => <ImportRunning store={s} run={run()} />}</Show>
      <Show when={!s.importing() && (s.outcomes() || s.importError())}>
        <ImportResults store={s} />
      </Show>
      <Show when={s.report()}>
        <ScanPanel store={s} />
      </Show>

      <Show when={noCheckpoint()}>
        <CheckpointGuidance />
      </Show>

      <ModelTable store={s} />
    </DropZone>
  );
}
