/**
 * What people do with a result on the Generate view, per image: reuse its parameters (an image of
 * a batch: batch 1 with its own seed), send it to Enhance, delete it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { importModelFolder, writePresetFolder } from './model-folders';
import { startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-actions-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('each result image can be reused, sent to Enhance and deleted', async ({ page }) => {
  await page.goto(`${server.url}?backend=wasm#/models`);
  await importModelFolder(page, writePresetFolder(dir, 'tiny-sd15', 'sd15-fp32-dynamic'), 'tiny-sd15');
  await page.getByTestId('nav-generate').click();
  await page.getByTestId('prompt').fill('a red fox');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('seed').fill('500');
  await page.getByTestId('batch-size').fill('2');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  const images = page.getByTestId('result').getByTestId('result-image');
  await expect(images).toHaveCount(2);

  // Reuse the second image: its own seed, batch 1.
  await page.getByTestId('prompt').fill('something else');
  await images.nth(1).getByTestId('result-reuse').click();
  await expect(page.getByTestId('prompt')).toHaveValue('a red fox');
  await expect(page.getByTestId('seed')).toHaveValue('501');
  await expect(page.getByTestId('batch-size')).toHaveValue('1');

  // Delete the first: gone from the gallery too.
  await images.nth(0).getByTestId('result-delete').click();
  await expect(images.nth(0)).toHaveAttribute('data-deleted', 'true');
  await page.getByTestId('nav-gallery').click();
  await expect(page.getByTestId('gallery-count')).toHaveText('1 image');

  // Send the second to Enhance.
  await page.getByTestId('nav-generate').click();
  await page.getByTestId('result').getByTestId('result-image').nth(1).getByTestId('result-enhance').click();
  await expect(page.getByTestId('view-enhance')).toBeVisible();
  await expect(page.getByTestId('enhance-source')).toContainText('generated-2.png');
});
