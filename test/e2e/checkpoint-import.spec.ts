/**
 * A single-file LDM checkpoint (a tiny one, written in code) through the built app on WASM:
 * picked in the Models view, stored, verified with its family; generated from in the Generate view,
 * its graphs built on first use (the job says so) and cached in IndexedDB; after a reload the next
 * generation reads the cache instead of building again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { decodePng, encodePng } from '../../src/media/png';
import { runConvertCheckpoint } from '../../src/registry/checkpoint/cli';
import { tinyLdmConfig, writeLdmCheckpoint } from '../fixtures/ldm-checkpoint';
import { importModelFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-checkpoint-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A w×h opaque grey image (the tiny model needs no particular content). */
function flatImage(width: number, height: number) {
  return { width, height, data: new Uint8ClampedArray(width * height * 4).fill(128) };
}

interface GraphRow {
  component: string;
  compute: string;
  created_at: number;
}

/** The cached graphs' rows (without their bytes), or deletes them all, from the page. */
function graphRows(page: Page, action: 'list' | 'clear' = 'list'): Promise<GraphRow[]> {
  return page.evaluate(
    (action) =>
      new Promise<GraphRow[]>((resolve, reject) => {
        const open = indexedDB.open('media-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction('model_graphs', action === 'clear' ? 'readwrite' : 'readonly');
          const req = action === 'clear' ? tx.objectStore('model_graphs').clear() : tx.objectStore('model_graphs').getAll();
          tx.oncomplete = () => {
            db.close();
            const rows = (action === 'clear' ? [] : (req.result as GraphRow[])).map((r) => ({ component: r.component, compute: r.compute, created_at: r.created_at }));
            resolve(rows.sort((a, b) => a.component.localeCompare(b.component)));
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    action,
  );
}

/** Generates a tiny image; returns every text the job's progress line showed on the way. */
async function generate(page: Page): Promise<string[]> {
  await page.getByTestId('nav-generate').click();
  await expect(page.getByTestId('view-generate')).toBeVisible();
  await expect(page.getByTestId('model-select')).toHaveValue('tiny-ldm');
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  // The progress line can be brief: record each text it takes.
  await page.evaluate(() => {
    const w = window as unknown as { __statuses: string[] };
    w.__statuses = [];
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid="progress"] .progress-text')?.textContent;
      if (text && w.__statuses[w.__statuses.length - 1] !== text) w.__statuses.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  await expect(page.getByTestId('result-image')).toHaveCount(1);
  return page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);
}

test('a single-file checkpoint imports, verifies, is built on first use, and generates from its cache after a reload', async ({ page, context }) => {
  const foreign = await guardOrigin(context, server.origin);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const file = join(dir, 'tiny-ldm.safetensors');
  // A four-level VAE (×8, as SD's) so the refiner's encode → latents → decode keeps the size.
  await writeLdmCheckpoint(file, tinyLdmConfig('sd1', { vaeChannels: [32, 32, 64, 64] }), 'F16', 3);

  await page.goto(`${server.url}?backend=wasm#/models`);
  await expect(page.getByTestId('view-models')).toBeVisible();
  await page.getByTestId('import-files').setInputFiles(file);
  const scanned = page.getByTestId('scan-model');
  await expect(scanned).toHaveCount(1);
  await expect(scanned).toContainText(/Stable Diffusion 1\.x single-file checkpoint/);
  await expect(scanned).toContainText(/built from it on first use/);
  await page.getByTestId('import-selected').click();

  const row = page.getByTestId('model-row').filter({ hasText: 'tiny-ldm' });
  await expect(row.getByTestId('model-status')).toContainText(/verified/i, { timeout: 120_000 });
  await expect(row.getByTestId('model-type')).toHaveText('Checkpoint');
  await expect(row.getByTestId('model-family')).toContainText('Stable Diffusion 1.x');
  await row.getByTestId('model-components').locator('summary').click();
  await expect(row.getByTestId('component')).toHaveCount(5);
  await expect(row.getByTestId('component-built')).toHaveCount(4);
  await expect(row.getByTestId('component-built').first()).toContainText(/built from the checkpoint in/);
  // The probe built the four graphs, and they were kept.
  expect((await graphRows(page)).map((r) => `${r.component}/${r.compute}`)).toEqual([
    'text_encoder/float32',
    'unet/float32',
    'vae_decoder/float32',
    'vae_encoder/float32',
  ]);

  // With the cache emptied, the first generation builds again and says so.
  await graphRows(page, 'clear');
  const building = await generate(page);
  expect(building).toContain('Building the UNet from the checkpoint…');
  const cached = await graphRows(page);
  expect(cached).toHaveLength(4);

  // After a reload, generating reads every graph from the cache: nothing is built or rewritten.
  await page.reload();
  const again = await generate(page);
  expect(again.filter((t) => /Building/.test(t))).toEqual([]);
  expect(await graphRows(page)).toEqual(cached);

  // Enhance says so too: a refine with the cache emptied (and a new worker, which has not loaded
  // the model yet) shows the build in its progress line.
  await graphRows(page, 'clear');
  await page.reload();
  await page.getByTestId('nav-enhance').click();
  await page.getByTestId('enhance-input').setInputFiles({ name: 'flat.png', mimeType: 'image/png', buffer: Buffer.from(encodePng(flatImage(64, 64))) });
  await page.getByTestId('enhance-refine').check();
  await expect(page.getByTestId('refine-model')).toHaveValue('tiny-ldm');
  await page.getByTestId('refine-steps').fill('4');
  await page.getByTestId('refine-also-upscale').uncheck();
  await page.evaluate(() => {
    const w = window as unknown as { __enhance: string[] };
    w.__enhance = [];
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid="progress"] .progress-text')?.textContent;
      if (text && w.__enhance[w.__enhance.length - 1] !== text) w.__enhance.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  expect(await page.evaluate(() => (window as unknown as { __enhance: string[] }).__enhance)).toContain('Building the UNet from the checkpoint…');
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

test('in Chromium the checkpoint and its converted folder give the same pixels (float32)', async ({ page }) => {
  test.setTimeout(240_000);
  // SD 1.x style: a tiny SD 2.x text encoder (width 32) would take SD 1.x's pad token in a folder
  // (the folder loader decides by width) but SD 2.x's from the checkpoint's key names.
  const file = join(dir, 'tiny-f32.safetensors');
  await writeLdmCheckpoint(file, tinyLdmConfig('sd1'), 'F32', 5);
  const folder = join(dir, 'tiny-f32-onnx');
  await runConvertCheckpoint([file, '--out', folder], () => undefined);

  await page.goto(`${server.url}?backend=wasm#/models`);
  await page.getByTestId('import-files').setInputFiles(file);
  await expect(page.getByTestId('scan-model')).toHaveCount(1);
  await page.getByTestId('import-selected').click();
  await expect(page.getByTestId('model-row').filter({ hasText: 'tiny-f32' }).first().getByTestId('model-status')).toContainText(/verified/i, { timeout: 120_000 });
  await importModelFolder(page, folder, 'tiny-f32-onnx');

  /** Generates with `model` at a fixed seed; returns the downloaded PNG's pixels. */
  const pixels = async (model: string) => {
    await page.getByTestId('nav-generate').click();
    await page.getByTestId('model-select').selectOption(model);
    await page.getByTestId('prompt').fill('a red fox');
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('seed').fill('1234');
    await page.getByTestId('width').fill('64');
    await page.getByTestId('height').fill('64');
    await page.getByTestId('generate').click();
    await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').first().click()]);
    return decodePng(new Uint8Array(readFileSync((await download.path())!)));
  };
  const fromFile = await pixels('tiny-f32');
  const fromFolder = await pixels('tiny-f32-onnx');
  expect([fromFile.width, fromFile.height]).toEqual([fromFolder.width, fromFolder.height]);
  expect(Buffer.from(fromFile.data).equals(Buffer.from(fromFolder.data))).toBe(true);

  // Its weights as float16 copies, chosen in the Models view: the choice is kept, and the next
  // generation loads the model again, converting its weights (the progress line says so).
  await page.getByTestId('nav-models').click();
  const row = page.getByTestId('model-row').filter({ hasText: 'tiny-f32.safetensors' });
  await expect(row.getByTestId('checkpoint-weights')).toHaveValue('auto');
  await row.getByTestId('checkpoint-weights').selectOption('float16');
  // The worker stores the choice a moment after the pick: a reload shows it once it has.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('model-row').filter({ hasText: 'tiny-f32.safetensors' }).getByTestId('checkpoint-weights')).toHaveValue('float16', { timeout: 3000 });
  }).toPass({ timeout: 60_000 });
  // An ONNX folder's weights are what its files hold: nothing to choose there.
  await expect(page.getByTestId('model-row').filter({ hasText: 'tiny-f32-onnx' }).getByTestId('checkpoint-weights')).toHaveCount(0);
  await page.evaluate(() => {
    const w = window as unknown as { __statuses: string[] };
    w.__statuses = [];
    new MutationObserver(() => {
      const text = document.querySelector('[data-testid="progress"] .progress-text')?.textContent;
      if (text && w.__statuses[w.__statuses.length - 1] !== text) w.__statuses.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const fromHalf = await pixels('tiny-f32');
  expect([fromHalf.width, fromHalf.height]).toEqual([fromFile.width, fromFile.height]);
  expect(await page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses)).toContain("Converting the UNet's weights to float16…");
});
