import { createSignal, For, onMount, Show } from 'solid-js';
import { DropZone } from '../components/DropZone';
import { plainError } from '../format';
import { EMPHASIS_MODES, SAMPLER_LABELS, SCHEDULER_NAMES, supportsKarras } from '../lib/generation-parameters';
import { navigate } from '../router';
import { generateStore, MAX_BATCH, MAX_CFG, MAX_SIDE, MAX_STEPS, MIN_SIDE, type LoadNotice } from '../stores/generate';
import { JobPanel } from './generate/JobPanel';
import { PromptField } from './generate/PromptField';
import { QueuePanel } from './generate/QueuePanel';
import { SeedField } from './generate/SeedField';
import { StageOptions } from './generate/StageOptions';

const isPng = (file: File) => file.type === 'image/png' || /\.png$/i.test(file.name);
const isJson = (file: File) => file.type === 'application/json' || /\.json$/i.test(file.name);

/** Where to get a model, shown while none is registered. */
function NoModelNotice(props: { problem: 'none' | 'not-ready'; names: string[] }) {
  return (
    <div class="panel guidance no-model" data-testid="no-model" role="status">
      <Show
        when={props.problem === 'none'}
        fallback={
          <p>
            <strong>No checkpoint is ready.</strong> {props.names.join(', ')} {props.names.length === 1 ? 'has' : 'have'} not passed
            verification; the Models view says why.
          </p>
        }
      >
        <p>
          <strong>No image model yet.</strong> Generating needs a Stable Diffusion checkpoint exported to ONNX (SD-Turbo, or SD 1.5
          exported with Hugging Face Optimum, preferably float16). Import its whole folder in the Models view with <em>Import folder…</em>;
          it stays on this device.
        </p>
      </Show>
      <div class="actions">
        <button type="button" class="btn btn-primary" data-testid="go-models" onClick={() => navigate('models')}>
          Open Models
        </button>
      </div>
    </div>
  );
}

function LoadedNotice(props: { notice: LoadNotice; onDismiss: () => void }) {
  return (
    <div class="banner" classList={{ 'banner-info': !props.notice.error, 'banner-error': !!props.notice.error }} role="status" data-testid="loaded-parameters">
      <div class="banner-body">
        <Show
          when={!props.notice.error}
          fallback={
            <span>
              Could not load parameters from <strong>{props.notice.origin}</strong>: {props.notice.error}
            </span>
          }
        >
          <span>
            Loaded from <strong>{props.notice.origin}</strong>
            <Show when={props.notice.source}> ({props.notice.source})</Show>: {props.notice.loaded.length ? props.notice.loaded.join(', ') : 'nothing usable'}.
          </span>
          <Show when={props.notice.unmapped.length}>
            <details class="unmapped" data-testid="unmapped">
              <summary>
                {props.notice.unmapped.length} {props.notice.unmapped.length === 1 ? 'thing' : 'things'} not used
              </summary>
              <ul>
                <For each={props.notice.unmapped}>{(line) => <li>{line}</li>}</For>
              </ul>
            </details>
          </Show>
        </Show>
      </div>
      <div class="banner-actions">
        <button type="button" class="btn btn-ghost" aria-label="Dismiss" onClick={() => props.onDismiss()}>
          ✕
        </button>
      </div>
    </div>
  );
}

export function GenerateView() {
  const s = generateStore();
  onMount(() => s.wantModels());
  const [saveError, setSaveError] = createSignal<string | null>(null);

  const takeFiles = (files: File[]) => {
    const png = files.find(isPng);
    if (png) return void s.loadPng(png);
    const json = files.find(isJson);
    if (json) return void s.loadConfig(json);
    const name = files[0]?.name ?? 'the file';
    s.dismissNotice();
    s.setError(`“${name}” is neither a PNG nor a pipeline config (.json). Drop a PNG made by Media Lab, A1111 or ComfyUI to load its parameters.`);
  };

  const saveConfig = () => {
    setSaveError(null);
    const out = s.configForSave();
    if ('error' in out) {
      setSaveError(out.error);
      return;
    }
    const blob = new Blob([`${JSON.stringify(out.config, null, 2)}\n`], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = 'media-lab-pipeline.json';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const noModel = () => {
    if (!s.modelsLoaded() || s.checkpoints.error) return null;
    if (s.allCheckpoints().length === 0) return 'none' as const;
    if (s.usableModels().length === 0) return 'not-ready' as const;
    return null;
  };

  const errors = () => s.fieldErrors();
  const numberInput = (key: 'steps' | 'cfg' | 'width' | 'height' | 'batch') => ({
    'aria-invalid': errors()[key] ? true : undefined,
  });

  return (
    <DropZone class="view view-generate" data-testid="view-generate" aria-label="Generate" hint="Drop a PNG to load its parameters" onFiles={takeFiles}>
      <div class="generate-layout">
        <form
          class="panel controls generate-form"
          novalidate
          onSubmit={(event) => {
            event.preventDefault();
            void s.run();
          }}
        >
          <h2 class="panel-title">Generate</h2>
          <div class="form-tools">
            <label class="btn btn-small file-pick-inline" title="Load the parameters of a PNG made by Media Lab, A1111 or ComfyUI">
              <input
                type="file"
                class="visually-hidden"
                accept="image/png,.png"
                data-testid="load-png-input"
                onChange={(e) => {
                  const file = e.currentTarget.files?.[0];
                  e.currentTarget.value = '';
                  if (file) void s.loadPng(file);
                }}
              />
              Load PNG…
            </label>
            <label class="btn btn-small file-pick-inline" title="Load a saved pipeline config (JSON)">
              <input
                type="file"
                class="visually-hidden"
                accept="application/json,.json"
                data-testid="load-config-input"
                onChange={(e) => {
                  const file = e.currentTarget.files?.[0];
                  e.currentTarget.value = '';
                  if (file) void s.loadConfig(file);
                }}
              />
              Load config…
            </label>
            <button type="button" class="btn btn-small" data-testid="save-config" title="Download this pipeline as JSON" onClick={saveConfig}>
              Save config
            </button>
          </div>
          <Show when={saveError()}>
            <p class="error small" role="alert" data-testid="save-config-error">
              {saveError()}
            </p>
          </Show>

          <Show when={s.notice()}>{(notice) => <LoadedNotice notice={notice()} onDismiss={s.dismissNotice} />}</Show>

          <Show when={noModel()}>{(problem) => <NoModelNotice problem={problem()} names={s.allCheckpoints().map((m) => m.name)} />}</Show>
          <Show when={s.checkpoints.error}>
            <p class="error small">Could not list the models: {plainError(s.checkpoints.error)}</p>
          </Show>

          <PromptField
            label="Prompt"
            testid="prompt"
            rows={4}
            value={s.prompt()}
            placeholder="a lighthouse on a cliff at dusk, oil painting, (dramatic sky:1.2)"
            emphasis={s.emphasis()}
            error={errors().prompt}
            onInput={(v) => {
              s.setPrompt(v);
              s.clearFieldError('prompt');
            }}
            onSubmit={() => void s.run()}
          />
          <PromptField
            label="Negative prompt"
            testid="negative-prompt"
            rows={2}
            value={s.negativePrompt()}
            placeholder="blurry, lowres, watermark"
            emphasis={s.emphasis()}
            onInput={s.setNegativePrompt}
            onSubmit={() => void s.run()}
          />

          <label class="field">
            <span class="field-label">Model</span>
            <select
              data-testid="model-select"
              value={s.model()}
              disabled={s.usableModels().length === 0}
              onChange={(e) => {
                s.setModel(e.currentTarget.value);
                s.clearFieldError('width');
              }}
            >
              <Show when={s.usableModels().length > 0} fallback={<option value="">{s.modelsLoaded() ? 'No checkpoint registered' : 'Loading models…'}</option>}>
                <For each={s.usableModels()}>
                  {(m) => (
                    <option value={m.name} selected={m.name === s.model()}>
                      {m.name}
                    </option>
                  )}
                </For>
              </Show>
            </select>
            <Show when={s.fixedSize()}>
              {(size) => (
                <span class="field-hint" data-testid="fixed-size">
                  This export makes only {size().width}×{size().height} images (fixed-shape UNet).
                </span>
              )}
            </Show>
            <Show when={s.defaultsNote()}>
              <span class="field-hint" data-testid="defaults-note">
                {s.defaultsNote()}
              </span>
            </Show>
          </label>

          <div class="field-row">
            <label class="field grow">
              <span class="field-label">Sampler</span>
              <select data-testid="sampler-select" value={s.scheduler()} onChange={(e) => s.setScheduler(e.currentTarget.value)}>
                <For each={SCHEDULER_NAMES}>
                  {(name) => (
                    <option value={name} selected={name === s.scheduler()}>
                      {SAMPLER_LABELS[name]}
                    </option>
                  )}
                </For>
              </select>
            </label>
            <label
              class="field checkbox-field"
              title={supportsKarras(s.scheduler()) ? 'Karras noise schedule (A1111’s “Karras” schedule type)' : `${SAMPLER_LABELS[s.scheduler()]} has no Karras schedule here`}
            >
              <span class="field-label">Karras</span>
              <input type="checkbox" data-testid="karras" checked={s.karras() && supportsKarras(s.scheduler())} disabled={!supportsKarras(s.scheduler())} onChange={(e) => s.setKarras(e.currentTarget.checked)} />
            </label>
          </div>

          <div class="field-row">
            <label class="field grow">
              <span class="field-label">Steps</span>
              <input
                type="number"
                min="1"
                max={MAX_STEPS}
                step="1"
                data-testid="steps"
                value={s.steps()}
                {...numberInput('steps')}
                onInput={(e) => {
                  s.setSteps(e.currentTarget.value);
                  s.clearFieldError('steps');
                }}
              />
            </label>
            <label class="field grow">
              <span class="field-label">CFG</span>
              <input
                type="number"
                min="0"
                max={MAX_CFG}
                step="0.5"
                data-testid="cfg"
                value={s.cfg()}
                {...numberInput('cfg')}
                onInput={(e) => {
                  s.setCfg(e.currentTarget.value);
                  s.clearFieldError('cfg');
                }}
              />
            </label>
          </div>
          <Show when={errors().steps || errors().cfg}>
            <span class="field-error">{errors().steps ?? errors().cfg}</span>
          </Show>

          <SeedField store={s} />

          <div class="field-row size-row">
            <label class="field grow">
              <span class="field-label">Width</span>
              <input
                type="number"
                min={MIN_SIDE}
                max={MAX_SIDE}
                step="8"
                data-testid="width"
                value={s.width()}
                {...numberInput('width')}
                onInput={(e) => {
                  s.setWidth(e.currentTarget.value);
                  s.clearFieldError('width');
                  s.clearFieldError('height');
                }}
              />
            </label>
            <button
              type="button"
              class="btn btn-icon swap-size"
              title="Swap width and height"
              aria-label="Swap width and height"
              onClick={() => {
                const w = s.width();
                s.setWidth(s.height());
                s.setHeight(w);
              }}
            >
              ⇄
            </button>
            <label class="field grow">
              <span class="field-label">Height</span>
              <input
                type="number"
                min={MIN_SIDE}
                max={MAX_SIDE}
                step="8"
                data-testid="height"
                value={s.height()}
                {...numberInput('height')}
                onInput={(e) => {
                  s.setHeight(e.currentTarget.value);
                  s.clearFieldError('width');
                  s.clearFieldError('height');
                }}
              />
            </label>
            <label class="field batch-field">
              <span class="field-label">Batch</span>
              <input
                type="number"
                min="1"
                max={MAX_BATCH}
                step="1"
                data-testid="batch-size"
                value={s.batchSize()}
                {...numberInput('batch')}
                onInput={(e) => {
                  s.setBatchSize(e.currentTarget.value);
                  s.clearFieldError('batch');
                }}
              />
            </label>
          </div>
          <Show when={errors().width || errors().height || errors().batch}>
            <span class="field-error" data-testid="size-error">
              {errors().width ?? errors().height ?? errors().batch}
            </span>
          </Show>

          <StageOptions store={s} />

          <details class="advanced">
            <summary>Advanced</summary>
            <label class="field">
              <span class="field-label">Emphasis</span>
              <select data-testid="emphasis" value={s.emphasis()} onChange={(e) => s.setEmphasis(e.currentTarget.value as (typeof EMPHASIS_MODES)[number])}>
                <option value="original">Original (A1111: weights, mean restored)</option>
                <option value="no-norm">No norm (weights, mean not restored)</option>
                <option value="ignore">Ignore weights</option>
                <option value="none">None (brackets are plain text)</option>
              </select>
            </label>
          </details>

          <div class="actions">
            <button type="submit" class="btn btn-primary btn-generate" data-testid="generate" disabled={s.submitting()}>
              {s.running() > 0 ? 'Generate (add to queue)' : 'Generate'}
            </button>
            <span class="muted small">Ctrl+Enter in a prompt</span>
          </div>

          <Show when={s.error()}>
            <p class="error" role="alert" data-testid="error">
              {s.error()}
            </p>
          </Show>
        </form>

        <div class="generate-side">
          <JobPanel store={s} />
          <QueuePanel
            onOpen={(id) => {
              s.focus(id);
              return true;
            }}
          />
        </div>
      </div>
    </DropZone>
  );
}
