import { createEffect, createSignal, For, on, onCleanup, onMount, Show } from 'solid-js';
import {
  brushRadius,
  clampView,
  clientToImage,
  fitView,
  MAX_BRUSH,
  MIN_BRUSH,
  maskFromPng,
  MaskState,
  maskToPng,
  maskToRgba,
  normalizeMask,
  overlayPixels,
  panBy,
  pinchView,
  shortcutOf,
  stepBrushSize,
  unionRect,
  zoomAt,
  ZOOM_STEP,
  type Mask,
  type MaskPixels,
  type Rect,
  type View,
} from '../lib/mask-editor';
import './MaskEditor.css';

/** What the caller can ask of a mounted editor (through `ref`). */
export interface MaskEditorApi {
  /** Anything painted (no paint: nothing to redraw, so Run should be off). */
  hasPaint(): boolean;
  /** A copy of the mask: one byte per image pixel, 255 = redraw, 0 = keep. */
  mask(): Mask;
  /** The mask as an opaque RGBA image at natural size: white = redraw, black = keep. */
  toRgba(): { width: number; height: number; data: Uint8ClampedArray };
  /** The same as a PNG file (encoded now, on demand). */
  toPng(): Blob;
  clear(): void;
  invert(): void;
  undo(): void;
  redo(): void;
}

export interface MaskEditorProps {
  /** The image to paint over: an object URL or any `<img src>`. */
  src: string;
  /** Its natural size: the mask has exactly this many pixels. */
  width: number;
  height: number;
  /** A stored mask to start from: a PNG Blob, or pixels (one byte or RGBA per pixel; another size is scaled). */
  initialMask?: Blob | MaskPixels | null;
  /** Stops editing (zoom and pan still work), e.g. while a job runs. */
  disabled?: boolean;
  /** After every edit (stroke end, clear, invert, undo, redo, restore): a copy of the mask, or null when nothing is painted. */
  onChange?: (mask: Mask | null) => void;
  ref?: MaskEditorApi | ((api: MaskEditorApi) => void);
  /** Alt text of the image. */
  alt?: string;
}

type Tool = 'brush' | 'eraser' | 'pan';

// Text, not icon glyphs: symbol fonts are missing on many systems (and in headless Chromium).
const TOOLS: { id: Tool; name: string; label: string; key: string }[] = [
  { id: 'brush', name: 'Brush', label: 'Brush: paint what to redraw', key: 'B' },
  { id: 'eraser', name: 'Eraser', label: 'Eraser: keep what is there', key: 'E' },
  { id: 'pan', name: 'Pan', label: 'Pan: drag to move the zoomed image', key: 'or Space-drag' },
];

/**
 * Paints an inpainting mask over an image. The mask lives in a MaskState (one byte per image
 * pixel, rasterized in lib/mask-editor.ts); the canvas above the image only shows it, tinted,
 * and is updated one dirty rectangle at a time so big images paint smoothly.
 */
export function MaskEditor(props: MaskEditorProps) {
  let viewport!: HTMLDivElement;
  let canvas!: HTMLCanvasElement;
  let ctx: CanvasRenderingContext2D | null = null;

  let state = new MaskState(props.width, props.height);
  const [version, setVersion] = createSignal(0); // bumps after every edit: undo/redo/paint state
  const [tool, setTool] = createSignal<Tool>('brush');
  const [size, setSize] = createSignal(defaultBrush(props.width, props.height));
  const [opacity, setOpacity] = createSignal(0.55);
  const [port, setPort] = createSignal({ width: 1, height: 1 });
  const [view, setView] = createSignal<View>({ zoom: 1, panX: 0, panY: 0 });
  const [fitted, setFitted] = createSignal(true); // follow the viewport's size until the user zooms
  const [cursor, setCursor] = createSignal<{ x: number; y: number } | null>(null);
  const [spaceHeld, setSpaceHeld] = createSignal(false);
  const [panning, setPanning] = createSignal(false);
  const [loadError, setLoadError] = createSignal('');

  const image = () => ({ width: props.width, height: props.height });
  const read = <T,>(get: () => T): T => (version(), get());

  const draw = (rect: Rect | null) => {
    if (!rect || !ctx) return;
    ctx.putImageData(new ImageData(overlayPixels(state, rect), rect.width, rect.height), rect.x, rect.y);
  };
  const drawAll = () => {
    ctx?.clearRect(0, 0, state.width, state.height);
    draw({ x: 0, y: 0, width: state.width, height: state.height });
  };
  const changed = () => {
    setVersion((v) => v + 1);
    props.onChange?.(state.hasPaint ? state.snapshot() : null);
  };
  const edit = (run: () => Rect | null) => {
    if (props.disabled) return;
    endStroke();
    const rect = run();
    if (!rect) return;
    draw(rect);
    changed();
  };

  const api: MaskEditorApi = {
    hasPaint: () => state.hasPaint,
    mask: () => state.snapshot(),
    toRgba: () => maskToRgba(state),
    toPng: () => new Blob([maskToPng(state)], { type: 'image/png' }),
    clear: () => edit(() => state.clear()),
    invert: () => edit(() => state.invert()),
    undo: () => edit(() => state.undo()),
    redo: () => edit(() => state.redo()),
  };
  if (typeof props.ref === 'function') props.ref(api);

  // ---------- view ----------

  const setViewClamped = (next: View) => setView(clampView(next, port(), image()));
  const fit = () => {
    setFitted(true);
    setView(fitView(port(), image()));
  };
  const zoomBy = (factor: number, ax = port().width / 2, ay = port().height / 2) => {
    setFitted(false);
    setView(zoomAt(view(), view().zoom * factor, ax, ay, port(), image()));
  };

  // ---------- pointer input ----------

  type Drag = { id: number; mode: 'paint' | 'pan'; lastX: number; lastY: number; erase: boolean };
  let drag: Drag | null = null;
  // Fingers on the view (viewport coordinates), and the pinch two of them make.
  const touches = new Map<number, { x: number; y: number }>();
  type Pinch = { start: View; from: { x: number; y: number; distance: number } };
  let pinch: Pinch | null = null;
  const twoFingers = () => {
    const [a, b] = [...touches.values()];
    return { x: (a!.x + b!.x) / 2, y: (a!.y + b!.y) / 2, distance: Math.hypot(a!.x - b!.x, a!.y - b!.y) };
  };
  const inViewport = (e: PointerEvent) => {
    const box = viewport.getBoundingClientRect();
    return { x: e.clientX - box.left, y: e.clientY - box.top };
  };

  const toImage = (e: PointerEvent) => clientToImage(e.clientX, e.clientY, viewport.getBoundingClientRect(), view());

  const endStroke = () => {
    if (drag?.mode !== 'paint') return;
    drag = null;
    if (state.endStroke()) changed();
  };

  const onPointerDown = (e: PointerEvent) => {
    if (e.pointerType === 'touch') {
      touches.set(e.pointerId, inViewport(e));
      if (touches.size === 2) {
        // A second finger: the touch was a pinch, not a stroke. What the first finger painted goes.
        if (drag?.mode === 'paint') draw(state.cancelStroke());
        drag = null;
        setPanning(false);
        setFitted(false);
        pinch = { start: view(), from: twoFingers() };
        return;
      }
      if (touches.size > 2 || pinch) return;
    }
    if (drag) return; // a second button while one drag is on: ignored
    viewport.focus({ preventScroll: true });
    const pan = e.button === 1 || spaceHeld() || tool() === 'pan';
    if (!pan && (e.button !== 0 || props.disabled)) return;
    e.preventDefault(); // no text selection, no middle-click autoscroll
    try {
      viewport.setPointerCapture(e.pointerId); // keep the stroke when the pointer leaves the view
    } catch {
      // A pointer the browser no longer tracks (or a synthetic event): paint without capture.
    }
    if (pan) {
      drag = { id: e.pointerId, mode: 'pan', lastX: e.clientX, lastY: e.clientY, erase: false };
      setPanning(true);
      return;
    }
    const p = toImage(e);
    drag = { id: e.pointerId, mode: 'paint', lastX: p.x, lastY: p.y, erase: tool() === 'eraser' };
    state.beginStroke();
    draw(state.stroke(p.x, p.y, p.x, p.y, brushRadius(size(), e.pointerType, e.pressure), drag.erase));
  };

  const onPointerMove = (e: PointerEvent) => {
    if (touches.has(e.pointerId)) {
      touches.set(e.pointerId, inViewport(e));
      if (pinch && touches.size === 2) {
        setView(pinchView(pinch.start, pinch.from, twoFingers(), port(), image()));
        return;
      }
    }
    const here = toImage(e);
    setCursor(here);
    if (!drag || e.pointerId !== drag.id) return;
    if (drag.mode === 'pan') {
      setFitted(false);
      setView(panBy(view(), e.clientX - drag.lastX, e.clientY - drag.lastY, port(), image()));
      drag.lastX = e.clientX;
      drag.lastY = e.clientY;
      return;
    }
    // Coalesced events carry every position since the last frame: a curve stays a curve.
    const events = e.getCoalescedEvents?.() ?? [];
    let dirty: Rect | null = null;
    for (const ev of events.length ? events : [e]) {
      const p = toImage(ev);
      const rect = state.stroke(drag.lastX, drag.lastY, p.x, p.y, brushRadius(size(), ev.pointerType, ev.pressure), drag.erase);
      dirty = unionRect(dirty, rect);
      drag.lastX = p.x;
      drag.lastY = p.y;
    }
    draw(dirty);
  };

  const onPointerEnd = (e: PointerEvent) => {
    if (touches.delete(e.pointerId) && pinch) {
      // The pinch ends with its first lifted finger; the other paints nothing until it lifts too.
      if (touches.size < 2) pinch = null;
      return;
    }
    if (!drag || e.pointerId !== drag.id) return;
    if (drag.mode === 'pan') {
      drag = null;
      setPanning(false);
    } else endStroke();
  };

  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const box = viewport.getBoundingClientRect();
    // Pixel deltas from trackpads are small and many, mouse wheels come in ~100 px notches.
    const delta = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
    zoomBy(Math.exp(-delta * 0.002), e.clientX - box.left, e.clientY - box.top);
  };

  // ---------- keyboard ----------

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === ' ' && e.target === viewport) {
      e.preventDefault(); // would scroll the page
      setSpaceHeld(true);
      return;
    }
    const shortcut = shortcutOf(e);
    if (!shortcut) return;
    // Typing in a field of the toolbar (none today, but a number box would) keeps its keys.
    if (e.target instanceof HTMLInputElement && e.target.type !== 'range' && !e.ctrlKey && !e.metaKey) return;
    e.preventDefault();
    if (shortcut === 'undo') api.undo();
    else if (shortcut === 'redo') api.redo();
    else if (shortcut === 'smaller' || shortcut === 'bigger') setSize((s) => stepBrushSize(s, shortcut === 'bigger' ? 1 : -1));
    else setTool(shortcut);
  };
  const onKeyUp = (e: KeyboardEvent) => {
    if (e.key === ' ') setSpaceHeld(false);
  };

  // ---------- lifecycle ----------

  onMount(() => {
    ctx = canvas.getContext('2d');
    // Not Solid's onWheel: preventDefault needs a listener that is explicitly not passive.
    viewport.addEventListener('wheel', onWheel, { passive: false });
    const observer = new ResizeObserver(() => {
      setPort({ width: Math.max(1, viewport.clientWidth), height: Math.max(1, viewport.clientHeight) });
      if (fitted()) setView(fitView(port(), image()));
      else setViewClamped(view());
    });
    observer.observe(viewport);
    onCleanup(() => {
      observer.disconnect();
      viewport.removeEventListener('wheel', onWheel);
    });
  });

  // A new image size: a new, empty mask (the canvas resets itself when its size changes).
  createEffect(
    on(
      () => [props.width, props.height] as const,
      ([width, height], previous) => {
        if (!previous) return;
        drag = null;
        state = new MaskState(width, height);
        setSize(defaultBrush(width, height));
        fit();
        drawAll();
        changed();
      },
    ),
  );

  // The stored mask, whenever it is given (and again for a new image).
  let loadToken = 0;
  createEffect(() => {
    const source = props.initialMask;
    const width = props.width;
    const height = props.height;
    const token = ++loadToken;
    setLoadError('');
    if (!source) return;
    void (async () => {
      let mask: Mask;
      try {
        mask =
          source instanceof Blob
            ? maskFromPng(new Uint8Array(await source.arrayBuffer()), width, height)
            : normalizeMask(source, width, height);
      } catch (error) {
        if (token === loadToken) setLoadError(`The stored mask could not be read: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      if (token !== loadToken || state.width !== width || state.height !== height) return;
      drag = null;
      state.load(mask);
      drawAll();
      changed();
    })();
  });

  const zoomPercent = () => `${Math.round(view().zoom * 100)}%`;
  const stageStyle = () => {
    const v = view();
    return {
      width: `${props.width}px`,
      height: `${props.height}px`,
      transform: `translate(${v.panX}px, ${v.panY}px) scale(${v.zoom})`,
    };
  };

  return (
    <div class="mask-editor" classList={{ disabled: !!props.disabled }} data-testid="mask-editor" onKeyDown={onKeyDown} onKeyUp={onKeyUp}>
      <div class="mask-toolbar" role="toolbar" aria-label="Mask tools">
        <div class="mask-group" role="group" aria-label="Tool">
          <For each={TOOLS}>
            {(t) => (
              <button
                type="button"
                class="btn btn-small mask-tool"
                classList={{ active: tool() === t.id }}
                data-testid={`mask-${t.id}`}
                aria-label={t.label}
                title={`${t.label} (${t.key})`}
                aria-pressed={tool() === t.id}
                disabled={props.disabled && t.id !== 'pan'}
                onClick={() => setTool(t.id)}
              >
                {t.name}
              </button>
            )}
          </For>
        </div>

        <label class="mask-slider" title="Brush size in image pixels ([ and ])">
          <span class="mask-slider-label">Size</span>
          <input
            type="range"
            min={MIN_BRUSH}
            max={MAX_BRUSH}
            step="1"
            value={size()}
            data-testid="mask-size"
            aria-label="Brush size in image pixels"
            aria-valuetext={`${size()} px`}
            disabled={props.disabled}
            onInput={(e) => setSize(Number(e.currentTarget.value))}
          />
          <span class="mask-slider-value num">{size()} px</span>
        </label>

        <div class="mask-group" role="group" aria-label="Edit">
          <button
            type="button"
            class="btn btn-small btn-icon"
            data-testid="mask-undo"
            aria-label="Undo"
            title="Undo (Ctrl+Z)"
            disabled={props.disabled || !read(() => state.canUndo)}
            onClick={() => api.undo()}
          >
            <span aria-hidden="true">↶</span>
          </button>
          <button
            type="button"
            class="btn btn-small btn-icon"
            data-testid="mask-redo"
            aria-label="Redo"
            title="Redo (Ctrl+Shift+Z or Ctrl+Y)"
            disabled={props.disabled || !read(() => state.canRedo)}
            onClick={() => api.redo()}
          >
            <span aria-hidden="true">↷</span>
          </button>
          <button
            type="button"
            class="btn btn-small"
            data-testid="mask-invert"
            aria-label="Invert mask"
            title="Swap painted and unpainted"
            disabled={props.disabled}
            onClick={() => api.invert()}
          >
            Invert
          </button>
          <button
            type="button"
            class="btn btn-small"
            data-testid="mask-clear"
            aria-label="Clear mask"
            disabled={props.disabled || !read(() => state.hasPaint)}
            onClick={() => api.clear()}
          >
            Clear
          </button>
        </div>

        <div class="mask-group" role="group" aria-label="Zoom">
          <button
            type="button"
            class="btn btn-small btn-icon"
            data-testid="mask-zoom-out"
            aria-label="Zoom out"
            onClick={() => zoomBy(1 / ZOOM_STEP)}
          >
            <span aria-hidden="true">−</span>
          </button>
          <span class="mask-zoom num" data-testid="mask-zoom" aria-live="polite">
            {zoomPercent()}
          </span>
          <button type="button" class="btn btn-small btn-icon" data-testid="mask-zoom-in" aria-label="Zoom in" onClick={() => zoomBy(ZOOM_STEP)}>
            <span aria-hidden="true">+</span>
          </button>
          <button type="button" class="btn btn-small" data-testid="mask-zoom-fit" aria-label="Fit image to view" onClick={fit}>
            Fit
          </button>
        </div>

        <label class="mask-slider" title="How strongly the mask shows over the image">
          <span class="mask-slider-label">Overlay</span>
          <input
            type="range"
            min="0"
            max="1"
            step="0.05"
            value={opacity()}
            data-testid="mask-opacity"
            aria-label="Mask overlay opacity"
            aria-valuetext={`${Math.round(opacity() * 100)}%`}
            onInput={(e) => setOpacity(Number(e.currentTarget.value))}
          />
        </label>
      </div>

      <div
        ref={viewport}
        class="mask-viewport"
        classList={{
          panning: panning(),
          'can-pan': !panning() && (spaceHeld() || tool() === 'pan'),
          painting: !props.disabled && !spaceHeld() && tool() !== 'pan',
        }}
        style={{ 'aspect-ratio': `${props.width} / ${props.height}` }}
        tabIndex={0}
        role="application"
        aria-label="Mask canvas: drag to paint, space-drag or middle-drag to pan, wheel to zoom"
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerEnd}
        onPointerCancel={onPointerEnd}
        onLostPointerCapture={onPointerEnd}
        onPointerLeave={() => setCursor(null)}
        onBlur={() => setSpaceHeld(false)}
        onContextMenu={(e) => e.preventDefault()}
      >
        <div class="mask-stage" style={stageStyle()}>
          <img class="mask-image" src={props.src} alt={props.alt ?? 'Image to inpaint'} draggable={false} />
          <canvas
            ref={canvas}
            class="mask-canvas"
            classList={{ pixelated: view().zoom > 1 }}
            width={props.width}
            height={props.height}
            style={{ opacity: opacity() }}
            data-testid="mask-canvas"
          />
          <Show when={cursor() && !props.disabled && tool() !== 'pan' && !spaceHeld() && !panning()}>
            <div
              class="mask-cursor"
              aria-hidden="true"
              style={{
                left: `${cursor()!.x}px`,
                top: `${cursor()!.y}px`,
                width: `${size()}px`,
                height: `${size()}px`,
                // Keep the outline ~1.5 screen px at any zoom.
                'border-width': `${1.5 / view().zoom}px`,
              }}
            />
          </Show>
        </div>
      </div>

      <Show when={loadError()}>
        <p class="field-error" role="alert">
          {loadError()}
        </p>
      </Show>
    </div>
  );
}

/** About a twentieth of the image's longer side: a useful first brush at any resolution. */
function defaultBrush(width: number, height: number): number {
  return Math.min(MAX_BRUSH, Math.max(4, Math.round(Math.max(width, height) / 20)));
}
