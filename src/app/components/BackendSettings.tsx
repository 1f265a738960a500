import { createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { readBackendPreference, saveBackendSetting } from '../../client/studio-client';

type Choice = 'auto' | 'webgpu' | 'wasm';

const CHOICES: Array<{ value: Choice; label: string; hint: string }> = [
  { value: 'auto', label: 'Automatic', hint: 'WebGPU on a hardware adapter, otherwise WASM' },
  { value: 'webgpu', label: 'WebGPU', hint: 'Run models on the GPU' },
  { value: 'wasm', label: 'WASM', hint: 'Run models on the CPU' },
];

function savedChoice(): Choice {
  try {
    // An empty query string ignores `?backend=`: this is the saved setting only.
    return readBackendPreference('').backend;
  } catch {
    return 'auto';
  }
}

function urlForcesBackend(): boolean {
  try {
    return readBackendPreference().source === 'url';
  } catch {
    return false;
  }
}

/** The settings popover: force the backend (saved locally, applies after a reload). */
export function BackendSettings() {
  const [open, setOpen] = createSignal(false);
  const [choice, setChoice] = createSignal<Choice>(savedChoice());
  const [changed, setChanged] = createSignal(false);
  const forcedByUrl = urlForcesBackend();
  let root!: HTMLDivElement;

  const onDocumentClick = (event: MouseEvent) => {
    if (open() && !root.contains(event.target as Node)) setOpen(false);
  };
  const onKey = (event: KeyboardEvent) => {
    if (open() && event.key === 'Escape') setOpen(false);
  };
  onMount(() => {
    document.addEventListener('click', onDocumentClick);
    document.addEventListener('keydown', onKey);
  });
  onCleanup(() => {
    document.removeEventListener('click', onDocumentClick);
    document.removeEventListener('keydown', onKey);
  });

  const select = (value: Choice) => {
    setChoice(value);
    try {
      saveBackendSetting(value);
      setChanged(true);
    } catch {
      // Storage can be unavailable (private modes); the URL parameter still works.
    }
  };

  const reload = () => {
    const url = new URL(location.href);
    if (url.searchParams.has('backend')) {
      // The address would override the saved setting; drop it so the choice takes effect.
      url.searchParams.delete('backend');
      location.assign(url.toString());
    } else {
      location.reload();
    }
  };

  return (
    <div class="settings" ref={root}>
      <button
        type="button"
        class="btn btn-ghost settings-toggle"
        aria-expanded={open()}
        aria-controls="settings-panel"
        data-testid="settings-toggle"
        onClick={() => setOpen(!open())}
      >
        <span aria-hidden="true">⚙</span> Settings
      </button>
      <Show when={open()}>
        <div id="settings-panel" class="popover" role="dialog" aria-label="Settings" data-testid="settings">
          <fieldset class="field">
            <legend>Compute backend</legend>
            <For each={CHOICES}>
              {(option) => (
                <label class="radio">
                  <input
                    type="radio"
                    name="backend-setting"
                    value={option.value}
                    checked={choice() === option.value}
                    data-testid={`backend-setting-${option.value}`}
                    onChange={() => select(option.value)}
                  />
                  <span>
                    <span class="radio-label">{option.label}</span>
                    <span class="muted small">{option.hint}</span>
                  </span>
                </label>
              )}
            </For>
          </fieldset>
          <Show when={forcedByUrl}>
            <p class="muted small">
              The address forces a backend with <code>?backend=</code>; reloading from here drops it.
            </p>
          </Show>
          <div class="settings-footer">
            <span class="muted small">{changed() ? 'Saved — applies after reload.' : 'Applies after reload.'}</span>
            <button type="button" class="btn btn-primary" data-testid="reload" onClick={reload}>
              Reload
            </button>
          </div>
        </div>
      </Show>
    </div>
  );
}
