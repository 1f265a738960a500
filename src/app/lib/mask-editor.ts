/**
 * The inpainting mask editor's logic, free of DOM and Solid so it runs (and is tested) in Node.
 *
 * The mask is one byte per image pixel at the image's natural size: 255 = redraw (painted),
 * 0 = keep. The editor's canvas only displays it; every stroke is rasterized here, so what the
 * user sees and what the pipeline gets are the same bytes.
 */
import { decodePng, encodePng } from '../../media/png';

export const PAINTED = 255;
export const KEEP = 0;

export interface Mask {
  width: number;
  height: number;
  /** width × height bytes, row-major, each 0 or 255. */
  data: Uint8Array;
}

/** Pixel rectangle, `x`/`y` inclusive, `width`/`height` ≥ 1. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

// ---------- rasterization ----------

/**
 * Paints a round-capped line of `radius` from (x0, y0) to (x1, y1) with `value`. Coordinates are
 * in image pixels, continuous: pixel (px, py) covers [px, px+1) × [py, py+1), so its centre is
 * (px+0.5, py+0.5). A pixel is painted exactly when its centre lies within `radius` of the
 * segment (a dot when both ends coincide). Successive segments of a stroke share their ends, so
 * a fast pointer leaves no gaps. Returns the changed pixels' bounding box (clamped to the image),
 * or null when nothing changed; `counter` is told how many pixels flipped to/from painted.
 */
export function paintSegment(
  mask: Mask,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  radius: number,
  value: number,
  counter?: { painted: number },
): Rect | null {
  const { width, height, data } = mask;
  if (!(radius > 0)) return null;
  const top = Math.max(0, Math.floor(Math.min(y0, y1) - radius - 0.5));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(y0, y1) + radius - 0.5));
  if (top > bottom) return null;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  const r2 = radius * radius;
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  let delta = 0;
  for (let py = top; py <= bottom; py++) {
    const cy = py + 0.5;
    // Only the part of the segment within `radius` of this row can reach it: bound the columns
    // by that part's x extent, so a long diagonal stroke does not scan its whole bounding box.
    let xa: number;
    let xb: number;
    if (dy === 0) {
      xa = Math.min(x0, x1);
      xb = Math.max(x0, x1);
    } else {
      let t0 = (cy - radius - y0) / dy;
      let t1 = (cy + radius - y0) / dy;
      if (t0 > t1) [t0, t1] = [t1, t0];
      t0 = Math.max(0, t0);
      t1 = Math.min(1, t1);
      if (t0 > t1) continue;
      xa = Math.min(x0 + dx * t0, x0 + dx * t1);
      xb = Math.max(x0 + dx * t0, x0 + dx * t1);
    }
    const left = Math.max(0, Math.floor(xa - radius - 0.5));
    const right = Math.min(width - 1, Math.ceil(xb + radius - 0.5));
    const row = py * width;
    for (let px = left; px <= right; px++) {
      const cx = px + 0.5;
      let t = len2 > 0 ? ((cx - x0) * dx + (cy - y0) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = cx - x0 - t * dx;
      const ey = cy - y0 - t * dy;
      if (ex * ex + ey * ey > r2) continue;
      const i = row + px;
      if (data[i] === value) continue;
      delta += value === PAINTED ? 1 : data[i] === PAINTED ? -1 : 0;
      data[i] = value;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
  }
  if (counter) counter.painted += delta;
  return minX === Infinity ? null : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

// ---------- the editable mask with undo/redo ----------

/** History bound: at most this many undo steps… */
export const HISTORY_STEPS = 50;
/** …and at most this many bytes of stored differences (a full 2048² clear costs 4 MiB). */
export const HISTORY_BYTES = 64 * 1024 * 1024;

/**
 * One undoable edit, stored as the XOR of before and after over the changed rectangle: the
 * same bytes undo and redo it, and an untouched pixel costs nothing but its place in the box.
 * `diff: null` is an invert of the whole mask (XOR 255 everywhere, nothing to store).
 */
interface Edit {
  rect: Rect;
  diff: Uint8Array | null;
}

export interface MaskStateOptions {
  maxSteps?: number;
  maxBytes?: number;
}

/** The mask being edited: strokes, clear, invert, undo/redo, and a running painted count. */
export class MaskState {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  private readonly count = { painted: 0 };
  private undoStack: Edit[] = [];
  private redoStack: Edit[] = [];
  private historyBytes = 0;
  private readonly maxSteps: number;
  private readonly maxBytes: number;
  // During a stroke: the mask as it was when the stroke began, and what the stroke touched.
  private before: Uint8Array | null = null;
  private strokeRect: Rect | null = null;

  constructor(width: number, height: number, options: MaskStateOptions = {}) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new Error(`mask size must be positive integers, got ${width}×${height}`);
    }
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height);
    this.maxSteps = options.maxSteps ?? HISTORY_STEPS;
    this.maxBytes = options.maxBytes ?? HISTORY_BYTES;
  }

  get paintedPixels(): number {
    return this.count.painted;
  }

  /** Anything to redraw: the caller disables Run without it. */
  get hasPaint(): boolean {
    return this.count.painted > 0;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  get undoSteps(): number {
    return this.undoStack.length;
  }

  get inStroke(): boolean {
    return this.before !== null;
  }

  private get full(): Rect {
    return { x: 0, y: 0, width: this.width, height: this.height };
  }

  beginStroke(): void {
    if (this.before) this.endStroke();
    // One copy per stroke (4 MiB at 2048²): cheap next to painting, and it lets the stroke's
    // undo step be cut to exactly the box it touched.
    this.before = this.data.slice();
    this.strokeRect = null;
  }

  /** One segment of the current stroke (starts a stroke if none is open). */
  stroke(x0: number, y0: number, x1: number, y1: number, radius: number, erase = false): Rect | null {
    if (!this.before) this.beginStroke();
    const rect = paintSegment(this, x0, y0, x1, y1, radius, erase ? KEEP : PAINTED, this.count);
    this.strokeRect = unionRect(this.strokeRect, rect);
    return rect;
  }

  /** Closes the stroke as one undo step. Returns whether it changed anything. */
  endStroke(): boolean {
    const before = this.before;
    const rect = this.strokeRect;
    this.before = null;
    this.strokeRect = null;
    if (!before || !rect) return false;
    const diff = this.diffAgainst(before, rect);
    if (!diff) return false; // painted then erased back within one stroke
    this.push({ rect, diff });
    return true;
  }

  /**
   * Drops the open stroke as if it never happened (no undo step): a second finger turned the
   * touch into a pinch. Returns the box to redraw, or null when nothing had been painted.
   */
  cancelStroke(): Rect | null {
    const before = this.before;
    const rect = this.strokeRect;
    this.before = null;
    this.strokeRect = null;
    if (!before || !rect) return null;
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let i = y * this.width + rect.x, end = i + rect.width; i < end; i++) {
        if (this.data[i] === before[i]) continue;
        this.count.painted += before[i] === PAINTED ? 1 : -1;
        this.data[i] = before[i]!;
      }
    }
    return rect;
  }

  /** Erases everything (one undo step). Returns the changed box, or null if already empty. */
  clear(): Rect | null {
    this.endStroke();
    if (!this.hasPaint) return null;
    const before = this.data.slice();
    this.data.fill(KEEP);
    this.count.painted = 0;
    const rect = this.full;
    this.push({ rect, diff: this.diffAgainst(before, rect) });
    return rect;
  }

  /** Swaps painted and kept (one undo step). */
  invert(): Rect {
    this.endStroke();
    this.applyInvert();
    this.push({ rect: this.full, diff: null });
    return this.full;
  }

  undo(): Rect | null {
    this.endStroke();
    const edit = this.undoStack.pop();
    if (!edit) return null;
    this.apply(edit);
    this.redoStack.push(edit);
    return edit.rect;
  }

  redo(): Rect | null {
    this.endStroke();
    const edit = this.redoStack.pop();
    if (!edit) return null;
    this.apply(edit);
    this.undoStack.push(edit);
    return edit.rect;
  }

  /** Replaces the whole mask (e.g. a stored one) and forgets the history. */
  load(mask: Mask): void {
    if (mask.width !== this.width || mask.height !== this.height) {
      throw new Error(`mask is ${mask.width}×${mask.height}, the image is ${this.width}×${this.height}`);
    }
    this.before = null;
    this.strokeRect = null;
    let painted = 0;
    for (let i = 0; i < this.data.length; i++) {
      const v = mask.data[i] >= 128 ? PAINTED : KEEP;
      this.data[i] = v;
      if (v) painted++;
    }
    this.count.painted = painted;
    this.undoStack = [];
    this.redoStack = [];
    this.historyBytes = 0;
  }

  /** A copy of the current mask. */
  snapshot(): Mask {
    return { width: this.width, height: this.height, data: this.data.slice() };
  }

  private diffAgainst(before: Uint8Array, rect: Rect): Uint8Array | null {
    const diff = new Uint8Array(rect.width * rect.height);
    let any = false;
    for (let y = 0; y < rect.height; y++) {
      const row = (rect.y + y) * this.width + rect.x;
      for (let x = 0; x < rect.width; x++) {
        const d = before[row + x] ^ this.data[row + x];
        diff[y * rect.width + x] = d;
        if (d) any = true;
      }
    }
    return any ? diff : null;
  }

  private apply(edit: Edit): void {
    if (!edit.diff) {
      this.applyInvert();
      return;
    }
    const { rect, diff } = edit;
    let painted = this.count.painted;
    for (let y = 0; y < rect.height; y++) {
      const row = (rect.y + y) * this.width + rect.x;
      for (let x = 0; x < rect.width; x++) {
        const d = diff[y * rect.width + x];
        if (!d) continue;
        const v = this.data[row + x] ^ d;
        this.data[row + x] = v;
        painted += v === PAINTED ? 1 : -1;
      }
    }
    this.count.painted = painted;
  }

  private applyInvert(): void {
    for (let i = 0; i < this.data.length; i++) this.data[i] ^= PAINTED;
    this.count.painted = this.data.length - this.count.painted;
  }

  private push(edit: Edit): void {
    this.undoStack.push(edit);
    this.historyBytes += edit.diff?.byteLength ?? 0;
    for (const dropped of this.redoStack) this.historyBytes -= dropped.diff?.byteLength ?? 0;
    this.redoStack = [];
    // Drop the oldest steps past either bound (the newest one always stays).
    while (this.undoStack.length > 1 && (this.undoStack.length > this.maxSteps || this.historyBytes > this.maxBytes)) {
      this.historyBytes -= this.undoStack.shift()!.diff?.byteLength ?? 0;
    }
  }
}

// ---------- view: fit, zoom, pan, pointer → image ----------

/** Zoom is the display scale: CSS pixels per image pixel. */
export const MAX_ZOOM = 8;
export const ZOOM_STEP = Math.SQRT2;

export interface Size {
  width: number;
  height: number;
}

/** Where the image sits in the viewport: its top-left corner (CSS px) and its scale. */
export interface View {
  zoom: number;
  panX: number;
  panY: number;
}

/** The scale that shows the whole image in the viewport. */
export function fitZoom(viewport: Size, image: Size): number {
  return Math.min(viewport.width / image.width, viewport.height / image.height);
}

/**
 * Allowed zoom: from 1× or fit, whichever is smaller (a big image can be seen whole), up to 8×
 * or fit, whichever is larger (a tiny image still fills the view).
 */
export function zoomRange(viewport: Size, image: Size): { min: number; max: number } {
  const fit = fitZoom(viewport, image);
  return { min: Math.min(1, fit), max: Math.max(MAX_ZOOM, fit) };
}

/** Keeps the image on screen: centred along an axis where it fits, edge-to-edge where it is larger. */
export function clampView(view: View, viewport: Size, image: Size): View {
  const { min, max } = zoomRange(viewport, image);
  const zoom = Math.min(max, Math.max(min, view.zoom));
  const axis = (pan: number, port: number, size: number) => {
    const shown = size * zoom;
    if (shown <= port) return (port - shown) / 2;
    return Math.min(0, Math.max(port - shown, pan));
  };
  return { zoom, panX: axis(view.panX, viewport.width, image.width), panY: axis(view.panY, viewport.height, image.height) };
}

export function fitView(viewport: Size, image: Size): View {
  return clampView({ zoom: fitZoom(viewport, image), panX: 0, panY: 0 }, viewport, image);
}

/** Zooms to `zoom` keeping the image point under (ax, ay) (viewport CSS px) where it is. */
export function zoomAt(view: View, zoom: number, ax: number, ay: number, viewport: Size, image: Size): View {
  const { min, max } = zoomRange(viewport, image);
  const next = Math.min(max, Math.max(min, zoom));
  const ix = (ax - view.panX) / view.zoom;
  const iy = (ay - view.panY) / view.zoom;
  return clampView({ zoom: next, panX: ax - ix * next, panY: ay - iy * next }, viewport, image);
}

/**
 * Two-finger pinch: the image point that was under the fingers' first midpoint stays under
 * their midpoint now, scaled by how far apart they are now against then.
 */
export function pinchView(
  start: View,
  from: { x: number; y: number; distance: number },
  to: { x: number; y: number; distance: number },
  viewport: Size,
  image: Size,
): View {
  const { min, max } = zoomRange(viewport, image);
  const zoom = Math.min(max, Math.max(min, start.zoom * (to.distance / Math.max(1, from.distance))));
  const ix = (from.x - start.panX) / start.zoom;
  const iy = (from.y - start.panY) / start.zoom;
  return clampView({ zoom, panX: to.x - ix * zoom, panY: to.y - iy * zoom }, viewport, image);
}

export function panBy(view: View, dx: number, dy: number, viewport: Size, image: Size): View {
  return clampView({ zoom: view.zoom, panX: view.panX + dx, panY: view.panY + dy }, viewport, image);
}

/**
 * A pointer's client position → continuous image pixel coordinates, given the viewport's
 * on-screen box (its getBoundingClientRect) and the view. Not clamped: a stroke may start or
 * pass outside the image and still paint up to its edge.
 */
export function clientToImage(
  clientX: number,
  clientY: number,
  viewportBox: { left: number; top: number },
  view: View,
): { x: number; y: number } {
  return {
    x: (clientX - viewportBox.left - view.panX) / view.zoom,
    y: (clientY - viewportBox.top - view.panY) / view.zoom,
  };
}

// ---------- display, import, export ----------

/** Overlay colour of painted pixels (the canvas's CSS opacity sets how strongly it shows). */
export const TINT: readonly [number, number, number] = [255, 64, 96];

/** RGBA for `rect` of the overlay: tinted where painted, transparent elsewhere. */
export function overlayPixels(mask: Mask, rect: Rect, tint: readonly [number, number, number] = TINT): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(rect.width * rect.height * 4);
  for (let y = 0; y < rect.height; y++) {
    const row = (rect.y + y) * mask.width + rect.x;
    for (let x = 0; x < rect.width; x++) {
      if (mask.data[row + x] !== PAINTED) continue;
      const o = (y * rect.width + x) * 4;
      out[o] = tint[0];
      out[o + 1] = tint[1];
      out[o + 2] = tint[2];
      out[o + 3] = 255;
    }
  }
  return out;
}

/** The mask as an opaque RGBA image: white where painted, black elsewhere. */
export function maskToRgba(mask: Mask): { width: number; height: number; data: Uint8ClampedArray } {
  const data = new Uint8ClampedArray(mask.width * mask.height * 4);
  for (let i = 0; i < mask.data.length; i++) {
    const v = mask.data[i] === PAINTED ? 255 : 0;
    data[i * 4] = v;
    data[i * 4 + 1] = v;
    data[i * 4 + 2] = v;
    data[i * 4 + 3] = 255;
  }
  return { width: mask.width, height: mask.height, data };
}

/** PNG file bytes of the mask (white = redraw): encode on demand, not per stroke. */
export function maskToPng(mask: Mask): Uint8Array<ArrayBuffer> {
  // encodePng hands back a plain ArrayBuffer of exactly the file, which a Blob accepts.
  return encodePng(maskToRgba(mask)) as Uint8Array<ArrayBuffer>;
}

/** A stored mask given as pixels: one byte per pixel, or RGBA (the red channel is read). */
export interface MaskPixels {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * Any stored mask → a binary mask of the image's size: RGBA or single-channel, ≥ 128 = painted
 * (an RGBA pixel with alpha < 128 counts as unpainted); a different size is scaled
 * nearest-neighbour (a mask saved for the same picture at another resolution still lines up).
 */
export function normalizeMask(source: MaskPixels, width: number, height: number): Mask {
  const channels = source.data.length === source.width * source.height * 4 ? 4 : 1;
  if (channels === 1 && source.data.length !== source.width * source.height) {
    throw new Error(`mask data has ${source.data.length} bytes, ${source.width}×${source.height} needs 1 or 4 per pixel`);
  }
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(source.height - 1, Math.floor(((y + 0.5) * source.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(source.width - 1, Math.floor(((x + 0.5) * source.width) / width));
      const s = (sy * source.width + sx) * channels;
      const on = source.data[s] >= 128 && (channels === 1 || source.data[s + 3] >= 128);
      data[y * width + x] = on ? PAINTED : KEEP;
    }
  }
  return { width, height, data };
}

/** A stored mask PNG's bytes → a binary mask of the image's size (throws ImageDecodeError). */
export function maskFromPng(bytes: Uint8Array, width: number, height: number): Mask {
  return normalizeMask(decodePng(bytes), width, height);
}

/** Brush size limits, in image pixels. */
export const MIN_BRUSH = 1;
export const MAX_BRUSH = 512;

/** The `[` / `]` step: about 15 % of the size, at least 1 px, within the limits. */
export function stepBrushSize(size: number, direction: 1 | -1): number {
  const step = Math.max(1, Math.round(size * 0.15));
  return Math.min(MAX_BRUSH, Math.max(MIN_BRUSH, size + direction * step));
}

/** Pen pressure scales the radius (never below a fifth); mouse and touch draw at full size. */
export function brushRadius(size: number, pointerType: string, pressure: number): number {
  const scale = pointerType === 'pen' && pressure > 0 ? Math.max(0.2, Math.min(1, pressure)) : 1;
  return (size / 2) * scale;
}

/** Which keyboard shortcut an event is, if any (the component turns it into an action). */
export type MaskShortcut = 'undo' | 'redo' | 'smaller' | 'bigger' | 'brush' | 'eraser' | null;

export function shortcutOf(e: { key: string; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }): MaskShortcut {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.toLowerCase();
  if (mod && !e.altKey) {
    if (key === 'z') return e.shiftKey ? 'redo' : 'undo';
    if (key === 'y' && !e.shiftKey) return 'redo';
    return null;
  }
  if (e.altKey) return null;
  if (e.key === '[') return 'smaller';
  if (e.key === ']') return 'bigger';
  if (key === 'b') return 'brush';
  if (key === 'e') return 'eraser';
  return null;
}
