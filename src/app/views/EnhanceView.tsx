import { createMemo, For, Match, onMount, Show, Switch } from 'solid-js';
import { CompareSlider } from '../components/CompareSlider';
import { DropZone } from '../components/DropZone';
import { ProgressBar } from '../components/ProgressBar';
import { formatBytes, formatDuration, formatEta, formatSize, plainError } from '../format';
import { navigate } from '../router';
import { enhanceStore, UPSCALE_FACTORS, type EnhanceProgress } from '../stores/enhance';

const IMAGE_NAME = /\.(png|jpe?g|webp|gif|bmp|avif|ico|tiff?)$/i;

function isImage(file: File): boolean {
  return file.type.startsWith('image/') || (!file.type && IMAGE_NAME.test(file.name));
}

function unitOf(progress: EnhanceProgress): string {
  return /upscal/i.test(progress.stage) ? 'tile' : 'step';
}

function etaOf(progress: EnhanceProgress): number | undefined {
  if (progress.etaMs !== undefined) return progress.etaMs;
  if (progress.step <= 0 || progress.total <= progress.step) return undefined;
  return (progress.elapsedMs / progress.step) * (progress.total - progress.step);
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
      default:
        return s.source() ? 'Ready' : 'No image chosen';
    }
  });

  const showProgress = () => s.phase() === 'submitting' || (s.jobId() !== null && s.phase() !== 'idle');

  const bar = createMemo((): { value?: number; max?: number; text: string } => {
    const p = s.progress();
    const phase = s.phase();
    if (phase === 'done') {
      const total = s.outcome()?.totalMs;
      const parts = [p ? `${unitOf(p)} ${p.total} / ${p.total}` : 'finished', total !== undefined ? formatDuration(total) : ''];
      return { value: p?.total ?? 1, max: p?.total ?? 1, text: parts.filter(Boolean).join(' · ') };
    }
    if (phase === 'submitting') return { text: 'Sending the image to the studio…' };
    if (!p) {
      if (phase === 'queued') {
        const position = s.queuePosition();
        return { text: position ? `Waiting in the queue (position ${position})` : 'Waiting in the queue…' };
      }
      if (phase === 'running') return { text: 'Running…' };
      return { text: '' };
    }
    const parts = [`${unitOf(p)} ${p.step} / ${p.total}`, formatDuration(p.elapsedMs)];
    const eta = etaOf(p);
    if (s.busy() && eta !== undefined) parts.push(`ETA ${formatEta(eta)}`);
    return { value: p.step, max: p.total, text: parts.join(' · ') };
  });

  const expectedOutput = () => {
    const size = s.inputSize();
    return size ? formatSize(size.width * s.factor(), size.height * s.factor()) : undefined;
  };

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
          <p class="muted small">Upscale an image ×2 to ×8 on this device. Choose a file, or drop one anywhere here.</p>

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

          <div class="field-row">
            <label class="field">
              <span class="field-label">Factor</span>
              <select
                data-testid="upscale-factor"
                value={String(s.factor())}
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
                disabled={s.modelsForFactor().length === 0}
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
          <Show when={modelHint()}>
            <p class="muted small">{modelHint()}</p>
          </Show>
          <Show when={expectedOutput()}>
            <p class="muted small" data-testid="expected-output">
              Output will be {expectedOutput()}
            </p>
          </Show>

          <div class="actions">
            <button type="submit" class="btn btn-primary" data-testid="enhance-run" disabled={!s.source() || s.busy()}>
              Upscale ×{s.factor()}
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
            <ProgressBar label="Upscale progress" value={bar().value} max={bar().max} text={bar().text} />
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
                    afterLabel={`After ×${outcome().factor}`}
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
                        <span title="Time spent upscaling"> · {formatDuration(outcome().ms!)}</span>
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
                      <Show when={outcome().model}>
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
                      <button type="button" class="btn btn-ghost" onClick={() => navigate('gallery')}>
                        Open gallery
                      </button>
                    </div>
                  </div>
                </div>
              )}
            </Match>
            <Match when={s.previewUrl()}>
              {(url) => (
                <figure class="preview">
                  <img
                    src={url()}
                    alt="Chosen image"
                    data-testid="enhance-preview"
                    onLoad={(event) =>
                      s.setInputSize({ width: event.currentTarget.naturalWidth, height: event.currentTarget.naturalHeight })
                    }
                    onError={() => s.setPreviewBroken(true)}
                  />
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
