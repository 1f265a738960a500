/**
 * Seeds as A1111 gives them, through the built app on WASM with a tiny single-file checkpoint:
 * image i of a batch is seed + i and reloads alone (batch 1, its own seed) to the same pixels;
 * a variation seed at strength 0 is the seed's image and at strength 1 the variation seed's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { decodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import { tinyLdmConfig, writeLdmCheckpoint } from '../fixtures/ldm-checkpoint';
import { startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-seeds-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Fills the form, generates, and returns every result PNG of the job (downloaded). */
async function generate(page: Page, form: { seed: string; batch?: string; variationSeed?: string; variationStrength?: string }) {
  await page.getByTestId('nav-generate').click();
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('seed').fill(form.seed);
  await page.getByTestId('batch-size').fill(form.batch ?? '1');
  if (form.variationStrength !== undefined) {
    // Open (it opens by itself when a variation is on; a click would toggle it).
    await page.getByTestId('variation').evaluate((d) => ((d as HTMLDetailsElement).open = true));
    await page.getByTestId('variation-seed').fill(form.variationSeed ?? '');
    await page.getByTestId('variation-strength').fill(form.variationStrength);
  }
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  const links = page.getByTestId('result').getByTestId('result-download');
  const pngs: Uint8Array[] = [];
  for (let i = 0; i < (await links.count()); i++) {
    const [download] = await Promise.all([page.waitForEvent('download'), links.nth(i).click()]);
    pngs.push(new Uint8Array(readFileSync((await download.path())!)));
  }
  return pngs;
}

const pixels = (png: Uint8Array) => decodePng(png).data;
const maxDiff = (a: Uint8ClampedArray, b: Uint8ClampedArray) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('a batch gives seed + i per image, each reloads alone; the variation seed blends two seeds', async ({ page }) => {
  test.setTimeout(300_000);
  const checkpoint = join(dir, 'tiny-ldm.safetensors');
  await writeLdmCheckpoint(checkpoint, tinyLdmConfig('sd1'), 'F32', 3);
  await page.goto(`${server.url}?backend=wasm#/models`);
  await page.getByTestId('import-files').setInputFiles(checkpoint);
  await expect(page.getByTestId('scan-model')).toHaveCount(1);
  await page.getByTestId('import-selected').click();
  await expect(page.getByTestId('model-row').filter({ hasText: 'tiny-ldm' }).getByTestId('model-status')).toContainText(/verified/i, { timeout: 120_000 });

  // A batch of 2 at seed 40: the second image says seed 41.
  const batch = await generate(page, { seed: '40', batch: '2' });
  expect(batch).toHaveLength(2);
  const infotext = (png: Uint8Array) => readPngTextChunks(png).find((c) => c.keyword === 'parameters')!.text;
  expect(infotext(batch[0]!)).toMatch(/Seed: 40,/);
  expect(infotext(batch[1]!)).toMatch(/Seed: 41,/);
  // Loading the second image gives batch 1 at seed 41, and the same picture.
  await page.getByTestId('load-png-input').setInputFiles({ name: 'second.png', mimeType: 'image/png', buffer: Buffer.from(batch[1]!) });
  await expect(page.getByTestId('seed')).toHaveValue('41');
  await expect(page.getByTestId('batch-size')).toHaveValue('1');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').first().click()]);
  expect(maxDiff(pixels(new Uint8Array(readFileSync((await download.path())!))), pixels(batch[1]!))).toBeLessThanOrEqual(1);

  // The variation seed: strength 0 = seed 40's image, strength 1 = seed 41's (euler: no step noise).
  const at0 = await generate(page, { seed: '40', variationSeed: '41', variationStrength: '0' });
  expect(maxDiff(pixels(at0[0]!), pixels(batch[0]!))).toBeLessThanOrEqual(1);
  const at1 = await generate(page, { seed: '40', variationSeed: '41', variationStrength: '1' });
  expect(maxDiff(pixels(at1[0]!), pixels(batch[1]!))).toBeLessThanOrEqual(1);
  expect(infotext(at1[0]!)).toMatch(/Variation seed: 41, Variation seed strength: 1/);
});
