import { createEffect, createMemo, createResource, createSignal, For, on, onCleanup, onMount, Show } from 'solid-js';
import { connectStudio } from '../../client/studio-client';
import type { ArtifactSummary } from '../../protocol/schemas';
import { ArtifactImage } from '../components/ArtifactImage';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DropZone } from '../components/DropZone';
import type { SchedulerName } from '../../protocol/pipeline-config';
import { basename, formatBytes, formatDate, formatDuration, formatSize, plainError } from '../format';
import { createArtifactUrl } from '../lib/artifact-url';
import { artifactsApi } from '../lib/artifacts';
import { SAMPLER_LABELS } from '../lib/generation-parameters';
import { schedulerBase } from '../lib/stage-metadata';
import { navigate, replaceRouteParam, routeParam } from '../router';
import { enhanceStore } from '../stores/enhance';
import { generateStore } from '../stores/generate';
import { listenJobEvents } from '../stores/job-events';

async function loadArtifacts(): Promise<ArtifactSummary[]> {
  await connectStudio();
  const list = await artifactsApi().list();
  return [...list].sort((a, b) => b.created_at - a.created_at);
}

export function GalleryView() {
  const [artifacts, { refetch }] = createResource(loadArtifacts);
  // The selection follows the address (`#/gallery/<id>`), so a result's "Gallery" link opens it.
  const [selectedId, setSelected] = createSignal<string | null>(routeParam());
  const setSelectedId = (id: string | null) => {
    setSelected(id);
    replaceRouteParam(id);
  };
  createEffect(on(routeParam, (id) => setSelected(id), { defer: true }));
  const [confirmingClear, setConfirmingClear] = createSignal(false);
  const [working, setWorking] = createSignal(false);
  const [actionError, setActionError] = createSignal<string | null>(null);

  // Keep the same objects for unchanged ids so refreshes do not reload every thumbnail.
  let known = new Map<string, ArtifactSummary>();
  const items = createMemo<ArtifactSummary[]>(() => {
    if (artifacts.error) return [];
    const list = artifacts.latest ?? [];
    const next = new Map<string, ArtifactSummary>();
    const stable = list.map((item) => {
      const kept = known.get(item.id) ?? item;
      next.set(item.id, kept);
      return kept;
    });
    known = next;
    return stable;
  });
  const selected = createMemo(() => {
    const id = selectedId();
    return id ? items().find((item) => item.id === id) : undefined;
  });

  onCleanup(
    listenJobEvents((event) => {
      if (event.type === 'finished') void refetch();
    }),
  );

  const act = async (work: () => Promise<unknown>, what: string) => {
    setWorking(true);
    setActionError(null);
    try {
      await work();
    } catch (err) {
      setActionError(`${what}: ${plainError(err)}`);
    } finally {
      setWorking(false);
      void refetch();
    }
  };

  const remove = (item: ArtifactSummary) =>
    act(async () => {
      await artifactsApi().delete(item.id);
      if (selectedId() === item.id) setSelectedId(null);
    }, 'Could not delete the image');

  const clearAll = () =>
    act(async () => {
      await artifactsApi().clear();
      setSelectedId(null);
      setConfirmingClear(false);
    }, 'Could not delete the images');

  const enhanceAgain = async (item: ArtifactSummary) => {
    await enhanceStore().useArtifact(item.id, item.name);
    navigate('enhance');
  };

  const reuse = async (item: ArtifactSummary) => {
    await generateStore().reuseArtifact(item);
    navigate('generate');
  };

  /** A PNG dropped here (ours, A1111's or ComfyUI's) fills the Generate view. */
  const takeFiles = async (files: File[]) => {
    const png = files.find((f) => f.type === 'image/png' || /\.png$/i.test(f.name));
    if (!png) {
      setActionError(`“${files[0]?.name ?? 'The file'}” is not a PNG: drop a PNG made by Media Lab, A1111 or ComfyUI to load its parameters.`);
      return;
    }
    setActionError(null);
    await generateStore().loadPng(png);
    navigate('generate');
  };

  return (
    <DropZone
      class="view view-gallery"
      data-testid="view-gallery"
      aria-label="Gallery"
      hint="Drop a PNG to load its parameters into Generate"
      onFiles={(files) => void takeFiles(files)}
    >
      <div class="gallery-header">
        <h2 class="panel-title">Gallery</h2>
        <span class="muted small" data-testid="gallery-count">
          <Show when={artifacts.state === 'ready' || artifacts.state === 'refreshing'}>
            {items().length} {items().length === 1 ? 'image' : 'images'}
          </Show>
        </span>
        <div class="spacer" />
        <button type="button" class="btn btn-ghost" onClick={() => void refetch()} disabled={artifacts.loading}>
          Refresh
        </button>
        <button
          type="button"
          class="btn btn-danger"
          data-testid="delete-all"
          disabled={working() || items().length === 0}
          onClick={() => setConfirmingClear(true)}
        >
          Delete all
        </button>
      </div>

      <Show when={artifacts.error || actionError()}>
        <p class="error" role="alert" data-testid="gallery-error">
          {actionError() ?? `Could not list the images: ${plainError(artifacts.error)}`}
        </p>
      </Show>

      <Show when={!artifacts.error && artifacts.loading && !artifacts.latest}>
        <p class="muted">Loading…</p>
      </Show>

      <Show when={!artifacts.error && artifacts.state === 'ready' && items().length === 0}>
        <div class="empty" data-testid="gallery-empty">
          <p>No images yet.</p>
          <p class="muted small">Everything you generate or upscale is kept here, on this device.</p>
          <div class="actions">
            <button type="button" class="btn btn-primary" onClick={() => navigate('generate')}>
              Generate an image
            </button>
            <button type="button" class="btn" onClick={() => navigate('enhance')}>
              Enhance an image
            </button>
          </div>
        </div>
      </Show>

      <div class="gallery-layout" classList={{ 'has-detail': !!selected() }}>
        <ul class="gallery-grid" role="list">
          <For each={items()}>
            {(item) => (
              <li>
                <button
                  type="button"
                  class="gallery-item"
                  classList={{ selected: selectedId() === item.id }}
                  data-testid="gallery-item"
                  aria-pressed={selectedId() === item.id}
                  title={item.name}
                  onClick={() => setSelectedId(selectedId() === item.id ? null : item.id)}
                >
                  <ArtifactImage id={item.id} alt={basename(item.name)} class="thumb" lazy />
                  <span class="gallery-item-name truncate">{basename(item.name)}</span>
                  <span class="gallery-item-meta muted small">
                    {formatSize(item.width, item.height)} · {formatDate(item.created_at)}
                  </span>
                </button>
              </li>
            )}
          </For>
        </ul>

        <Show when={selected()}>
          {(item) => (
            <ArtifactDetail
              artifact={item()}
              busy={working()}
              onClose={() => setSelectedId(null)}
              onDelete={() => void remove(item())}
              onEnhance={() => void enhanceAgain(item())}
              onReuse={() => void reuse(item())}
            />
          )}
        </Show>
      </div>

      <Show when={confirmingClear()}>
        <ConfirmDialog
          title="Delete all images?"
          confirmLabel="Delete all"
          danger
          busy={working()}
          confirmTestid="confirm-delete-all"
          cancelTestid="cancel-delete-all"
          onConfirm={() => void clearAll()}
          onCancel={() => setConfirmingClear(false)}
        >
          <p>
            {items().length === 1
              ? 'This removes the image and its parameters from this device.'
              : `This removes all ${items().length} images and their parameters from this device.`}{' '}
            It cannot be undone.
          </p>
        </ConfirmDialog>
      </Show>
    </DropZone>
  );
}

interface DetailRow {
  label: string;
  value: string;
}

/** The rows of an image's details, from its typed stage metadata (absent for records this build cannot read). */
function detailRows(artifact: ArtifactSummary): DetailRow[] {
  const meta = artifact.metadata;
  const rows: DetailRow[] = [];
  const add = (label: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') rows.push({ label, value: String(value) });
  };
  const prompts = (prompt: string | undefined, negative: string | undefined) => {
    add('Prompt', prompt && prompt.length > 300 ? `${prompt.slice(0, 300)}…` : prompt);
    add('Negative prompt', negative);
  };
  const sampler = (scheduler: string, karras: boolean) => {
    const base = schedulerBase(scheduler);
    const label = SAMPLER_LABELS[base as SchedulerName] ?? base;
    add('Sampler', karras || / karras$/.test(scheduler) ? `${label} Karras` : label);
  };
  const text = (key: string) => (meta && typeof meta.parameters[key] === 'string' ? (meta.parameters[key] as string) : undefined);
  add('Stage', meta?.stage_type ?? artifact.stage);
  switch (meta?.stage_type) {
    case 'text_to_image':
      add('Model', meta.model);
      prompts(meta.prompt, meta.negative_prompt);
      sampler(meta.scheduler, meta.karras);
      add('Steps', meta.steps);
      add('CFG', meta.guidance_scale);
      add('Seed', meta.seed);
      break;
    case 'refiner':
      add('Model', meta.model);
      prompts(text('prompt'), text('negative_prompt'));
      sampler(meta.scheduler, meta.parameters.karras === true);
      add('Steps run', meta.steps_run);
      add('Seed', meta.seed);
      add('Strength', meta.strength);
      if (meta.high_res_fix) add('Hires fix', `×${meta.high_res_fix.scale} (${meta.high_res_fix.upscaler}) from ${formatSize(...meta.high_res_fix.from)}`);
      break;
    case 'upscaler':
      add('Model', meta.model);
      add('Factor', `×${meta.upscale_factor}`);
      add('Input size', formatSize(...meta.input_size));
      add('Tiles', `${meta.tiles} (${meta.tile_size}px, overlap ${meta.tile_overlap})`);
      add('Backend', meta.backend);
      break;
  }
  add('Output size', meta ? formatSize(...meta.output_size) : formatSize(artifact.width, artifact.height));
  add('Time', meta ? formatDuration(meta.ms) : undefined);
  add('File size', artifact.bytes ? formatBytes(artifact.bytes) : undefined);
  add('Created', formatDate(artifact.created_at));
  add('Job', artifact.job_id);
  return rows;
}

interface ArtifactDetailProps {
  artifact: ArtifactSummary;
  busy: boolean;
  onClose: () => void;
  onDelete: () => void;
  onEnhance: () => void;
  onReuse: () => void;
}

function ArtifactDetail(props: ArtifactDetailProps) {
  const image = createArtifactUrl(() => props.artifact.id);
  const rows = createMemo(() => detailRows(props.artifact));
  // Every stage records its parameters; for a generate job the whole pipeline is reused (see the store).
  const canReuse = createMemo(() => props.artifact.metadata !== undefined);
  const raw = createMemo(() =>
    JSON.stringify({ parameters: props.artifact.parameters, metadata: props.artifact.metadata }, null, 2),
  );
  let panel!: HTMLElement;

  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && !document.querySelector('.modal-backdrop')) props.onClose();
  };
  onMount(() => {
    window.addEventListener('keydown', onKey);
    panel.focus();
  });
  onCleanup(() => window.removeEventListener('keydown', onKey));

  return (
    <aside
      ref={panel}
      class="panel detail"
      tabIndex={-1}
      aria-label={`Details of ${basename(props.artifact.name)}`}
      data-testid="gallery-detail"
    >
      <div class="detail-header">
        <h3 class="truncate" title={props.artifact.name}>
          {basename(props.artifact.name)}
        </h3>
        <button type="button" class="btn btn-ghost" aria-label="Close details" data-testid="detail-close" onClick={() => props.onClose()}>
          ✕
        </button>
      </div>

      <div class="detail-image">
        <Show
          when={image().url}
          fallback={<span class="muted">{image().error ?? 'Loading image…'}</span>}
        >
          {(url) => <img src={url()} alt={basename(props.artifact.name)} data-testid="detail-image" />}
        </Show>
      </div>

      <dl class="detail-meta" data-testid="detail-meta">
        <For each={rows()}>
          {(row) => (
            <>
              <dt>{row.label}</dt>
              <dd>{row.value}</dd>
            </>
          )}
        </For>
      </dl>

      <details class="detail-raw">
        <summary>All parameters</summary>
        <pre>{raw()}</pre>
      </details>

      <div class="actions">
        <Show
          when={image().url}
          fallback={
            <button type="button" class="btn" disabled>
              Download
            </button>
          }
        >
          {(url) => (
            <a class="btn btn-primary" href={url()} download={basename(props.artifact.name)} data-testid="download">
              Download
            </a>
          )}
        </Show>
        <Show when={canReuse()}>
          <button
            type="button"
            class="btn"
            data-testid="reuse-parameters"
            title="Fill the Generate view with this image's parameters"
            onClick={() => props.onReuse()}
          >
            Reuse parameters
          </button>
        </Show>
        <button type="button" class="btn" data-testid="enhance-again" onClick={() => props.onEnhance()}>
          Enhance this
        </button>
        <button type="button" class="btn btn-danger" data-testid="delete" disabled={props.busy} onClick={() => props.onDelete()}>
          Delete
        </button>
      </div>
    </aside>
  );
}
