/**
 * The mask editor on its own, in Chromium: the component is bundled here with Vite into a tiny
 * page (no app build, no server), then driven with real mouse input and synthetic pen events.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { build, type Rollup } from 'vite';
import solid from 'vite-plugin-solid';
import { decodePng } from '../../src/media/png';

const root = fileURLToPath(new URL('../..', import.meta.url));
const component = fileURLToPath(new URL('../../src/app/components/MaskEditor.tsx', import.meta.url));
// A path that does not exist: the plugin below serves it, Vite's Solid plugin compiles its JSX.
const harnessId = `${root}test/e2e/mask-harness.virtual.tsx`;

const HARNESS = `
import { render } from 'solid-js/web';
import { createSignal } from 'solid-js';
import { MaskEditor } from ${JSON.stringify(component)};

const cfg = window.__maskConfig;
const art = document.createElement('canvas');
art.width = cfg.width;
art.height = cfg.height;
const g = art.getContext('2d');
const grad = g.createLinearGradient(0, 0, cfg.width, cfg.height);
grad.addColorStop(0, '#345');
grad.addColorStop(1, '#dca');
g.fillStyle = grad;
g.fillRect(0, 0, cfg.width, cfg.height);

const [disabled, setDisabled] = createSignal(false);
const h = { api: null, changes: [], setDisabled };
window.__mask = h;
const initial = cfg.initial ? { width: cfg.width, height: cfg.height, data: new Uint8Array(cfg.initial) } : null;
render(
  () => (
    <div style={{ width: '600px', padding: '8px' }}>
      <MaskEditor
        src={art.toDataURL()}
        width={cfg.width}
        height={cfg.height}
        disabled={disabled()}
        initialMask={initial}
        ref={(api) => (h.api = api)}
        onChange={(m) => h.changes.push(m ? m.data.reduce((n, v) => n + (v ? 1 : 0), 0) : null)}
      />
    </div>
  ),
  document.getElementById('root'),
);
`;

let bundle: { js: string; css: string };

test.beforeAll(async () => {
  const result = (await build({
    configFile: false,
    root,
    logLevel: 'warn',
    plugins: [
      { name: 'mask-harness', enforce: 'pre', resolveId: (id) => (id === harnessId ? id : null), load: (id) => (id === harnessId ? HARNESS : null) },
      solid(),
    ],
    build: { write: false, minify: false, target: 'es2022', modulePreload: false, rollupOptions: { input: harnessId } },
  })) as Rollup.RollupOutput;
  const files = result.output;
  const js = files.find((f): f is Rollup.OutputChunk => f.type === 'chunk' && f.isEntry);
  const css = files.filter((f): f is Rollup.OutputAsset => f.type === 'asset' && f.fileName.endsWith('.css'));
  expect(js).toBeTruthy();
  bundle = { js: js!.code, css: css.map((f) => String(f.source)).join('\n') };
});

interface Config {
  width: number;
  height: number;
  initial?: number[];
}

async function mount(page: Page, config: Config) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const appCss = readFileSync(`${root}src/app/styles.css`, 'utf8');
  await page.setContent(`<!doctype html><html><head><style>${appCss}\n${bundle.css}</style></head><body><div id="root"></div></body></html>`);
  await page.evaluate((cfg) => {
    (window as unknown as { __maskConfig: Config }).__maskConfig = cfg;
    // Record every overlay update's size: painting must touch only the stroke's box.
    const puts: number[] = [];
    (window as unknown as { __puts: number[] }).__puts = puts;
    const put = CanvasRenderingContext2D.prototype.putImageData;
    CanvasRenderingContext2D.prototype.putImageData = function (this: CanvasRenderingContext2D, data: ImageData, ...rest: number[]) {
      puts.push(data.width * data.height);
      return (put as (...a: unknown[]) => void).call(this, data, ...rest);
    } as typeof put;
  }, config);
  await page.addScriptTag({ type: 'module', content: bundle.js });
  await expect(page.getByTestId('mask-editor')).toBeVisible();
  return errors;
}

type Api = { hasPaint(): boolean; mask(): { data: Uint8Array } };
const painted = (page: Page) =>
  page.evaluate(() => {
    const api = (window as unknown as { __mask: { api: Api } }).__mask.api;
    return api.mask().data.reduce((n, v) => n + (v ? 1 : 0), 0);
  });
const pixel = (page: Page, x: number, y: number) =>
  page.evaluate(
    ([x, y]) => {
      const api = (window as unknown as { __mask: { api: Api } }).__mask.api;
      const m = api.mask() as unknown as { width: number; data: Uint8Array };
      return m.data[y * m.width + x];
    },
    [x, y],
  );
const changes = (page: Page) => page.evaluate(() => (window as unknown as { __mask: { changes: (number | null)[] } }).__mask.changes);

/** Screen position of an image pixel's centre, from the canvas's on-screen box. */
async function screenOf(page: Page, W: number, H: number, px: number, py: number) {
  const box = (await page.getByTestId('mask-canvas').boundingBox())!;
  return { x: box.x + ((px + 0.5) * box.width) / W, y: box.y + ((py + 0.5) * box.height) / H };
}

test('paints with the mouse, with undo/redo, eraser, invert, clear and a PNG export', async ({ page }) => {
  const W = 400;
  const H = 200;
  const errors = await mount(page, { width: W, height: H });
  await page.getByTestId('mask-size').fill('10');
  await expect(page.getByTestId('mask-undo')).toBeDisabled();
  expect(await painted(page)).toBe(0);

  // A fast horizontal stroke (few pointer moves) leaves a gap-free band.
  const a = await screenOf(page, W, H, 50, 100);
  const b = await screenOf(page, W, H, 350, 100);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 3 });
  await page.mouse.up();
  for (let x = 50; x <= 350; x += 10) expect(await pixel(page, x, 100), `x=${x}`).toBe(255);
  expect(await pixel(page, 200, 120)).toBe(0); // well outside the 10 px brush
  const afterStroke = await painted(page);
  expect(afterStroke).toBeGreaterThan(2500);
  expect(await changes(page)).toEqual([afterStroke]); // one onChange per stroke, at its end
  await expect(page.getByTestId('mask-undo')).toBeEnabled();

  // Eraser across the band.
  await page.getByTestId('mask-eraser').click();
  await expect(page.getByTestId('mask-eraser')).toHaveAttribute('aria-pressed', 'true');
  const c = await screenOf(page, W, H, 200, 60);
  const d = await screenOf(page, W, H, 200, 140);
  await page.mouse.move(c.x, c.y);
  await page.mouse.down();
  await page.mouse.move(d.x, d.y, { steps: 4 });
  await page.mouse.up();
  expect(await pixel(page, 200, 100)).toBe(0);
  expect(await pixel(page, 100, 100)).toBe(255);
  const afterErase = await painted(page);
  expect(afterErase).toBeLessThan(afterStroke);

  // Undo / redo by button and by keyboard (focus is in the canvas after painting).
  await page.getByTestId('mask-undo').click();
  expect(await painted(page)).toBe(afterStroke);
  await page.getByTestId('mask-redo').click();
  expect(await painted(page)).toBe(afterErase);
  await page.locator('.mask-viewport').focus();
  await page.keyboard.press('Control+z');
  expect(await painted(page)).toBe(afterStroke);
  await page.keyboard.press('Control+Shift+Z');
  expect(await painted(page)).toBe(afterErase);
  await page.keyboard.press('Control+z');
  await page.keyboard.press('Control+y');
  expect(await painted(page)).toBe(afterErase);

  // Invert, then the PNG export is white exactly where painted.
  await page.getByTestId('mask-invert').click();
  expect(await painted(page)).toBe(W * H - afterErase);
  const png = await page.evaluate(async () => {
    const api = (window as unknown as { __mask: { api: { toPng(): Blob } } }).__mask.api;
    return Array.from(new Uint8Array(await api.toPng().arrayBuffer()));
  });
  const image = decodePng(new Uint8Array(png));
  expect([image.width, image.height]).toEqual([W, H]);
  const at = (x: number, y: number) => Array.from(image.data.subarray((y * W + x) * 4, (y * W + x) * 4 + 4));
  expect(at(100, 100)).toEqual([0, 0, 0, 255]); // painted then inverted
  expect(at(5, 5)).toEqual([255, 255, 255, 255]);

  await page.getByTestId('mask-clear').click();
  expect(await painted(page)).toBe(0);
  await expect(page.getByTestId('mask-clear')).toBeDisabled();
  expect((await changes(page)).at(-1)).toBeNull(); // nothing painted: the caller disables Run
  expect(errors).toEqual([]);
});

test('maps the pointer through zoom and pan; space-drag pans without painting; the wheel zooms', async ({ page }) => {
  const W = 1024;
  const H = 512;
  const errors = await mount(page, { width: W, height: H });
  await page.getByTestId('mask-size').fill('4');
  const zoom = page.getByTestId('mask-zoom');
  const fitText = await zoom.textContent();
  await page.getByTestId('mask-zoom-in').click();
  await page.getByTestId('mask-zoom-in').click();
  await page.getByTestId('mask-zoom-in').click();
  await expect(zoom).not.toHaveText(fitText!);

  const click = async (px: number, py: number) => {
    const p = await screenOf(page, W, H, px, py);
    await page.mouse.click(p.x, p.y);
  };
  // After zooming about the centre, the centre pixel is still in view.
  await click(512, 256);
  expect(await pixel(page, 512, 256)).toBe(255);
  expect(await painted(page)).toBeLessThan(30);

  // Space-drag pans: the canvas moves with the pointer, and nothing is painted.
  const before = (await page.getByTestId('mask-canvas').boundingBox())!;
  const count = await painted(page);
  await page.locator('.mask-viewport').focus();
  await page.keyboard.down('Space');
  await page.mouse.move(300, 200);
  await page.mouse.down();
  await page.mouse.move(380, 230, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.up('Space');
  const after = (await page.getByTestId('mask-canvas').boundingBox())!;
  expect(after.x - before.x).toBeCloseTo(80, 0);
  expect(after.y - before.y).toBeCloseTo(30, 0);
  expect(await painted(page)).toBe(count);

  // The mapping still holds after the pan.
  await click(420, 230);
  expect(await pixel(page, 420, 230)).toBe(255);

  // Fit, then the wheel zooms in at the pointer.
  await page.getByTestId('mask-zoom-fit').click();
  await expect(zoom).toHaveText(fitText!);
  const centre = await screenOf(page, W, H, 700, 300);
  await page.mouse.move(centre.x, centre.y);
  await page.mouse.wheel(0, -400);
  await expect(zoom).not.toHaveText(fitText!);
  await click(700, 300);
  expect(await pixel(page, 700, 300)).toBe(255);
  expect(errors).toEqual([]);
});

test('pen pressure, disabled, a restored mask, [ and ] keys', async ({ page }) => {
  const W = 200;
  const H = 200;
  const initial = new Array(W * H).fill(0);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) initial[y * W + x] = 255;
  const errors = await mount(page, { width: W, height: H, initial });
  await expect.poll(() => painted(page)).toBe(400);
  await expect(page.getByTestId('mask-undo')).toBeDisabled(); // a restored mask is not an undo step
  await expect(page.getByTestId('mask-clear')).toBeEnabled();

  await page.getByTestId('mask-size').fill('20');
  const penStroke = (pressure: number) =>
    page.evaluate(
      async ([pressure]) => {
        const target = document.querySelector('[data-testid="mask-canvas"]')!;
        const box = target.getBoundingClientRect();
        const at = (fx: number, fy: number, type: string) =>
          target.dispatchEvent(
            new PointerEvent(type, {
              bubbles: true,
              pointerId: 7,
              pointerType: 'pen',
              isPrimary: true,
              button: type === 'pointermove' ? -1 : 0,
              buttons: type === 'pointerup' ? 0 : 1,
              pressure: type === 'pointerup' ? 0 : pressure,
              clientX: box.left + fx * box.width,
              clientY: box.top + fy * box.height,
            }),
          );
        at(0.3, 0.5, 'pointerdown');
        for (let i = 1; i <= 5; i++) at(0.3 + i * 0.08, 0.5, 'pointermove');
        at(0.7, 0.5, 'pointerup');
      },
      [pressure],
    );
  await penStroke(1);
  const full = (await painted(page)) - 400;
  await page.getByTestId('mask-undo').click();
  await penStroke(0.25);
  const light = (await painted(page)) - 400;
  expect(full).toBeGreaterThan(0);
  expect(light).toBeGreaterThan(0);
  expect(light).toBeLessThan(full / 2); // a quarter of the radius

  // [ and ] change the size.
  await page.locator('.mask-viewport').focus();
  await page.keyboard.press(']');
  await expect(page.getByTestId('mask-size')).toHaveValue('23');
  await page.keyboard.press('[');
  await page.keyboard.press('[');
  await expect(page.getByTestId('mask-size')).toHaveValue('17');

  // Disabled: no painting, tools off, zoom still works.
  await page.evaluate(() => (window as unknown as { __mask: { setDisabled(v: boolean): void } }).__mask.setDisabled(true));
  const count = await painted(page);
  const p = await screenOf(page, W, H, 150, 150);
  await page.mouse.click(p.x, p.y);
  expect(await painted(page)).toBe(count);
  await expect(page.getByTestId('mask-brush')).toBeDisabled();
  await expect(page.getByTestId('mask-clear')).toBeDisabled();
  await expect(page.getByTestId('mask-zoom-in')).toBeEnabled();
  expect(errors).toEqual([]);
});

test('on a 2048×2048 image a stroke updates only its own box of the overlay', async ({ page }) => {
  const W = 2048;
  const H = 2048;
  const errors = await mount(page, { width: W, height: H });
  await page.getByTestId('mask-size').fill('40');
  await page.evaluate(() => ((window as unknown as { __puts: number[] }).__puts.length = 0));
  const a = await screenOf(page, W, H, 300, 300);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  const started = Date.now();
  // 60 short moves: each paints and shows one segment.
  for (let i = 1; i <= 60; i++) await page.mouse.move(a.x + i * 3, a.y + i);
  await page.mouse.up();
  const ms = Date.now() - started;
  const puts = await page.evaluate(() => (window as unknown as { __puts: number[] }).__puts);
  expect(puts.length).toBeGreaterThan(20);
  // A segment of a 40 px brush touches at most ~ (40 + movement)² pixels, never the 4 M of the image.
  expect(Math.max(...puts)).toBeLessThan(100 * 100);
  expect(await painted(page)).toBeGreaterThan(60 * 40);
  console.log(`2048² stroke: 60 moves in ${ms} ms, largest overlay update ${Math.max(...puts)} px`);
  expect(errors).toEqual([]);
});

test('touch: one finger paints; a second finger turns it into a pinch that zooms and paints nothing', async ({ page }) => {
  const errors = await mount(page, { width: 512, height: 512 });
  /** Touch pointer events on the canvas at fractions of its box. */
  const touch = (steps: Array<[type: string, id: number, fx: number, fy: number]>) =>
    page.evaluate((steps) => {
      const target = document.querySelector('[data-testid="mask-canvas"]')!;
      const box = target.getBoundingClientRect();
      for (const [type, id, fx, fy] of steps) {
        target.dispatchEvent(
          new PointerEvent(type, {
            bubbles: true,
            pointerId: id,
            pointerType: 'touch',
            isPrimary: id === 1,
            button: type === 'pointermove' ? -1 : 0,
            buttons: type === 'pointerup' ? 0 : 1,
            pressure: type === 'pointerup' ? 0 : 0.5,
            clientX: box.left + fx * box.width,
            clientY: box.top + fy * box.height,
          }),
        );
      }
    }, steps);

  // One finger: a stroke.
  await touch([
    ['pointerdown', 1, 0.2, 0.2],
    ['pointermove', 1, 0.5, 0.2],
    ['pointerup', 1, 0.5, 0.2],
  ]);
  const afterStroke = await painted(page);
  expect(afterStroke).toBeGreaterThan(0);
  const zoomBefore = await page.getByTestId('mask-zoom').textContent();

  // A finger starts painting, a second lands: what the first painted goes, the two pinch apart.
  await touch([
    ['pointerdown', 1, 0.4, 0.6],
    ['pointermove', 1, 0.45, 0.6],
    ['pointerdown', 2, 0.6, 0.6],
    ['pointermove', 1, 0.3, 0.6],
    ['pointermove', 2, 0.7, 0.6],
    ['pointerup', 1, 0.3, 0.6],
    ['pointermove', 2, 0.9, 0.9],
    ['pointerup', 2, 0.9, 0.9],
  ]);
  expect(await painted(page)).toBe(afterStroke);
  await expect(page.getByTestId('mask-zoom')).not.toHaveText(zoomBefore!);
  // One undo step: the first stroke only.
  await page.getByTestId('mask-undo').click();
  expect(await painted(page)).toBe(0);
  await expect(page.getByTestId('mask-undo')).toBeDisabled();
  expect(errors).toEqual([]);
});
