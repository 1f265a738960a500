import { createEffect, createMemo, createResource, createSignal, For, on, onCleanup, onMount, Show } from 'solid-js';
import { connectStudio } from '../../client/studio-client';
import type { ArtifactSummary } from '../../protocol/schemas';
import { ArtifactImage } from '../components/ArtifactImage';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DropZone } from '../components/DropZone';
import {
  asRecord,
  basename,
  formatBytes,
  formatDate,
  formatDuration,
  formatSize,
  pickNumber,
  pickSize,
  pickString,
  plainError,
} from '../format';
import { createArtifactUrl } from '../lib/artifact-url';
import { artifactsApi } from '../lib/artifacts';
import { SAMPLER_LABELS, type SchedulerName } from '../lib/generation-parameters';
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

function detailRows(artifact: ArtifactSummary): DetailRow[] {
  const meta = asRecord(artifact.metadata);
  const params = asRecord(artifact.parameters);
  const nested = asRecord(meta?.parameters);
  const rows: DetailRow[] = [];
  const add = (label: string, value: string | undefined) => {
    if (value) rows.push({ label, value });
  };
  add('Stage', pickString('stage_type', meta) ?? artifact.stage);
  add('Model', pickString('model', meta, params, nested));
  // Generation settings (text_to_image and refiner stages).
  const prompt = pickString('prompt', params, nested, meta);
  add('Prompt', prompt && prompt.length > 300 ? `${prompt.slice(0, 300)}…` : prompt);
  add('Negative prompt', pickString('negative_prompt', params, nested, meta));
  const scheduler = pickString('scheduler', params, nested);
  if (scheduler) {
    const karras = (params?.karras ?? nested?.karras) === true;
    const label = SAMPLER_LABELS[scheduler as SchedulerName] ?? scheduler;
    add('Sampler', karras ? `${label} Karras` : label);
  }
  const steps = pickNumber('steps', params, nested);
  add('Steps', steps !== undefined ? String(steps) : undefined);
  const cfg = pickNumber('guidance_scale', params, nested);
  add('CFG', cfg !== undefined ? String(cfg) : undefined);
  const seed = pickNumber('seed', params, nested, meta);
  add('Seed', seed !== undefined ? String(seed) : undefined);
  const strength = pickNumber('strength', meta, params);
  add('Strength', strength !== undefined ? String(strength) : undefined);
  const factor = pickNumber('upscale_factor', meta, params, nested);
  add('Factor', factor !== undefined ? `×${factor}` : undefined);
  const input = pickSize('input_size', meta);
  add('Input size', input ? formatSize(input[0], input[1]) : undefined);
  const output = pickSize('output_size', meta);
  add('Output size', formatSize(output?.[0] ?? artifact.width, output?.[1] ?? artifact.height));
  const tiles = pickNumber('tiles', meta);
  if (tiles !== undefined) {
    const tileSize = pickNumber('tile_size', meta);
    const overlap = pickNumber('tile_overlap', meta);
    const extra = [tileSize !== undefined ? `${tileSize}px` : '', overlap !== undefined ? `overlap ${overlap}` : '']
      .filter(Boolean)
      .join(', ');
    add('Tiles', extra ? `${tiles} (${extra})` : String(tiles));
  }
  add('Backend', pickString('backend', meta));
  const ms = pickNumber('ms', meta);
  add('Time', ms !== undefined ? formatDuration(ms) : undefined);
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
  const canReuse = createMemo(() => typeof asRecord(props.artifact.metadata)?.stage_type === 'string');
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
