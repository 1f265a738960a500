import { createEffect, createMemo, createSignal, For, Match, onCleanup, onMount, Show, Switch, untrack } from 'solid-js';
import { CompareSlider } from '../components/CompareSlider';
import { DropZone } from '../components/DropZone';
import { MaskEditor } from '../components/MaskEditor';
import { bindNumberField } from '../components/number-field';
import { ProgressBar } from '../components/ProgressBar';
import { formatBytes, formatDuration, formatSize, plainError } from '../format';
import { navigate } from '../router';
import { UPSCALE_FACTORS } from '../../protocol/pipeline-config';
import { REFINE_RANGES } from '../lib/enhance-form';
import { enhanceProgressText } from '../lib/progress-text';
import { boxOverlays } from '../lib/enhance-detail';
import { enhanceStore } from '../stores/enhance';
import { DetailSection } from './enhance/DetailSection';

const IMAGE_NAME = /\.(png|jpe?g|webp|gif|bmp|avif|ico|tiff?)$/i;

function isImage(file: File): boolean {
  return file.type.startsWith('image/') || (!file.type && IMAGE_NAME.test(file.name));
}

function afterLabel(outcome: { factor: number; stages: string[] }): string {
  const done = [
    outcome.stages.includes('refiner') ? 'refined' : '',
    outcome.stages.includes('detailer') ? 'detailed' : '',
    outcome.stages.includes('upscaler') ? `×${outcome.factor}` : '',
  ].filter(Boolean);
  if (done.length === 1 && done[0]!.startsWith('×')) return `After ${done[0]}`;
  return `After (${done.join(', ')})`;
}

/** "2 faces redrawn at 0.4", "no face found", "painted area redrawn at 0.75". */
function detailText(detail: { mode: string; regions: number; strength?: number; message?: string }): string {
  if (detail.regions === 0) return detail.message ?? 'nothing redrawn';
  const at = detail.strength !== undefined ? ` at ${detail.strength}` : '';
  if (detail.mode === 'inpainting') return `painted area redrawn${at}`;
  if (detail.mode === 'img2img') return `region redrawn${at}`;
  return `${detail.regions} region${detail.regions > 1 ? 's' : ''} redrawn${at}`;
}

export function EnhanceView() {
  const s = enhanceStore();
  onMount(() => s.wantModels());
  let fileInput!: HTMLInputElement;

  const takeFiles = (files: File[]) => {
    const file = files.find(isImage);
    if (file) {
      s.useFile(file);
      return;
    }
    s.rejectInput(
      files.length
        ? `“${files[0]!.name}” is not an image. Choose a PNG, JPEG or WebP file.`
        : 'No file was chosen.',
    );
  };

  const statusText = createMemo(() => {
    if (s.cancelling() && s.busy()) return 'Cancelling';
    switch (s.phase()) {
      case 'submitting':
        return 'Submitting';
      case 'queued':
        return 'Queued';
      case 'running':
        return 'Running';
      case 'done':
        return 'Done';
      case 'failed':
        return 'Failed';
      case 'cancelled':
        return 'Cancelled';
      case 'interrupted':
        return 'Interrupted';
      default:
        return s.source() ? 'Ready' : 'No image chosen';
    }
  });

  const showProgress = () => s.phase() === 'submitting' || (s.jobId() !== null && s.phase() !== 'idle');

  // Until the first tile or step is counted, the bar says how long the job has run (ticking).
  const [now, setNow] = createSignal(performance.now());
  createEffect(() => {
    if (s.phase() !== 'running' || s.progress()) return;
    const timer = setInterval(() => setNow(performance.now()), 500);
    onCleanup(() => clearInterval(timer));
  });
  const bar = createMemo(() => {
    const started = s.startedAt();
    return enhanceProgressText({
      phase: s.phase(),
      stages: s.runStages(),
      progress: s.progress(),
      activity: s.activity(),
      queuePosition: s.queuePosition(),
      totalMs: s.outcome()?.totalMs,
      runningMs: started !== null && s.phase() === 'running' && !s.progress() ? Math.max(0, now() - started) : undefined,
    });
  });

  const expectedOutput = () => {
    const size = s.inputSize();
    const factor = s.willUpscale() ? s.factor() : 1;
    return size ? formatSize(size.width * factor, size.height * factor) : undefined;
  };

  const runLabel = () => {
    const steps = [
      s.refine() ? 'refine' : '',
      s.detail() ? (s.detailSettings().mode === 'mask' ? 'inpaint' : `fix ${s.detailSettings().targets.map((t) => `${t}s`).join(' and ') || 'faces'}`) : '',
      s.willUpscale() ? `upscale ×${s.factor()}` : '',
    ].filter(Boolean);
    const text = steps.length > 1 ? `${steps.slice(0, -1).join(', ')}, then ${steps.at(-1)}` : (steps[0] ?? '');
    return text.charAt(0).toUpperCase() + text.slice(1);
  };

  /** The Find boxes over the shown image (detect mode, before a result replaces the image). */
  const overlays = createMemo(() => {
    const found = s.found();
    return s.detail() && s.detailSettings().mode === 'detect' && found ? boxOverlays(found.regions, found) : [];
  });

  const strengthInput = (value: string) => s.setRefineStrength(value.trim() === '' ? Number.NaN : Number(value));

  const modelHint = () => {
    if (s.upscalers.error) return `Could not list the upscaler models: ${plainError(s.upscalers.error)}`;
    if (s.upscalers.loading && !s.upscalers.latest) return 'Loading models…';
    if (s.modelsForFactor().length === 0) return `No ×${s.factor()} model is installed; the studio's default will be tried.`;
    return undefined;
  };

  return (
    <DropZone
      class="view view-enhance"
      data-testid="view-enhance"
      aria-label="Enhance"
      hint="Drop an image to enhance"
      onFiles={takeFiles}
    >
      <div class="enhance-layout">
        <form
          class="panel controls"
          onSubmit={(event) => {
            event.preventDefault();
            void s.run();
          }}
        >
          <h2 class="panel-title">Enhance</h2>
          <p class="muted small">
            Upscale an image ×2 to ×8 on this device; refine it, fix its faces and hands or inpaint what you paint
            with a Stable Diffusion checkpoint first. Choose a file, or drop one anywhere here.
          </p>

          <label class="btn file-pick">
            <input
              ref={fileInput}
              class="visually-hidden"
              type="file"
              accept="image/*"
              data-testid="enhance-input"
              onChange={(event) => {
                const files = Array.from(event.currentTarget.files ?? []);
                // Let the same file be picked again later.
                event.currentTarget.value = '';
                if (files.length) takeFiles(files);
              }}
            />
            <span>{s.source() ? 'Choose another image…' : 'Choose image…'}</span>
          </label>

          <Show when={s.source()}>
            {(source) => (
              <p class="file-name" data-testid="enhance-source" title={source().name}>
                <span class="truncate">{source().name}</span>
                <Show when={s.inputSize()}>
                  {(size) => <span class="muted">· {formatSize(size().width, size().height)}</span>}
                </Show>
                <Show when={source().kind === 'artifact'}>
                  <span class="muted">· from gallery</span>
                </Show>
              </p>
            )}
          </Show>

          <fieldset class="refine-section" classList={{ 'refine-on': s.refine() }} data-testid="refine-section">
            <legend class="visually-hidden">Refine</legend>
            <label class="refine-check">
              <input
                type="checkbox"
                data-testid="enhance-refine"
                checked={s.refine()}
                disabled={s.busy()}
                onChange={(event) => {
                  s.setRefine(event.currentTarget.checked);
                  if (event.currentTarget.checked) s.wantModels();
                }}
              />
              <span>
                <span class="refine-check-label">Refine first (img2img)</span>
                <span class="muted small">Redraw details with a Stable Diffusion checkpoint before upscaling.</span>
              </span>
            </label>

            <Show when={s.refine()}>
              <div class="refine-fields">
                <label class="field">
                  <span class="field-label">Checkpoint</span>
                  <select
                    data-testid="refine-model"
                    value={s.refineModel()}
                    disabled={!s.refineModel() || s.busy()}
                    onChange={(event) => s.setRefineModel(event.currentTarget.value)}
                  >
                    <Show
                      when={s.verifiedCheckpoints().length > 0}
                      fallback={<option value="">{s.checkpointsLoading() ? 'Loading…' : 'No checkpoint imported'}</option>}
                    >
                      <For each={s.verifiedCheckpoints()}>
                        {(model) => (
                          <option
                            value={model.name}
                            selected={model.name === s.refineModel()}
                            disabled={!s.canRefineWith(model)}
                          >
                            {model.name}
                            {model.family ? ` · ${model.family.family}` : ''}
                            {s.canRefineWith(model) ? '' : ' (no VAE encoder)'}
                          </option>
                        )}
                      </For>
                    </Show>
                  </select>
                </label>

                <div class="field">
                  <label class="field-label" for="refine-strength">
                    Strength
                  </label>
                  <div class="refine-strength">
                    <input
                      type="range"
                      min={REFINE_RANGES.strength.min}
                      max={REFINE_RANGES.strength.max}
                      step={REFINE_RANGES.strength.step}
                      aria-label="Strength"
                      data-testid="refine-strength-slider"
                      value={Number.isFinite(s.refineStrength()) ? s.refineStrength() : 0}
                      disabled={s.busy()}
                      onInput={(event) => strengthInput(event.currentTarget.value)}
                    />
                    <input
                      ref={(el) => bindNumberField(el, s.refineStrength)}
                      id="refine-strength"
                      type="number"
                      min={REFINE_RANGES.strength.min}
                      max={REFINE_RANGES.strength.max}
                      step="any"
                      inputmode="decimal"
                      data-testid="refine-strength"
                      disabled={s.busy()}
                      onInput={(event) => strengthInput(event.currentTarget.value)}
                    />
                  </div>
                  <span class="muted small">0 keeps the image, 1 redraws it entirely; 0.2–0.4 sharpens details.</span>
                </div>

                <label class="field">
                  <span class="field-label">Prompt (optional)</span>
                  <textarea
                    rows="2"
                    data-testid="refine-prompt"
                    placeholder="What the image shows, to guide the details"
                    value={s.refinePrompt()}
                    disabled={s.busy()}
                    onInput={(event) => s.setRefinePrompt(event.currentTarget.value)}
                  />
                </label>

                <label class="field refine-steps">
                  <span class="field-label">Steps</span>
                  <input
                    type="number"
                    min={REFINE_RANGES.steps.min}
                    max={REFINE_RANGES.steps.max}
                    step={REFINE_RANGES.steps.step}
                    placeholder="model default"
                    data-testid="refine-steps"
                    ref={(el) => bindNumberField(el, s.refineSteps)}
                    disabled={s.busy()}
                    onInput={(event) => {
                      const value = event.currentTarget.value.trim();
                      s.setRefineSteps(value === '' ? null : Number(value));
                    }}
                  />
                </label>

              </div>

              <For each={s.refineProblems()}>
                {(problem) => (
                  <div
                    class="refine-problem"
                    classList={{ 'refine-problem-info': problem.kind === 'loading' }}
                    role={problem.kind === 'loading' ? 'status' : 'alert'}
                    data-testid="refine-problem"
                    data-kind={problem.kind}
                  >
                    <p>{problem.message}</p>
                    <Show when={problem.kind === 'model'}>
                      <button type="button" class="btn" data-testid="refine-open-models" onClick={() => navigate('models')}>
                        Open the Models view
                      </button>
                    </Show>
                  </div>
                )}
              </For>
            </Show>
          </fieldset>

          <DetailSection s={s} />

          <Show when={s.refine() || s.detail()}>
            <label class="refine-check">
              <input
                type="checkbox"
                data-testid="refine-also-upscale"
                checked={s.alsoUpscale()}
                disabled={s.busy()}
                onChange={(event) => s.setAlsoUpscale(event.currentTarget.checked)}
              />
              <span class="refine-check-label">Then upscale</span>
            </label>
          </Show>

          <div class="field-row" classList={{ 'upscale-off': !s.willUpscale() }}>
            <label class="field">
              <span class="field-label">Factor</span>
              <select
                data-testid="upscale-factor"
                value={String(s.factor())}
                disabled={!s.willUpscale()}
                onChange={(event) => s.setFactor(Number(event.currentTarget.value))}
              >
                <For each={UPSCALE_FACTORS}>
                  {(factor) => (
                    <option value={String(factor)} selected={factor === s.factor()}>
                      ×{factor}
                    </option>
                  )}
                </For>
              </select>
            </label>
            <label class="field grow">
              <span class="field-label">Model</span>
              <select
                data-testid="upscale-model"
                value={s.model()}
                disabled={s.modelsForFactor().length === 0 || !s.willUpscale()}
                onChange={(event) => s.setModel(event.currentTarget.value)}
              >
                <Show
                  when={s.modelsForFactor().length > 0}
                  fallback={<option value="">Default for ×{s.factor()}</option>}
                >
                  <For each={s.modelsForFactor()}>
                    {(model) => (
                      <option value={model.name} selected={model.name === s.model()}>
                        {model.name}
                        {model.bundled ? '' : ' (imported)'}
                      </option>
                    )}
                  </For>
                </Show>
              </select>
            </label>
          </div>
          <Show when={s.willUpscale() && modelHint()}>
            <p class="muted small">{modelHint()}</p>
          </Show>
          <Show when={expectedOutput()}>
            <p class="muted small" data-testid="expected-output">
              Output will be {expectedOutput()}
            </p>
          </Show>

          <div class="actions">
            <button type="submit" class="btn btn-primary" data-testid="enhance-run" disabled={!s.canRun()}>
              {runLabel()}
            </button>
            <Show when={s.busy() && s.jobId()}>
              <button
                type="button"
                class="btn"
                data-testid="cancel"
                disabled={s.cancelling()}
                onClick={() => void s.cancel()}
              >
                {s.cancelling() ? 'Cancelling…' : 'Cancel'}
              </button>
            </Show>
          </div>

          <p class="status" classList={{ [`status-${s.phase()}`]: true }} role="status" data-testid="status">
            {statusText()}
          </p>

          <Show when={showProgress()}>
            <ProgressBar label="Enhance progress" value={bar().value} max={bar().max} text={bar().text} />
          </Show>

          <Show when={s.error()}>
            <p class="error" role="alert" data-testid="error">
              {s.error()}
            </p>
          </Show>
        </form>

        <div class="panel stage" aria-label="Image">
          <Switch
            fallback={
              <button type="button" class="empty-drop" onClick={() => fileInput.click()}>
                <span class="empty-drop-title">Drop an image here</span>
                <span class="muted">or click to choose one — PNG, JPEG, WebP…</span>
              </button>
            }
          >
            <Match when={s.outcome() && s.previewUrl() ? s.outcome() : undefined}>
              {(outcome) => (
                <div class="result" data-testid="result">
                  <CompareSlider
                    before={s.previewUrl()!}
                    after={outcome().url}
                    width={outcome().width}
                    height={outcome().height}
                    beforeLabel="Before"
                    afterLabel={afterLabel(outcome())}
                  />
                  <div class="result-info">
                    <p data-testid="result-info">
                      <strong>{formatSize(outcome().width, outcome().height)}</strong>
                      <Show when={s.inputSize()}>
                        {(size) => <span class="muted"> from {formatSize(size().width, size().height)}</span>}
                      </Show>
                      <Show
                        when={outcome().ms !== undefined}
                        fallback={<span> · {formatDuration(outcome().totalMs)}</span>}
                      >
                        <span title={outcome().stages.length > 1 ? 'Time spent refining and upscaling' : 'Time spent in the stage'}>
                          {' '}
                          · {formatDuration(outcome().ms!)}
                        </span>
                        <Show when={outcome().totalMs > outcome().ms! * 1.2 + 500}>
                          <span class="muted" title="Including queueing, model loading and saving">
                            {' '}
                            ({formatDuration(outcome().totalMs)} in all)
                          </span>
                        </Show>
                      </Show>
                      <Show when={outcome().bytes}>
                        <span class="muted"> · {formatBytes(outcome().bytes!)}</span>
                      </Show>
                      <Show when={outcome().refine}>
                        {(refine) => (
                          <span class="muted" data-testid="result-refine">
                            {' '}
                            · refined
                            {refine().strength !== undefined ? ` at ${refine().strength}` : ''}
                            {refine().model ? ` with ${refine().model}` : ''}
                          </span>
                        )}
                      </Show>
                      <Show when={outcome().detail}>
                        {(detail) => (
                          <span class="muted" data-testid="result-detail">
                            {' '}
                            · {detailText(detail())}
                          </span>
                        )}
                      </Show>
                      <Show when={outcome().stages.includes('upscaler') ? outcome().model : undefined}>
                        <span class="muted"> · {outcome().model}</span>
                      </Show>
                      <Show when={outcome().backend}>
                        <span class="muted"> · {outcome().backend}</span>
                      </Show>
                    </p>
                    <div class="actions">
                      <a class="btn" href={outcome().url} download={outcome().name} data-testid="result-download">
                        Download
                      </a>
                      <Show when={outcome().stages.includes('detailer')}>
                        <button type="button" class="btn" data-testid="result-back" onClick={() => s.dismissResult()}>
                          {s.detailSettings().mode === 'mask' ? 'Edit the mask' : 'Back to the image'}
                        </button>
                      </Show>
                      <button type="button" class="btn btn-ghost" onClick={() => navigate('gallery')}>
                        Open gallery
                      </button>
                    </div>
                  </div>
                </div>
              )}
            </Match>
            <Match when={s.detail() && s.detailSettings().mode === 'mask' && s.previewUrl() && s.inputSize() ? s.inputSize() : undefined}>
              {(size) => (
                <MaskEditor
                  src={s.previewUrl()!}
                  width={size().width}
                  height={size().height}
                  // Read once when the editor opens: its own edits come back through onChange.
                  initialMask={untrack(s.mask)}
                  disabled={s.busy()}
                  alt="Image to inpaint"
                  onChange={(mask) => s.setMask(mask)}
                />
              )}
            </Match>
            <Match when={s.previewUrl()}>
              {(url) => (
                <figure class="preview">
                  <div class="found-frame">
                    <img
                      src={url()}
                      alt="Chosen image"
                      data-testid="enhance-preview"
                      onLoad={(event) =>
                        s.setInputSize({ width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight })
                      }
                      onError={() => s.setPreviewBroken(true)}
                    />
                    <For each={overlays()}>
                      {(box) => (
                        <div
                          class="found-box"
                          data-testid="found-box"
                          data-box={box.box.map((v) => Math.round(v)).join(',')}
                          style={{ left: `${box.left}%`, top: `${box.top}%`, width: `${box.width}%`, height: `${box.height}%` }}
                        >
                          <span class="found-label">{box.label}</span>
                        </div>
                      )}
                    </For>
                  </div>
                  <Show when={s.previewBroken()}>
                    <figcaption class="muted small">
                      This browser cannot show the file; the studio may still be able to read it.
                    </figcaption>
                  </Show>
                </figure>
              )}
            </Match>
          </Switch>
        </div>
      </div>
    </DropZone>
  );
}
