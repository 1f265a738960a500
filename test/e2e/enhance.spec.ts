import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { decodePng } from '../../src/media/png';
import { upscaleTiled } from '../../src/pipeline/image/tiling';
import { createNodeUpscalers } from '../helpers/node-ort';
import { guardOrigin, startAppServer, type AppServer } from './server';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

let server: AppServer;
test.beforeAll(async () => {
  server = await startAppServer();
});
test.afterAll(async () => {
  await server?.close();
});

function maxDiff(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

test('upscales astronaut.png ×2 on WASM into the gallery, matching Node within 1 grey level', async ({ page, context }) => {
  const foreign = await guardOrigin(context, server.origin);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=wasm#/enhance`);
  await expect(page.getByTestId('backend')).toContainText(/WASM/i);
  await expect(page.getByTestId('backend')).toContainText(/forced/i);

  await page.getByTestId('enhance-input').setInputFiles(fixture('images/astronaut.png'));
  await page.getByTestId('upscale-factor').selectOption('2');
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('progress')).toBeVisible();
  await expect(page.getByTestId('status')).toContainText(/done/i, { timeout: 180_000 });

  await page.getByTestId('nav-gallery').click();
  const items = page.getByTestId('gallery-item');
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText('1024');
  await items.first().click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
  expect(download.suggestedFilename()).toBe('generated_upscaled.png');
  const browserResult = decodePng(new Uint8Array(readFileSync(await download.path())));
  expect([browserResult.width, browserResult.height]).toEqual([1024, 1024]);

  // The same image through the same model and tiling in Node (onnxruntime-web WASM).
  const image = decodePng(new Uint8Array(readFileSync(fixture('images/astronaut.png'))));
  const model = await createNodeUpscalers().load(undefined, 2);
  const nodeResult = await upscaleTiled(image, model, { tileSize: model.maxTileSize, overlap: 2 * (model.receptiveRadius + 2) });
  expect(maxDiff(browserResult.data, nodeResult.image.data)).toBeLessThanOrEqual(1);

  // Still there after a reload.
  await page.reload();
  await expect(page.getByTestId('gallery-item')).toHaveCount(1);
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

test('gallery: delete one, then delete all after confirming', async ({ page }) => {
  await page.goto(`${server.url}?backend=wasm#/enhance`);
  const image = decodePng(new Uint8Array(readFileSync(fixture('images/chelsea.png'))));
  const small = { width: 40, height: 30, data: new Uint8ClampedArray(40 * 30 * 4) };
  for (let y = 0; y < 30; y++) small.data.set(image.data.subarray((y * image.width + 100) * 4, (y * image.width + 140) * 4), y * 160);
  const { encodePng } = await import('../../src/media/png');
  const buffer = Buffer.from(encodePng(small));
  for (let i = 0; i < 3; i++) {
    await page.getByTestId('enhance-input').setInputFiles({ name: `cat-${i}.png`, mimeType: 'image/png', buffer });
    await page.getByTestId('enhance-run').click();
    await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  }
  await page.getByTestId('nav-gallery').click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(3);
  await page.getByTestId('gallery-item').first().click();
  await page.getByTestId('delete').click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);
  await page.getByTestId('delete-all').click();
  await page.getByTestId('cancel-delete-all').click();
  await expect(page.getByTestId('gallery-item')).toHaveCount(2);
  await page.getByTestId('delete-all').click();
  await page.getByTestId('confirm-delete-all').click();
  await expect(page.getByTestId('gallery-empty')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('gallery-empty')).toBeVisible();
});
