import { Show } from 'solid-js';
import { canPickDirectory, fromFileList, pickDirectory } from '../../lib/pick-files';
import type { ModelsStore } from '../../stores/models';

/** Pickles are accepted by the picker so the scan can refuse them with a reason. */
export const MODEL_FILE_ACCEPT = '.onnx,.onnx_data,.safetensors,.json,.txt,.ckpt,.pt,.pth,.bin';

/** "Import files…" and "Import folder…"; drops are handled by the view's drop zone. */
export function ImportPanel(props: { store: ModelsStore }) {
  const s = props.store;
  let folderInput!: HTMLInputElement;
  const busy = () => s.scanning() || s.importing();

  const fromInput = (input: HTMLInputElement) => {
    const files = fromFileList(input.files);
    // Let the same selection be picked again later.
    input.value = '';
    if (files.length) void s.scan(async () => files);
  };

  const pickFolder = () => {
    if (!canPickDirectory()) {
      folderInput.click();
      return;
    }
    // Dismissing the picker resolves to null (nothing to scan); other failures show as a scan error.
    void s.scan(pickDirectory);
  };

  return (
    <section class="panel import-panel" aria-labelledby="import-title">
      <h3 id="import-title" class="panel-subtitle">
        Import models
      </h3>
      <p class="muted small">
        Pick ONNX or .safetensors files, or a whole model folder, or drop them anywhere on this page. Files are read
        on this device and stored in the browser; nothing is uploaded.
      </p>
      <div class="actions">
        <label class="btn btn-primary file-pick" classList={{ disabled: busy() }}>
          <input
            class="visually-hidden"
            type="file"
            multiple
            accept={MODEL_FILE_ACCEPT}
            disabled={busy()}
            data-testid="import-files"
            onChange={(e) => fromInput(e.currentTarget)}
          />
          <span>Import files…</span>
        </label>
        <button type="button" class="btn" data-testid="import-folder" disabled={busy()} onClick={pickFolder}>
          Import folder…
        </button>
        <input
          ref={(el) => {
            folderInput = el;
            el.webkitdirectory = true;
          }}
          class="visually-hidden"
          type="file"
          multiple
          tabIndex={-1}
          aria-hidden="true"
          data-testid="import-folder-input"
          onChange={(e) => fromInput(e.currentTarget)}
        />
        <Show when={s.scanning()}>
          <span class="muted small" role="status" data-testid="scan-status">
            Reading the files…
          </span>
        </Show>
      </div>
    </section>
  );
}
