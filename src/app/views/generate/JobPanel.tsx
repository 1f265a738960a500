import { createEffect, createMemo, createResource, createSignal, For, Match, Show, Switch } from 'solid-js';
import type { PreviewImage } from '../../../protocol/events';
import { ArtifactImage } from '../../components/ArtifactImage';
import { ProgressBar } from '../../components/ProgressBar';
import { basename, formatSize, plainError } from '../../format';
import { createArtifactUrl } from '../../lib/artifact-url';
import { artifactsApi } from '../../lib/artifacts';
import { navigate } from '../../router';
import type { JobPhase } from '../../lib/job-state';
import { progressText } from '../../lib/progress-text';
import { stageMetadata } from '../../lib/stage-metadata';
import { enhanceStore } from '../../stores/enhance';
import { generateStore, type GenerateJob, type GenerateStore } from '../../stores/generate';

/**
 * The latent preview (1/8 of the image's size), scaled up once per preview into a canvas the size
 * it is shown at, so painting the page is a plain copy (a small canvas stretched by CSS is
 * re-filtered on every paint, which in software rendering costs tens of milliseconds).
 */
function PreviewCanvas(props: { image: PreviewImage; width: number; height: number }) {
  let canvas!: HTMLCanvasElement;
  let small: HTMLCanvasElement | undefined;
  createEffect(() => {
    const { width, height, data } = props.image;
    if (!width || !height || data.length !== width * height * 4) return;
    small ??= document.createElement('canvas');
    if (small.width !== width) small.width = width;
    if (small.height !== height) small.height = height;
    small.getContext('2d')?.putImageData(new ImageData(data as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
    // Backing store at the displayed size (at most 512 px wide, like the image box).
    const shownWidth = Math.min(512, Math.max(64, Math.round(canvas.clientWidth || 512)));
    const w = Math.round(shownWidth * Math.min(2, window.devicePixelRatio || 1));
    const h = Math.max(1, Math.round((w * props.height) / props.width));
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'low';
    ctx.drawImage(small, 0, 0, w, h);
  });
  return (
    <canvas
      ref={canvas}
      class="live-preview"
      data-testid="preview"
      style={{ 'aspect-ratio': `${props.width} / ${props.height}` }}
      aria-label="Live preview of the image being generated"
    />
  );
}

/**
 * One result image, with its name and size, and what people do with a result next: download it,
 * send it to Enhance, reuse its parameters (an image of a batch: batch 1 with its own seed),
 * open it in the gallery, or delete it.
 */
function ResultImage(props: { id: string; final: boolean; testid?: string }) {
  const [summary] = createResource(
    () => props.id,
    (id) => artifactsApi().get(id),
  );
  const file = createArtifactUrl(() => props.id);
  const name = () => basename(summary()?.name ?? 'image.png');
  const [deleted, setDeleted] = createSignal(false);
  const [actionError, setActionError] = createSignal<string | null>(null);
  const act = (what: string, fn: () => Promise<unknown>) => async () => {
    setActionError(null);
    try {
      await fn();
    } catch (err) {
      setActionError(`${what}: ${plainError(err)}`);
    }
  };
  const enhance = act('Could not send it to Enhance', async () => {
    await enhanceStore().useArtifact(props.id, summary()?.name ?? name());
    navigate('enhance');
  });
  const reuse = act('Could not reuse its parameters', async () => {
    const item = summary();
    if (item) await generateStore().reuseArtifact(item);
  });
  const remove = act('Could not delete it', async () => {
    await artifactsApi().delete(props.id);
    setDeleted(true);
  });
  return (
    <figure class="result-figure" classList={{ final: props.final }} data-testid={props.testid ?? 'result-image'} data-deleted={deleted() ? 'true' : undefined}>
      <Show when={!deleted()} fallback={<p class="muted small result-deleted">Deleted.</p>}>
        <button type="button" class="result-open" title="Open in the gallery" onClick={() => navigate('gallery', props.id)}>
          <ArtifactImage id={props.id} alt={name()} class="result-thumb" />
        </button>
        <figcaption class="small">
          <span class="result-name">
            <span class="truncate">{name()}</span>
            <Show when={summary()}>
              <span class="muted num">{formatSize(summary()!.width, summary()!.height)}</span>
            </Show>
          </span>
          <span class="result-links">
            <Show when={file().url}>
              <a class="btn-link" href={file().url} download={name()} data-testid="result-download">
                Download
              </a>
            </Show>
            <button type="button" class="btn-link" data-testid="result-enhance" onClick={() => void enhance()}>
              Enhance
            </button>
            <button type="button" class="btn-link" data-testid="result-reuse" disabled={!summary()} onClick={() => void reuse()}>
              Reuse
            </button>
            <button type="button" class="btn-link" data-testid="result-gallery" onClick={() => navigate('gallery', props.id)}>
              Gallery
            </button>
            <button type="button" class="btn-link danger" data-testid="result-delete" onClick={() => void remove()}>
              Delete
            </button>
          </span>
          <Show when={actionError()}>
            <span class="field-error" role="alert">
              {actionError()}
            </span>
          </Show>
        </figcaption>
      </Show>
    </figure>
  );
}

const STATUS_TEXT: Record<JobPhase, string> = {
  submitting: 'Submitting',
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

/** An earlier finished job of this session: its prompt, seed and images, until dismissed. */
function SessionResult(props: { job: GenerateJob; onOpen: () => void; onDismiss: () => void }) {
  const label = () => props.job.prompt.trim().replace(/\s+/g, ' ') || '(empty prompt)';
  return (
    <li class="session-result" data-testid="session-result">
      <div class="session-result-header small">
        <button type="button" class="btn-link truncate session-result-label" title={label()} onClick={() => props.onOpen()}>
          {label()}
        </button>
        <Show when={props.job.seed !== undefined}>
          <span class="muted num">Seed {props.job.seed}</span>
        </Show>
        <button type="button" class="btn btn-small" aria-label={`Dismiss ${label()}`} onClick={() => props.onDismiss()}>
          Dismiss
        </button>
      </div>
      <div class="result-grid session-grid">
        <For each={props.job.artifacts}>{(id, i) => <ResultImage id={id} final={i() === props.job.artifacts.length - 1} testid="session-image" />}</For>
      </div>
    </li>
  );
}

/** The session's other finished results, newest first (the panel shows the running or latest job). */
export function SessionResults(props: { store: GenerateStore }) {
  const s = props.store;
  return (
    <Show when={s.results().length > 0}>
      <section class="panel session-results" aria-label="Earlier results" data-testid="session-results">
        <div class="queue-header">
          <h3 class="panel-subtitle">Earlier results</h3>
          <button type="button" class="btn btn-small" data-testid="dismiss-all-results" onClick={() => s.dismissAll()}>
            Dismiss all
          </button>
        </div>
        <ul class="session-list" role="list">
          <For each={s.results()}>{(j) => <SessionResult job={j} onOpen={() => s.focus(j.id)} onDismiss={() => s.dismiss(j.id)} />}</For>
        </ul>
      </section>
    </Show>
  );
}

/** The job the view follows (the running one, else the latest): status, progress with live preview, then its images. */
export function JobPanel(props: { store: GenerateStore }) {
  const s = props.store;
  const job = () => s.current();
  const bar = createMemo(() => (job() ? progressText(job()!) : { text: '' }));
  const preview = createMemo(() => {
    const p = s.preview();
    const j = job();
    return p && j && p.jobId === j.id ? p.image : null;
  });
  const active = () => {
    const phase = job()?.phase;
    return phase === 'queued' || phase === 'running' || phase === 'submitting';
  };
  /** What the detailer did: its own words when it redrew nothing ("no face found"), else a count. */
  const detailerNote = createMemo(() => {
    const d = stageMetadata(job()?.result?.metadata, 'detailer');
    if (!d) return null;
    if (d.message) return `Detailer: ${d.message}; the image is unchanged.`;
    const counts = new Map<string, number>();
    for (const r of d.regions) counts.set(r.class, (counts.get(r.class) ?? 0) + 1);
    const what = [...counts].map(([c, n]) => `${n} ${c}${n === 1 ? '' : 's'}`).join(' and ');
    return what ? `Detailer: redrew ${what}.` : null;
  });

  /** What the LoRAs and embeddings did ("LoRA `x`: 192 of 192 modules"), each stage's lines once. */
  const networkLines = createMemo(() => {
    const lines = Object.values(job()?.result?.metadata ?? {}).flatMap((m) => ((m as { networks?: unknown }).networks as string[] | undefined) ?? []);
    return [...new Set(lines.filter((l) => typeof l === 'string'))];
  });

  return (
    <section class="panel job-panel" aria-label="Result">
      <Show
        when={job()}
        fallback={
          <div class="job-empty">
            <Show when={s.submitting()} fallback={<p class="muted">Your images appear here. Drop a PNG anywhere on this view to load its parameters.</p>}>
              <ProgressBar label="Generation progress" text="Sending to the studio…" />
            </Show>
          </div>
        }
      >
        {(j) => (
          <>
            <div class="job-header">
              <p class="status" classList={{ [`status-${j().phase === 'succeeded' ? 'done' : j().phase}`]: true }} role="status" data-testid="status">
                {j().cancelling && active() ? 'Cancelling' : STATUS_TEXT[j().phase]}
              </p>
              <Show when={j().seed !== undefined}>
                <span class="muted small num" data-testid="seed-used" title={j().seedDrawn ? 'Drawn for this run' : 'The seed you set'}>
                  Seed {j().seed}
                </span>
              </Show>
              <div class="spacer" />
              <Show
                when={active()}
                fallback={
                  <button type="button" class="btn btn-small" data-testid="dismiss-result" onClick={() => s.dismiss(j().id)}>
                    Dismiss
                  </button>
                }
              >
                <button type="button" class="btn" data-testid="cancel" disabled={j().cancelling} onClick={() => void s.cancel(j().id)}>
                  {j().cancelling ? 'Cancelling…' : 'Cancel'}
                </button>
              </Show>
            </div>
            <ProgressBar label="Generation progress" value={bar().value} max={bar().max} text={bar().text} />
            <Show when={j().error}>
              <p class="error" role="alert" data-testid="job-error">
                {plainError(j().error)}
              </p>
            </Show>
            <Show when={detailerNote()}>
              <p class="muted small detailer-note" data-testid="detailer-message">
                {detailerNote()}
              </p>
            </Show>
            <Show when={networkLines().length > 0}>
              <p class="muted small networks-note" data-testid="networks-message">
                {networkLines().join(' · ')}
              </p>
            </Show>
            <Switch>
              <Match when={j().phase === 'succeeded' && j().artifacts.length > 0}>
                <div class="result-grid" classList={{ single: j().artifacts.length === 1 }} data-testid="result">
                  <For each={j().artifacts}>{(id, i) => <ResultImage id={id} final={i() === j().artifacts.length - 1} />}</For>
                </div>
              </Match>
              <Match when={preview()}>
                {(image) => (
                  <div class="preview-frame">
                    <PreviewCanvas image={image()} width={j().width} height={j().height} />
                  </div>
                )}
              </Match>
              <Match when={active()}>
                <div class="preview-frame preview-waiting" style={{ 'aspect-ratio': `${j().width} / ${j().height}` }}>
                  <span class="muted small">The preview appears after the first steps.</span>
                </div>
              </Match>
            </Switch>
          </>
        )}
      </Show>
    </section>
  );
}
