import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';
import * as st from '../fixtures/safetensors-builder';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-models-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a preset's files under dir/name and returns their paths (a folder the user picks). */
function writeFolder(name: string): string[] {
  const paths: string[] = [];
  for (const [path, bytes] of presetFiles('sd15-fp32-dynamic')) {
    const full = join(dir, name, path);
    rmSync(full, { force: true });
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, bytes);
    paths.push(full);
  }
  return paths;
}

/** Counts rows in the app's IndexedDB stores from the page. */
async function countStore(page: Page, store: string): Promise<number> {
  return page.evaluate(
    (store) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('media-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains(store)) return resolve(0);
          const req = db.transaction(store).objectStore(store).count();
          req.onsuccess = () => {
            db.close();
            resolve(req.result);
          };
        };
      }),
    store,
  );
}

async function openModels(page: Page) {
  await page.goto(`${server.url}?backend=wasm#/models`);
  await expect(page.getByTestId('view-models')).toBeVisible();
}

test('imports a tiny diffusers folder through the folder input, verifies it, keeps it across reloads', async ({ page, context }) => {
  const foreign = await guardOrigin(context, server.origin);
  await openModels(page);
  await expect(page.getByTestId('checkpoint-guidance')).toBeVisible();
  // Bundled upscalers (4) and detectors (2) are listed read-only.
  await expect(page.getByTestId('model-row')).toHaveCount(6);
  const paths = writeFolder('tiny-sd15');
  await page.getByTestId('import-folder-input').setInputFiles(join(dir, 'tiny-sd15'));
  void paths;
  const scanned = page.getByTestId('scan-model');
  await expect(scanned).toHaveCount(1);
  await expect(scanned.first()).toContainText(/Stable Diffusion 1\.x/);
  await page.getByTestId('import-selected').click();
  const row = page.getByTestId('model-row').filter({ hasText: 'tiny-sd15' });
  await expect(row.getByTestId('model-status')).toContainText(/verified/i, { timeout: 60_000 });
  await expect(page.getByTestId('checkpoint-guidance')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('model-row').filter({ hasText: 'tiny-sd15' }).getByTestId('model-status')).toContainText(/verified/i);
  expect(foreign).toEqual([]);
});

test('bad inputs through the UI: pickles refused, an SDXL single-file checkpoint explained, random bytes, a broken safetensors', async ({ page }) => {
  await openModels(page);
  const random = new Uint8Array(5000).map((_, i) => (i * 7919) % 251);
  await page.getByTestId('import-files').setInputFiles([
    { name: 'v1-5-pruned.ckpt', mimeType: 'application/octet-stream', buffer: Buffer.alloc(128) },
    // SD 1.x/2.x single files are built (checkpoint-import.spec.ts); SDXL is not, and the message says what to do.
    { name: 'sdxl.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(st.sdxlCheckpoint()) },
    { name: 'upscaler.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(random) },
    { name: 'overlap.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(st.broken.overlap()) },
  ]);
  await expect(page.getByTestId('scan-refused')).toContainText(/pickle files .* can run arbitrary code.*convert/);
  const problems = page.getByTestId('scan-problem');
  await expect(problems).toHaveCount(3);
  await expect(page.getByTestId('scan-results')).toContainText(/an SDXL checkpoint .*only SD 1\.x and SD 2\.x checkpoints can be built here/);
  await expect(page.getByTestId('scan-results')).toContainText(/export it to ONNX/);
  await expect(page.getByTestId('scan-results')).toContainText(/not an ONNX model/);
  await expect(page.getByTestId('scan-results')).toContainText(/overlap/);
  // Nothing importable: the registry is unchanged.
  await expect(page.getByTestId('model-row')).toHaveCount(6);
});

test('more bad inputs through the UI: truncated ONNX, missing external data, a folder of JPEGs', async ({ page }) => {
  await openModels(page);
  const esrgan = readFileSync(fileURLToPath(new URL('../../public/models/esrgan-slim-x2.onnx', import.meta.url)));
  await page.getByTestId('import-files').setInputFiles([{ name: 'cut.onnx', mimeType: 'application/octet-stream', buffer: esrgan.subarray(0, 200_000) }]);
  await expect(page.getByTestId('scan-problem')).toContainText(/truncated|ends in the middle/);

  // A diffusers folder whose UNet weights file was left behind.
  writeFolder('no-data');
  rmSync(join(dir, 'no-data', 'unet', 'model.onnx_data'));
  await page.getByTestId('import-folder-input').setInputFiles(join(dir, 'no-data'));
  await expect(page.getByTestId('scan-problem')).toContainText(/model\.onnx_data.*not among the picked files/);

  // A folder of photos: nothing to import, said plainly.
  mkdirSync(join(dir, 'photos'), { recursive: true });
  writeFileSync(join(dir, 'photos', 'a.jpg'), Buffer.alloc(100));
  writeFileSync(join(dir, 'photos', 'b.png'), Buffer.alloc(100));
  await page.getByTestId('import-folder-input').setInputFiles(join(dir, 'photos'));
  await expect(page.getByTestId('view-models')).toContainText(/no model/i);
  await expect(page.getByTestId('model-row')).toHaveCount(6);
});

test('closing the page in the middle of a big import leaves no half model and no orphan chunks', async ({ browser }) => {
  // A 300 MB LoRA-shaped safetensors made on the fly: a tiny header, then zeros.
  const path = join(dir, 'big-lora.safetensors');
  const elements = 75_000_000;
  const header = JSON.stringify({
    'lora_unet_x.lora_down.weight': { dtype: 'F32', shape: [4, elements / 8], data_offsets: [0, elements * 2] },
    'lora_unet_x.lora_up.weight': { dtype: 'F32', shape: [elements / 8, 4], data_offsets: [elements * 2, elements * 4] },
  });
  void st;
  const headerBytes = Buffer.from(header);
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  writeSync(fd, len);
  writeSync(fd, headerBytes);
  const zeros = Buffer.alloc(16 * 2 ** 20);
  for (let left = elements * 4; left > 0; left -= zeros.length) writeSync(fd, zeros, 0, Math.min(left, zeros.length));
  closeSync(fd);

  const context = await browser.newContext();
  const page = await context.newPage();
  await openModels(page);
  await page.getByTestId('import-files').setInputFiles(path);
  await expect(page.getByTestId('scan-model')).toHaveCount(1);
  await page.getByTestId('import-selected').click();
  const progress = page.getByTestId('import-progress');
  await expect(progress).toBeVisible();
  // Wait until some chunks are stored, then close the tab mid-import.
  await expect.poll(() => countStore(page, 'model_chunks'), { timeout: 60_000 }).toBeGreaterThan(0);
  await page.close();

  const again = await context.newPage();
  await openModels(again);
  await expect(again.getByTestId('model-row')).toHaveCount(6);
  await expect.poll(() => countStore(again, 'model_chunks'), { timeout: 30_000 }).toBe(0);
  expect(await countStore(again, 'models')).toBe(0);
  await context.close();
  rmSync(path, { force: true });
});
