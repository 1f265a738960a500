import { createSignal, For, onMount, Show } from 'solid-js';
import { DropZone } from '../components/DropZone';
import { plainError } from '../format';
import { SCHEDULER_NAMES, supportsKarras, type Emphasis } from '../../protocol/pipeline-config';
import { FORM_RANGES } from '../lib/generate-form';
import { SAMPLER_LABELS } from '../lib/generation-parameters';
import { navigate } from '../router';
import { generateStore, type LoadNotice } from '../stores/generate';
import { modelLists } from '../stores/checkpoints';
import { ExtraNetworks } from './generate/ExtraNetworks';
import { JobPanel, SessionResults } from './generate/JobPanel';
import { PromptField } from './generate/PromptField';
import { QueuePanel } from './generate/QueuePanel';
import { SeedField, VariationFields } from './generate/SeedField';
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
    if (!s.modelsLoaded() || s.checkpointsError()) return null;
    if (s.allCheckpoints().length === 0) return 'none' as const;
    if (s.usableModels().length === 0) return 'not-ready' as const;
    return null;
  };

  // On a narrow screen the result panel sits below the form: once a job is queued, bring it into
  // view (the progress, then the images), rather than leaving it a screen or two down.
  let side!: HTMLDivElement;
  const generate = async () => {
    if (!(await s.run())) return;
    if (!window.matchMedia('(max-width: 860px)').matches) return;
    const top = side.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.4) side.scrollIntoView({ behavior: 'smooth', block: 'start' });
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
            void generate();
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
          <Show when={s.checkpointsError()}>
            <p class="error small">Could not list the models: {plainError(s.checkpointsError())}</p>
          </Show>

          <PromptField
            label="Prompt"
            testid="prompt"
            loraTags
            rows={4}
            value={s.form.prompt}
            placeholder="a lighthouse on a cliff at dusk, oil painting, (dramatic sky:1.2)"
            emphasis={s.form.emphasis}
            error={errors().prompt}
            onInput={(v) => {
              s.setForm('prompt', v);
              s.clearFieldError('prompt');
            }}
            onSubmit={() => void generate()}
          />
          <PromptField
            label="Negative prompt"
            testid="negative-prompt"
            rows={2}
            value={s.form.negativePrompt}
            placeholder="blurry, lowres, watermark"
            emphasis={s.form.emphasis}
            onInput={(v) => s.setForm('negativePrompt', v)}
            onSubmit={() => void generate()}
          />
          <ExtraNetworks
            models={modelLists().extraNetworks()}
            prompt={s.form.prompt}
            negativePrompt={s.form.negativePrompt}
            onPrompt={(v) => {
              s.setForm('prompt', v);
              s.clearFieldError('prompt');
            }}
            onNegativePrompt={(v) => s.setForm('negativePrompt', v)}
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
              <select data-testid="sampler-select" value={s.form.scheduler} onChange={(e) => s.setScheduler(e.currentTarget.value)}>
                <For each={SCHEDULER_NAMES}>
                  {(name) => (
                    <option value={name} selected={name === s.form.scheduler}>
                      {SAMPLER_LABELS[name]}
                    </option>
                  )}
                </For>
              </select>
            </label>
            <label
              class="field checkbox-field"
              title={supportsKarras(s.form.scheduler) ? 'Karras noise schedule (A1111’s “Karras” schedule type)' : `${SAMPLER_LABELS[s.form.scheduler]} has no Karras schedule here`}
            >
              <span class="field-label">Karras</span>
              <input type="checkbox" data-testid="karras" checked={s.form.karras && supportsKarras(s.form.scheduler)} disabled={!supportsKarras(s.form.scheduler)} onChange={(e) => s.setForm('karras', e.currentTarget.checked)} />
            </label>
          </div>

          <div class="field-row">
            <label class="field grow">
              <span class="field-label">Steps</span>
              <input
                type="number"
                min={FORM_RANGES.steps.min}
                max={FORM_RANGES.steps.max}
                step={FORM_RANGES.steps.step}
                data-testid="steps"
                value={s.form.steps}
                {...numberInput('steps')}
                onInput={(e) => {
                  s.setForm('steps', e.currentTarget.value);
                  s.clearFieldError('steps');
                }}
              />
            </label>
            <label class="field grow">
              <span class="field-label">CFG</span>
              <input
                type="number"
                min={FORM_RANGES.cfg.min}
                max={FORM_RANGES.cfg.max}
                step={FORM_RANGES.cfg.step}
                data-testid="cfg"
                value={s.form.cfg}
                {...numberInput('cfg')}
                onInput={(e) => {
                  s.setForm('cfg', e.currentTarget.value);
                  s.clearFieldError('cfg');
                }}
              />
            </label>
          </div>
          <Show when={errors().steps || errors().cfg}>
            <span class="field-error">{errors().steps ?? errors().cfg}</span>
          </Show>

          <SeedField store={s} />
          <VariationFields store={s} />

          <div class="field-row size-row">
            <label class="field grow">
              <span class="field-label">Width</span>
              <input
                type="number"
                min={FORM_RANGES.side.min}
                max={FORM_RANGES.side.max}
                step={FORM_RANGES.side.step}
                data-testid="width"
                value={s.form.width}
                {...numberInput('width')}
                onInput={(e) => {
                  s.setForm('width', e.currentTarget.value);
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
                s.setForm({ width: s.form.height, height: s.form.width });
              }}
            >
              ⇄
            </button>
            <label class="field grow">
              <span class="field-label">Height</span>
              <input
                type="number"
                min={FORM_RANGES.side.min}
                max={FORM_RANGES.side.max}
                step={FORM_RANGES.side.step}
                data-testid="height"
                value={s.form.height}
                {...numberInput('height')}
                onInput={(e) => {
                  s.setForm('height', e.currentTarget.value);
                  s.clearFieldError('width');
                  s.clearFieldError('height');
                }}
              />
            </label>
            <label class="field batch-field">
              <span class="field-label">Batch</span>
              <input
                type="number"
                min={FORM_RANGES.batch.min}
                max={FORM_RANGES.batch.max}
                step={FORM_RANGES.batch.step}
                data-testid="batch-size"
                value={s.form.batchSize}
                {...numberInput('batch')}
                onInput={(e) => {
                  s.setForm('batchSize', e.currentTarget.value);
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
              <select data-testid="emphasis" value={s.form.emphasis} onChange={(e) => s.setForm('emphasis', e.currentTarget.value as Emphasis)}>
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

        <div class="generate-side" ref={side}>
          <JobPanel store={s} />
          <SessionResults store={s} />
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
