/**
 * Issue 13, defect 5: right after the page loads, Generate must not say "No image model is
 * registered" while the model list is still on its way (an empty list read as "none"). Messages to
 * the studio worker are held back for a few seconds so the click lands while the list is loading.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
let context: BrowserContext;
let page: Page;
let foreign: string[];
const errors: string[] = [];

test.beforeAll(async ({ browser }) => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-loading-'));
  context = await browser.newContext();
  foreign = await guardOrigin(context, server.origin);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=wasm#/models`);
  await importModelFolder(page, writePresetFolder(dir, 'l-tiny', 'sd15-fp32-dynamic'), 'l-tiny');
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

test('Generate clicked while the model list is loading waits for it, then runs', async () => {
  // A slow worker start (as when onnxruntime's wasm is still compiling): messages to the
  // studio worker are held for its first 4 s, in order.
  await page.addInitScript(() => {
    const Real = window.Worker;
    window.Worker = class extends Real {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        if (!String(url).includes('studio.worker')) return;
        const post = this.postMessage.bind(this) as (...args: unknown[]) => void;
        const held: unknown[][] = [];
        let open = false;
        setTimeout(() => {
          open = true;
          for (const args of held) post(...args);
        }, 4000);
        this.postMessage = (...args: unknown[]) => (open ? post(...args) : void held.push(args));
      }
    } as typeof Worker;
  });
  // A fresh load (only the hash would change otherwise, keeping the list already loaded).
  await page.goto('about:blank');
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('view-generate')).toBeVisible();
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  // Still loading: the model picker says so.
  await expect(page.getByTestId('model-select')).toContainText('Loading models');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('no-model')).toHaveCount(0);
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  await expect(page.getByTestId('error')).toHaveCount(0);
  await expect(page.getByTestId('model-select')).toHaveValue('l-tiny');
  await expect(page.getByTestId('result-image')).toHaveCount(1);
});
