import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { guardOrigin, startAppServer, type AppServer } from './server';

const astronaut = readFileSync(fileURLToPath(new URL('../fixtures/images/astronaut.png', import.meta.url)));

let server: AppServer;
test.beforeAll(async () => {
  server = await startAppServer();
});
test.afterAll(async () => {
  await server?.close();
});

async function open(page: Page) {
  await page.goto(`${server.url}?backend=wasm#/enhance`);
  await expect(page.getByTestId('backend')).toContainText(/WASM/i);
}

async function runWith(page: Page, name: string, mimeType: string, buffer: Buffer) {
  await page.getByTestId('enhance-input').setInputFiles({ name, mimeType, buffer });
  const run = page.getByTestId('enhance-run');
  // Some files are refused as soon as they are picked; others when the worker decodes them.
  if (await run.isEnabled()) await run.click();
}

function pngClaiming(width: number, height: number): Buffer {
  const bytes = Buffer.from(astronaut.subarray(0, 33));
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  return bytes;
}

const cases: Array<[string, string, string, Buffer, RegExp]> = [
  ['a non-image file', 'notes.png', 'image/png', Buffer.from('these are my notes, not a picture'), /not an image/i],
  ['a zero-byte image', 'empty.png', 'image/png', Buffer.alloc(0), /empty/i],
  ['a truncated PNG', 'cut.png', 'image/png', Buffer.from(astronaut.subarray(0, 5000)), /truncated|damaged/i],
  ['a 30000×30000 header', 'huge.png', 'image/png', pngClaiming(30000, 30000), /30000×30000.*8192/],
];

for (const [label, name, mime, buffer, message] of cases) {
  test(`refuses ${label} with a clear message and nothing saved`, async ({ page, context }) => {
    const foreign = await guardOrigin(context, server.origin);
    await open(page);
    await runWith(page, name, mime, buffer);
    await expect(page.getByTestId('error')).toContainText(message);
    // The view stays usable: a real image still upscales afterwards.
    await runWith(page, 'ok.png', 'image/png', await smallPng(page));
    await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
    await page.getByTestId('nav-gallery').click();
    await expect(page.getByTestId('gallery-item')).toHaveCount(1);
    expect(foreign).toEqual([]);
  });
}

test('an impossible factor (7) is refused by the worker with the reason', async ({ page }) => {
  await open(page);
  await page.getByTestId('enhance-input').setInputFiles({ name: 'ok.png', mimeType: 'image/png', buffer: await smallPng(page) });
  // The UI offers only valid factors; add a bad one the way a hand-edited request would arrive.
  await page.getByTestId('upscale-factor').evaluate((select: HTMLSelectElement) => {
    select.add(new Option('×7', '7'));
  });
  await page.getByTestId('upscale-factor').selectOption('7');
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('error')).toContainText(/upscale_factor must be one of 2, 3, 4, 8/);
  await expect(page.getByTestId('status')).toHaveText(/failed/i);

  await page.getByTestId('nav-gallery').click();
  await expect(page.getByTestId('gallery-empty')).toBeVisible();
});

test('cancel in the middle of an upscale stops it, saves nothing, and the next job runs', async ({ page }) => {
  await open(page);
  await page.getByTestId('enhance-input').setInputFiles({ name: 'astronaut.png', mimeType: 'image/png', buffer: astronaut });
  await page.getByTestId('upscale-factor').selectOption('4');
  await page.getByTestId('enhance-run').click();
  const progress = page.getByTestId('progress');
  await expect(progress).toContainText(/tile \d+ \//, { timeout: 120_000 });
  await page.getByTestId('cancel').click();
  await expect(page.getByTestId('status')).toHaveText(/cancelled/i, { timeout: 60_000 });
  await page.getByTestId('nav-gallery').click();
  await expect(page.getByTestId('gallery-empty')).toBeVisible();
  // The queue is not stuck.
  await page.getByTestId('nav-enhance').click();
  await page.getByTestId('enhance-input').setInputFiles({ name: 'ok.png', mimeType: 'image/png', buffer: await smallPng(page) });
  await page.getByTestId('upscale-factor').selectOption('2');
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
});

/** A 48×32 crop of the astronaut, encoded by the page itself. */
async function smallPng(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate(async (src) => {
    const blob = await (await fetch(src)).blob();
    const bitmap = await createImageBitmap(blob);
    const canvas = new OffscreenCanvas(48, 32);
    canvas.getContext('2d')!.drawImage(bitmap, -200, -100);
    const png = await canvas.convertToBlob({ type: 'image/png' });
    const bytes = new Uint8Array(await png.arrayBuffer());
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }, `data:image/png;base64,${astronaut.toString('base64')}`);
  return Buffer.from(base64, 'base64');
}
