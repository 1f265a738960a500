import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { decodePng, encodePng } from '../../src/media/png';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { upscaleTiled } from '../../src/pipeline/image/tiling';
import { createNodeUpscalers } from '../helpers/node-ort';
import { chromiumArgs } from './playwright.config';
import { guardOrigin, startAppServer, type AppServer } from './server';

// Headless Chromium gets a software (SwiftShader) WebGPU adapter from this flag: correct but
// slow, so this test uses a 64×64 crop.
test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...chromiumArgs, '--enable-unsafe-webgpu'],
  },
});

let server: AppServer;
test.beforeAll(async () => {
  server = await startAppServer();
});
test.afterAll(async () => {
  await server?.close();
});

const astronaut = decodePng(new Uint8Array(readFileSync(fileURLToPath(new URL('../fixtures/images/astronaut.png', import.meta.url)))));
function crop64() {
  const out = createRgbaImage(64, 64);
  for (let y = 0; y < 64; y++) {
    const from = ((180 + y) * astronaut.width + 200) * 4;
    out.data.set(astronaut.data.subarray(from, from + 64 * 4), y * 64 * 4);
  }
  return out;
}

test('auto skips the software adapter; forced WebGPU upscales a 64×64 crop ×2 matching Node', async ({ page, context }) => {
  const foreign = await guardOrigin(context, server.origin);
  await page.goto(`${server.url}#/enhance`);
  await expect(page.getByTestId('backend')).toContainText(/WASM/i);
  await expect(page.getByTestId('backend')).toContainText(/software|fallback/i);

  await page.goto(`${server.url}?backend=webgpu#/enhance`);
  await expect(page.getByTestId('backend')).toContainText(/WebGPU/);
  const input = crop64();
  await page.getByTestId('enhance-input').setInputFiles({ name: 'crop.png', mimeType: 'image/png', buffer: Buffer.from(encodePng(input)) });
  await page.getByTestId('upscale-factor').selectOption('2');
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 200_000 });

  await page.getByTestId('nav-gallery').click();
  await page.getByTestId('gallery-item').first().click();
  await expect(page.getByTestId('detail-meta')).toContainText(/webgpu/i);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
  const gpu = decodePng(new Uint8Array(readFileSync(await download.path())));
  expect([gpu.width, gpu.height]).toEqual([128, 128]);

  const model = await createNodeUpscalers().load(undefined, 2);
  const node = await upscaleTiled(input, model, { tileSize: 1024, overlap: 0 });
  let max = 0;
  for (let i = 0; i < gpu.data.length; i++) max = Math.max(max, Math.abs(gpu.data[i] - node.image.data[i]));
  expect(max).toBeLessThanOrEqual(1);
  expect(foreign).toEqual([]);
});
