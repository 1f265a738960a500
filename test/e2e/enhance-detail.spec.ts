/**
 * Enhance → "Fix faces and hands, or inpaint" (the detailer stage) in Chromium: Find draws the
 * bundled face detector's box over astronaut.png; the detailer redraws that face with a tiny
 * 9-channel inpainting checkpoint and leaves every pixel outside the face's mask as it was; a
 * mask painted with pointer events is inpainted the same way.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { decodePng } from '../../src/media/png';
import { DEFAULTS } from '../../src/protocol/pipeline-config';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

const ASTRONAUT = readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url));

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-detail-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openEnhance(page: Page) {
  await page.goto(`${server.url}?backend=wasm#/enhance`);
  await expect(page.getByTestId('backend')).toContainText(/WASM/i);
}

async function pickAstronaut(page: Page) {
  await page.getByTestId('enhance-input').setInputFiles({ name: 'astronaut.png', mimeType: 'image/png', buffer: ASTRONAUT });
  await expect(page.getByTestId('enhance-source')).toContainText('512×512');
}

async function downloadResult(page: Page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').click()]);
  return { name: download.suggestedFilename(), png: decodePng(new Uint8Array(readFileSync(await download.path()))) };
}

/** Pixels that differ between two RGBA images, and how many of them lie outside `inside(x, y)`. */
function changes(a: { data: ArrayLike<number>; width: number }, b: { data: ArrayLike<number> }, inside: (x: number, y: number) => boolean) {
  let changed = 0;
  let outside = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2]) {
      changed++;
      const p = i / 4;
      if (!inside(p % a.width, Math.floor(p / a.width))) outside++;
    }
  }
  return { changed, outside };
}

/** How far beyond its painted edge a mask reaches after dilation and A1111's blur (2.5 σ). */
const reach = (dilate: number) => dilate + Math.ceil(2.5 * DEFAULTS.mask_blur) + 1;

test('Find shows the one face on astronaut.png, with no checkpoint needed', async ({ page, context }) => {
  const foreign = await guardOrigin(context, server.origin);
  await openEnhance(page);
  await pickAstronaut(page);
  await page.getByTestId('enhance-detail').check();
  await expect(page.getByTestId('face-strength')).toHaveValue(String(DEFAULTS.face_strength));
  await expect(page.getByTestId('detail-face')).toBeChecked();
  await expect(page.getByTestId('detail-hand')).not.toBeChecked();
  // No checkpoint: said, with the way to the Models view; Find still works.
  await expect(page.getByTestId('detail-problem').first()).toContainText(/needs a Stable Diffusion checkpoint/);
  await page.getByTestId('detail-find').click();
  await expect(page.getByTestId('detail-found')).toHaveText('Found 1 face.', { timeout: 60_000 });
  const box = page.getByTestId('found-box');
  await expect(box).toHaveCount(1);
  await expect(box).toContainText(/face 0\.\d\d/);
  const [x0, y0, x1, y1] = (await box.getAttribute('data-box'))!.split(',').map(Number);
  // The astronaut's face: upper middle of the picture, about 100 px across.
  expect(x1 - x0).toBeGreaterThan(60);
  expect(x1 - x0).toBeLessThan(200);
  expect((x0 + x1) / 2).toBeGreaterThan(180);
  expect((x0 + x1) / 2).toBeLessThan(330);
  expect(y1).toBeLessThan(300);
  // Hands only: none on the astronaut at the default confidence… the box goes when targets change.
  await page.getByTestId('detail-face').uncheck();
  await expect(box).toHaveCount(0);
  expect(foreign).toEqual([]);
});

test('the detailer redraws the face with a tiny inpainting checkpoint; nothing outside its mask changes', async ({ page }) => {
  test.setTimeout(240_000);
  await openEnhance(page);
  await importModelFolder(page, writePresetFolder(dir, 'tiny-inpaint', 'inpaint-9ch'), 'tiny-inpaint', 120_000);
  await page.getByTestId('nav-enhance').click();
  await pickAstronaut(page);
  await page.getByTestId('enhance-detail').check();
  await expect(page.getByTestId('detail-model')).toHaveValue('tiny-inpaint');
  await page.getByTestId('detail-find').click();
  await expect(page.getByTestId('found-box')).toHaveCount(1, { timeout: 60_000 });
  const [x0, y0, x1, y1] = (await page.getByTestId('found-box').getAttribute('data-box'))!.split(',').map(Number);

  await page.getByTestId('refine-also-upscale').uncheck();
  await expect(page.getByTestId('detail-problem')).toHaveCount(0);
  const run = page.getByTestId('enhance-run');
  await expect(run).toHaveText('Fix faces');
  await run.click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 180_000 });
  await expect(page.getByTestId('result-detail')).toContainText(`1 region redrawn at ${DEFAULTS.face_strength}`);
  const { name, png } = await downloadResult(page);
  expect(name).toBe('generated_detailed.png');
  expect([png.width, png.height]).toEqual([512, 512]);
  const input = decodePng(new Uint8Array(ASTRONAUT));
  const r = reach(DEFAULTS.dilate);
  const { changed, outside } = changes(input, png, (x, y) => x >= x0 - r && x < x1 + r && y >= y0 - r && y < y1 + r);
  expect(outside).toBe(0);
  expect(changed).toBeGreaterThan(((x1 - x0) * (y1 - y0)) / 2);
});

test('a mask painted with the pointer is inpainted; pixels far from the stroke are unchanged', async ({ page }) => {
  test.setTimeout(240_000);
  await openEnhance(page);
  await importModelFolder(page, writePresetFolder(dir, 'tiny-inpaint-2', 'inpaint-9ch'), 'tiny-inpaint-2', 120_000);
  await page.getByTestId('nav-enhance').click();
  await pickAstronaut(page);
  await page.getByTestId('enhance-detail').check();
  await page.getByTestId('detail-mode-mask').click();
  await expect(page.getByTestId('detail-problem')).toContainText(/nothing is painted yet/);
  await expect(page.getByTestId('enhance-run')).toBeDisabled();

  // One stroke across the middle of the image, with the mouse (pointer events).
  const canvas = page.getByTestId('mask-canvas');
  await expect(canvas).toBeVisible();
  await page.getByTestId('mask-zoom-fit').click();
  const rect = (await canvas.boundingBox())!;
  const toPage = (x: number, y: number) => [rect.x + (x / 512) * rect.width, rect.y + (y / 512) * rect.height] as const;
  await page.getByTestId('mask-size').fill('24');
  await page.mouse.move(...toPage(150, 380));
  await page.mouse.down();
  for (let x = 150; x <= 350; x += 10) await page.mouse.move(...toPage(x, 380));
  await page.mouse.up();
  await expect(page.getByTestId('detail-problem')).toHaveCount(0);

  await page.getByTestId('refine-also-upscale').uncheck();
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 180_000 });
  await expect(page.getByTestId('result-detail')).toContainText('painted area redrawn at 0.75');
  const { png } = await downloadResult(page);
  const input = decodePng(new Uint8Array(ASTRONAUT));
  // The stroke: y 380 ± 12 px, x 150–350 ± 12 px (the display may round a pixel or two).
  const r = Math.ceil(2.5 * DEFAULTS.mask_blur) + 14;
  const { changed, outside } = changes(input, png, (x, y) => x >= 150 - r && x <= 350 + r && y >= 380 - r && y <= 380 + r);
  expect(outside).toBe(0);
  expect(changed).toBeGreaterThan(200 * 12);

  // The mask is kept with the job: "Enhance" on the result in the gallery opens it with the
  // same mask, ready to inpaint again.
  await page.getByTestId('nav-gallery').click();
  const item = page.getByTestId('gallery-item').filter({ hasText: 'generated_detailed.png' });
  await expect(item).toHaveCount(1);
  await item.click();
  await page.getByTestId('enhance-again').click();
  await expect(page.getByTestId('view-enhance')).toBeVisible();
  await expect(page.getByTestId('enhance-detail')).toBeChecked();
  await expect(page.getByTestId('mask-canvas')).toBeVisible();
  await expect(page.getByTestId('mask-clear')).toBeEnabled();
  await expect(page.getByTestId('detail-problem')).toHaveCount(0);
  await expect(page.getByTestId('enhance-run')).toBeEnabled();
});
