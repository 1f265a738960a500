/**
 * Enhance → "Refine first (img2img)": the refiner stage on a dropped image, alone or before the
 * upscaler, with a tiny random-weight Stable Diffusion model imported through the Models view.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { decodePng, encodePng } from '../../src/media/png';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-refine-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A w×h opaque PNG with a smooth pattern (the tiny model needs no particular content). */
function patternPng(width: number, height: number): Buffer {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (x * 255) / (width - 1);
      data[i + 1] = (y * 255) / (height - 1);
      data[i + 2] = 128 + 100 * Math.sin((x + y) / 6);
      data[i + 3] = 255;
    }
  }
  return Buffer.from(encodePng({ width, height, data }));
}

/** Drops a file on the Enhance view the way a browser does: a DataTransfer with one File. */
async function dropFile(page: Page, name: string, bytes: Buffer) {
  const transfer = await page.evaluateHandle(
    ({ name, bytes }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
      return dt;
    },
    { name, bytes: [...bytes] },
  );
  const zone = page.getByTestId('view-enhance');
  await zone.dispatchEvent('dragenter', { dataTransfer: transfer });
  await zone.dispatchEvent('dragover', { dataTransfer: transfer });
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
}

/** Imports the tiny SD 1.x folder (float32, with a VAE encoder) and waits for it to verify. */
async function importTinyModel(page: Page) {
  await importModelFolder(page, writePresetFolder(dir, 'tiny-sd15', 'sd15-fp32-dynamic'), 'tiny-sd15', 60_000);
}

async function openEnhance(page: Page) {
  await page.goto(`${server.url}?backend=wasm#/enhance`);
  await expect(page.getByTestId('backend')).toContainText(/WASM/i);
}

async function downloadResult(page: Page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').click()]);
  return { name: download.suggestedFilename(), png: decodePng(new Uint8Array(readFileSync(await download.path()))) };
}

test('refine only (64×64 → 64×64), then refine → upscale ×2 (→ 128×128); results in the gallery', async ({ page, context }) => {
  const foreign = await guardOrigin(context, server.origin);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openEnhance(page);
  await importTinyModel(page);

  await page.getByTestId('nav-enhance').click();
  await dropFile(page, 'square.png', patternPng(64, 64));
  await expect(page.getByTestId('enhance-source')).toContainText('square.png');

  await page.getByTestId('enhance-refine').check();
  const modelSelect = page.getByTestId('refine-model');
  await expect(modelSelect).toBeEnabled();
  await expect(modelSelect).toHaveValue('tiny-sd15');
  // The default strength is the stage's, 0.3.
  await expect(page.getByTestId('refine-strength')).toHaveValue('0.3');
  await page.getByTestId('refine-strength').fill('0.5');
  await page.getByTestId('refine-steps').fill('4');
  await page.getByTestId('refine-prompt').fill('a colourful gradient');
  await page.getByTestId('refine-also-upscale').uncheck();
  await expect(page.getByTestId('upscale-factor')).toBeDisabled();
  await expect(page.getByTestId('expected-output')).toContainText('64×64');
  await expect(page.getByTestId('refine-problem')).toHaveCount(0);

  const run = page.getByTestId('enhance-run');
  await expect(run).toHaveText('Refine');
  await run.click();
  await expect(page.getByTestId('progress')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  // The progress names the stage (strength 0.5 of 4 steps: the refiner runs the last 2).
  await expect(page.getByTestId('progress')).toContainText(/Refiner · step 2 \/ 2\b/);
  await expect(page.getByTestId('result-info')).toContainText('64×64');
  await expect(page.getByTestId('result-refine')).toContainText('refined at 0.5 with tiny-sd15');
  const refined = await downloadResult(page);
  expect(refined.name).toBe('generated_refined.png');
  expect([refined.png.width, refined.png.height]).toEqual([64, 64]);

  // Refiner → upscaler ×2: the result is the upscaler's image.
  await page.getByTestId('refine-also-upscale').check();
  await page.getByTestId('upscale-factor').selectOption('2');
  await expect(page.getByTestId('expected-output')).toContainText('128×128');
  await expect(run).toHaveText('Refine, then upscale ×2');
  await run.click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  await expect(page.getByTestId('progress')).toContainText('Refiner → Upscaler finished');
  await expect(page.getByTestId('result-info')).toContainText('128×128');
  const upscaled = await downloadResult(page);
  expect(upscaled.name).toBe('generated_upscaled.png');
  expect([upscaled.png.width, upscaled.png.height]).toEqual([128, 128]);

  // Gallery: the first job's refined image, the second job's refined and upscaled images.
  await page.getByTestId('nav-gallery').click();
  const items = page.getByTestId('gallery-item');
  await expect(items).toHaveCount(3);
  await expect(items.filter({ hasText: 'generated_refined.png' })).toHaveCount(2);
  await expect(items.filter({ hasText: 'generated_upscaled.png' })).toHaveCount(1);
  await expect(items.filter({ hasText: '128×128' })).toHaveCount(1);

  // A 60×60 image cannot be refined: said before submitting; upscaling alone still works.
  await page.getByTestId('nav-enhance').click();
  await page.getByTestId('enhance-input').setInputFiles({ name: 'odd.png', mimeType: 'image/png', buffer: patternPng(60, 60) });
  const problem = page.getByTestId('refine-problem');
  await expect(problem).toHaveCount(1);
  await expect(problem).toContainText('60×60');
  await expect(problem).toContainText(/multiples of 8/);
  await expect(problem).toContainText('56×56');
  await expect(run).toBeDisabled();
  await page.getByTestId('enhance-refine').uncheck();
  await expect(page.getByTestId('refine-problem')).toHaveCount(0);
  await expect(run).toBeEnabled();
  await expect(run).toHaveText('Upscale ×2');

  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

test('refine with no checkpoint imported: says how to get one, and upscaling alone stays possible', async ({ page }) => {
  await openEnhance(page);
  await dropFile(page, 'square.png', patternPng(64, 64));
  await page.getByTestId('enhance-refine').check();
  const problem = page.getByTestId('refine-problem');
  await expect(problem).toHaveCount(1);
  await expect(problem).toContainText(/needs a Stable Diffusion checkpoint/);
  await expect(problem).toContainText(/Models view/);
  await expect(page.getByTestId('refine-model')).toBeDisabled();
  await expect(page.getByTestId('enhance-run')).toBeDisabled();

  // Both problems at once for an image that is not a multiple of 8 either.
  await page.getByTestId('enhance-input').setInputFiles({ name: 'odd.png', mimeType: 'image/png', buffer: patternPng(60, 60) });
  await expect(problem).toHaveCount(2);
  await expect(problem.nth(1)).toContainText(/multiples of 8/);

  await page.getByTestId('enhance-refine').uncheck();
  await expect(page.getByTestId('enhance-run')).toBeEnabled();

  // The way to the Models view.
  await page.getByTestId('enhance-refine').check();
  await page.getByTestId('refine-open-models').click();
  await expect(page.getByTestId('view-models')).toBeVisible();
  await expect(page.getByTestId('checkpoint-guidance')).toBeVisible();
});
