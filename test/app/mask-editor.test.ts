// @vitest-environment node
/** The inpainting mask editor's logic: rasterization, history, view maths, import/export. */
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../../src/media/png';
import {
  brushRadius,
  clampView,
  clientToImage,
  fitView,
  HISTORY_BYTES,
  HISTORY_STEPS,
  maskFromPng,
  MaskState,
  maskToPng,
  normalizeMask,
  overlayPixels,
  paintSegment,
  pinchView,
  shortcutOf,
  stepBrushSize,
  zoomAt,
  zoomRange,
  type Mask,
} from '../../src/app/lib/mask-editor';

const blank = (width: number, height: number): Mask => ({ width, height, data: new Uint8Array(width * height) });

/** Distance from a point to a segment, written independently of the code under test (sampling the segment finely is too slow, so: projection via vectors). */
function distToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const abx = bx - ax;
  const aby = by - ay;
  const apx = px - ax;
  const apy = py - ay;
  const ab2 = abx * abx + aby * aby;
  if (ab2 === 0) return Math.hypot(apx, apy);
  const t = Math.max(0, Math.min(1, (apx * abx + apy * aby) / ab2));
  return Math.hypot(px - (ax + t * abx), py - (ay + t * aby));
}

function expected(width: number, height: number, segs: [number, number, number, number][], r: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (segs.some(([ax, ay, bx, by]) => distToSegment(x + 0.5, y + 0.5, ax, ay, bx, by) <= r)) out[y * width + x] = 255;
    }
  }
  return out;
}

const count = (data: Uint8Array) => data.reduce((n, v) => n + (v === 255 ? 1 : 0), 0);

describe('paintSegment', () => {
  it('paints exactly the pixels whose centre is within the radius of the segment', () => {
    const cases: [number, number, number, number, number][] = [
      [3.2, 4.7, 40.1, 29.3, 3.3], // diagonal
      [10.4, 20.6, 10.4, 20.6, 5.2], // a dot
      [5.1, 30.3, 60.7, 30.3, 2.6], // horizontal
      [31.3, 2.2, 31.3, 60.9, 1.7], // vertical
      [60.3, 55.1, 2.4, 8.8, 0.7], // thin, backwards
    ];
    for (const [x0, y0, x1, y1, r] of cases) {
      const mask = blank(64, 64);
      const rect = paintSegment(mask, x0, y0, x1, y1, r, 255);
      const want = expected(64, 64, [[x0, y0, x1, y1]], r);
      expect(count(want)).toBeGreaterThan(0);
      expect(Array.from(mask.data)).toEqual(Array.from(want));
      // The returned box is the tight box of what changed.
      const ys = [...want.keys()].filter((i) => want[i]).map((i) => Math.floor(i / 64));
      const xs = [...want.keys()].filter((i) => want[i]).map((i) => i % 64);
      expect(rect).toEqual({
        x: Math.min(...xs),
        y: Math.min(...ys),
        width: Math.max(...xs) - Math.min(...xs) + 1,
        height: Math.max(...ys) - Math.min(...ys) + 1,
      });
    }
  });

  it('a fast pointer leaves no gap: successive segments form one connected band', () => {
    const mask = blank(100, 20);
    const points = [
      [2, 10],
      [50, 11],
      [97, 9],
    ];
    for (let i = 1; i < points.length; i++) paintSegment(mask, points[i - 1][0], points[i - 1][1], points[i][0], points[i][1], 2, 255);
    for (let x = 2; x < 97; x++) {
      let any = false;
      for (let y = 0; y < 20; y++) any ||= mask.data[y * 100 + x] === 255;
      expect(any, `column ${x}`).toBe(true);
    }
  });

  it('clamps at the image edges, including segments that start outside', () => {
    const mask = blank(16, 16);
    const rect = paintSegment(mask, -10, -10, 3, 3, 2.5, 255);
    expect(Array.from(mask.data)).toEqual(Array.from(expected(16, 16, [[-10, -10, 3, 3]], 2.5)));
    expect(rect!.x).toBe(0);
    expect(rect!.y).toBe(0);
    // Wholly outside: nothing, no throw.
    expect(paintSegment(mask, -50, -50, -20, -30, 3, 255)).toBeNull();
    expect(paintSegment(mask, 40, 2, 90, 2, 3, 255)).toBeNull();
    const big = blank(16, 16);
    paintSegment(big, 8, 8, 8, 8, 100, 255);
    expect(count(big.data)).toBe(256);
  });

  it('erases with 0 and reports null when nothing changed', () => {
    const mask = blank(32, 32);
    paintSegment(mask, 4, 16, 28, 16, 6, 255);
    const counter = { painted: 0 };
    const rect = paintSegment(mask, 16, 0, 16, 32, 2, 0, counter);
    expect(rect).not.toBeNull();
    const want = expected(32, 32, [[4, 16, 28, 16]], 6);
    const erased = expected(32, 32, [[16, 0, 16, 32]], 2);
    for (let i = 0; i < want.length; i++) expect(mask.data[i]).toBe(want[i] && !erased[i] ? 255 : 0);
    expect(counter.painted).toBe(-(count(want) - count(mask.data)));
    // Erasing the erased again changes nothing.
    expect(paintSegment(mask, 16, 0, 16, 32, 2, 0)).toBeNull();
  });
});

describe('MaskState', () => {
  it('cancelStroke: the open stroke is gone, no undo step, the painted count restored', () => {
    const state = new MaskState(40, 30);
    state.stroke(5, 5, 30, 5, 3);
    state.endStroke();
    const kept = state.snapshot();
    const painted = state.paintedPixels;
    state.beginStroke();
    const rect = state.stroke(5, 20, 35, 20, 4);
    state.stroke(10, 0, 10, 29, 2, true); // erasing across the first stroke too
    expect(state.paintedPixels).not.toBe(painted);
    const redrawn = state.cancelStroke();
    expect(redrawn).not.toBeNull();
    expect(redrawn!.width).toBeGreaterThanOrEqual(rect!.width);
    expect(Buffer.from(state.data).equals(Buffer.from(kept.data))).toBe(true);
    expect(state.paintedPixels).toBe(painted);
    expect(state.inStroke).toBe(false);
    expect(state.undoSteps).toBe(1);
    expect(state.cancelStroke()).toBeNull();
  });

  const stroke = (state: MaskState, pts: number[][], r: number, erase = false) => {
    state.beginStroke();
    state.stroke(pts[0][0], pts[0][1], pts[0][0], pts[0][1], r, erase);
    for (let i = 1; i < pts.length; i++) state.stroke(pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1], r, erase);
    return state.endStroke();
  };

  it('a stroke is one undo step; undo and redo restore exact pixels; a new edit drops the redo', () => {
    const s = new MaskState(40, 30);
    expect(s.hasPaint).toBe(false);
    expect(stroke(s, [[5, 5], [20, 8], [35, 25]], 3)).toBe(true);
    const afterFirst = s.data.slice();
    expect(s.hasPaint).toBe(true);
    stroke(s, [[10, 25], [30, 5]], 2, true);
    const afterSecond = s.data.slice();
    expect(s.undoSteps).toBe(2);

    expect(s.undo()).not.toBeNull();
    expect(Array.from(s.data)).toEqual(Array.from(afterFirst));
    expect(s.undo()).not.toBeNull();
    expect(count(s.data)).toBe(0);
    expect(s.hasPaint).toBe(false);
    expect(s.undo()).toBeNull();
    expect(s.canUndo).toBe(false);

    s.redo();
    expect(Array.from(s.data)).toEqual(Array.from(afterFirst));
    s.redo();
    expect(Array.from(s.data)).toEqual(Array.from(afterSecond));
    expect(s.canRedo).toBe(false);

    s.undo();
    expect(s.canRedo).toBe(true);
    stroke(s, [[2, 2]], 1);
    expect(s.canRedo).toBe(false);
  });

  it('a stroke that changes nothing adds no step', () => {
    const s = new MaskState(10, 10);
    expect(stroke(s, [[5, 5]], 2, true)).toBe(false);
    expect(s.canUndo).toBe(false);
  });

  it('clear and invert are undoable steps; the painted count stays exact', () => {
    const s = new MaskState(20, 20);
    stroke(s, [[3, 3], [15, 12]], 2.5);
    const painted = s.data.slice();
    const n = count(painted);
    expect(s.paintedPixels).toBe(n);

    s.invert();
    for (let i = 0; i < painted.length; i++) expect(s.data[i]).toBe(255 - painted[i]);
    expect(s.paintedPixels).toBe(400 - n);
    s.clear();
    expect(count(s.data)).toBe(0);
    expect(s.hasPaint).toBe(false);
    expect(s.clear()).toBeNull(); // nothing to clear: no extra step
    expect(s.undoSteps).toBe(3);

    s.undo();
    expect(s.paintedPixels).toBe(400 - n);
    s.undo();
    expect(Array.from(s.data)).toEqual(Array.from(painted));
    expect(s.paintedPixels).toBe(n);
    s.redo();
    s.redo();
    expect(s.hasPaint).toBe(false);
  });

  it('keeps at most HISTORY_STEPS steps, dropping the oldest', () => {
    expect(HISTORY_STEPS).toBe(50);
    const s = new MaskState(64, 64);
    for (let i = 0; i < 60; i++) stroke(s, [[i + 0.5, i + 0.5]], 0.6); // one pixel each
    expect(s.undoSteps).toBe(50);
    while (s.undo());
    // The ten oldest dots could not be undone.
    expect(s.paintedPixels).toBe(10);
    for (let i = 0; i < 10; i++) expect(s.data[i * 64 + i]).toBe(255);
  });

  it('keeps the stored differences under the byte cap', () => {
    expect(HISTORY_BYTES).toBe(64 * 1024 * 1024);
    const s = new MaskState(100, 100, { maxBytes: 25_000 });
    // invert stores nothing; clearing a full mask stores 10 000 bytes.
    for (let i = 0; i < 5; i++) (i % 2 ? s.clear() : s.invert());
    expect(s.undoSteps).toBe(5);
    s.clear(); // the third clear: 30 000 bytes > 25 000, so the oldest steps go up to the first clear
    expect(s.undoSteps).toBe(4);
    while (s.undo());
    expect(s.hasPaint).toBe(false); // back to just after the first clear, not the (all-painted) invert
  });

  it('load binarizes a stored mask and resets the history', () => {
    const s = new MaskState(2, 2);
    stroke(s, [[0.5, 0.5]], 0.5);
    s.load({ width: 2, height: 2, data: new Uint8Array([0, 127, 128, 255]) });
    expect(Array.from(s.data)).toEqual([0, 0, 255, 255]);
    expect(s.paintedPixels).toBe(2);
    expect(s.canUndo).toBe(false);
    expect(() => s.load(blank(3, 2))).toThrow(/3×2/);
  });
});

describe('view', () => {
  const viewport = { width: 800, height: 600 };
  const image = { width: 2048, height: 1024 };

  it('fits and centres the image', () => {
    const v = fitView(viewport, image);
    expect(v.zoom).toBeCloseTo(800 / 2048);
    expect(v.panX).toBe(0);
    expect(v.panY).toBeCloseTo((600 - 1024 * v.zoom) / 2);
    expect(zoomRange(viewport, image)).toEqual({ min: 800 / 2048, max: 8 });
    // A tiny image may be fitted above 8×.
    expect(zoomRange(viewport, { width: 32, height: 32 }).max).toBeCloseTo(600 / 32);
    expect(zoomRange(viewport, { width: 32, height: 32 }).min).toBe(1);
  });

  it('maps a pointer to image pixels through the viewport box, pan and zoom', () => {
    const box = { left: 100, top: 50 };
    const fit = fitView(viewport, image);
    // The image's bottom-right corner on screen maps to (2048, 1024).
    const br = clientToImage(100 + 800, 50 + fit.panY + 1024 * fit.zoom, box, fit);
    expect(br.x).toBeCloseTo(2048);
    expect(br.y).toBeCloseTo(1024);

    const zoomed = { zoom: 4, panX: -1000, panY: -300 };
    const p = clientToImage(100 + 200, 50 + 100, box, zoomed);
    expect(p).toEqual({ x: (200 + 1000) / 4, y: (100 + 300) / 4 });
    // Outside the image: not clamped (strokes may start off the edge).
    expect(clientToImage(100, 50, box, fit).y).toBeLessThan(0);
  });

  it('zooms about the anchor and clamps zoom and pan', () => {
    const fit = fitView(viewport, image);
    const z = zoomAt(fit, 2, 400, 300, viewport, image);
    expect(z.zoom).toBe(2);
    // The image point under the anchor stays under it.
    const before = clientToImage(400, 300, { left: 0, top: 0 }, fit);
    const after = clientToImage(400, 300, { left: 0, top: 0 }, z);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);

    expect(zoomAt(fit, 100, 0, 0, viewport, image).zoom).toBe(8);
    expect(zoomAt(fit, 0.01, 0, 0, viewport, image).zoom).toBeCloseTo(800 / 2048);
    // Pan cannot push the image off screen.
    const far = clampView({ zoom: 2, panX: 500, panY: -99999 }, viewport, image);
    expect(far.panX).toBe(0);
    expect(far.panY).toBe(600 - 2048);
  });

  it('pinch: fingers twice as far apart zoom ×2 about their midpoint, which follows them', () => {
    const fit = fitView(viewport, image);
    const from = { x: 400, y: 300, distance: 100 };
    const to = { x: 420, y: 310, distance: 200 };
    const v = pinchView(fit, from, to, viewport, image);
    expect(v.zoom).toBeCloseTo(fit.zoom * 2);
    // The image point that was under the first midpoint is under the new one.
    const before = clientToImage(from.x, from.y, { left: 0, top: 0 }, fit);
    const after = clientToImage(to.x, to.y, { left: 0, top: 0 }, v);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
    // Clamped like any zoom.
    expect(pinchView(fit, from, { ...to, distance: 100_000 }, viewport, image).zoom).toBe(8);
  });
});

describe('import and export', () => {
  it('exports an opaque PNG at natural size: white where painted, black elsewhere', () => {
    const s = new MaskState(7, 5);
    s.stroke(3.5, 2.5, 3.5, 2.5, 1.2);
    s.endStroke();
    const png = decodePng(maskToPng(s));
    expect([png.width, png.height]).toEqual([7, 5]);
    for (let i = 0; i < 35; i++) {
      const v = s.data[i] ? 255 : 0;
      expect([...png.data.subarray(i * 4, i * 4 + 4)]).toEqual([v, v, v, 255]);
    }
    expect(s.data[2 * 7 + 3]).toBe(255);
    expect(s.data[0]).toBe(0);
    // And it reads back as the same mask.
    expect(Array.from(maskFromPng(maskToPng(s), 7, 5).data)).toEqual(Array.from(s.data));
  });

  it('reads stored masks: RGBA or one channel, transparent = unpainted, other sizes scaled nearest', () => {
    const rgba = new Uint8ClampedArray([255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 255, 200, 200, 200, 255]);
    expect(Array.from(normalizeMask({ width: 2, height: 2, data: rgba }, 2, 2).data)).toEqual([255, 0, 0, 255]);
    const grey = new Uint8Array([255, 0, 0, 255]);
    expect(Array.from(normalizeMask({ width: 2, height: 2, data: grey }, 4, 2).data)).toEqual([255, 255, 0, 0, 0, 0, 255, 255]);
    expect(() => normalizeMask({ width: 2, height: 2, data: new Uint8Array(3) }, 2, 2)).toThrow();
    const file = encodePng({ width: 1, height: 1, data: new Uint8ClampedArray([255, 255, 255, 255]) });
    expect(Array.from(maskFromPng(file, 2, 2).data)).toEqual([255, 255, 255, 255]);
  });

  it('overlay pixels tint painted pixels of the dirty box only', () => {
    const s = new MaskState(4, 4);
    s.stroke(2.5, 1.5, 2.5, 1.5, 0.5);
    const out = overlayPixels(s, { x: 1, y: 1, width: 2, height: 2 }, [10, 20, 30]);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('input helpers', () => {
  it('steps the brush size within its limits', () => {
    expect(stepBrushSize(40, 1)).toBe(46);
    expect(stepBrushSize(40, -1)).toBe(34);
    expect(stepBrushSize(1, -1)).toBe(1);
    expect(stepBrushSize(2, 1)).toBe(3);
    expect(stepBrushSize(510, 1)).toBe(512);
  });

  it('pen pressure scales the radius; mouse does not', () => {
    expect(brushRadius(20, 'mouse', 0.5)).toBe(10);
    expect(brushRadius(20, 'pen', 0.5)).toBe(5);
    expect(brushRadius(20, 'pen', 0)).toBe(10); // a pen reporting no pressure
    expect(brushRadius(20, 'pen', 0.01)).toBe(2);
  });

  it('recognizes the shortcuts', () => {
    const k = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) =>
      shortcutOf({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...mods });
    expect(k('z', { ctrlKey: true })).toBe('undo');
    expect(k('z', { metaKey: true })).toBe('undo');
    expect(k('Z', { ctrlKey: true, shiftKey: true })).toBe('redo');
    expect(k('y', { ctrlKey: true })).toBe('redo');
    expect(k('[')).toBe('smaller');
    expect(k(']')).toBe('bigger');
    expect(k('b')).toBe('brush');
    expect(k('e')).toBe('eraser');
    expect(k('z')).toBeNull();
    expect(k('e', { ctrlKey: true })).toBeNull();
  });
});
