/**
 * Issue 13, defect 1: the Generate result panel follows the job that runs, not the last one
 * submitted, and keeps every finished result of the session until it is dismissed. Three jobs
 * queued (a long one running, a batch of two and one more behind it): the panel shows the running
 * job's live preview, step and ETA; cancelling the last queued job does not take it to
 * "Cancelled"; the finished batch is shown, and stays shown after the next job finishes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
let context: BrowserContext;
let page: Page;
let foreign: string[];
const errors: string[] = [];

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-results-'));
  context = await browser.newContext();
  foreign = await guardOrigin(context, server.origin);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=wasm#/models`);
  await importModelFolder(page, writePresetFolder(dir, 'r-tiny', 'sd15-fp32-dynamic'), 'r-tiny');
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

/** Queues one job; `prompt` labels its queue row. */
async function queueJob(p: Page, prompt: string, opts: { steps: number; size: number; batch?: number }) {
  await expect(p.getByTestId('model-select')).toHaveValue('r-tiny');
  await p.getByTestId('prompt').fill(prompt);
  await p.getByTestId('steps').fill(String(opts.steps));
  await p.getByTestId('width').fill(String(opts.size));
  await p.getByTestId('height').fill(String(opts.size));
  await p.getByTestId('batch-size').fill(String(opts.batch ?? 1));
  await expect(p.getByTestId('steps')).toHaveValue(String(opts.steps));
  const before = await p.getByTestId('queue-row').filter({ hasText: prompt }).count();
  await p.getByTestId('generate').click();
  await expect(p.getByTestId('queue-row').filter({ hasText: prompt })).toHaveCount(before + 1);
}

const rowOf = (p: Page, prompt: string): Locator => p.getByTestId('queue-row').filter({ hasText: prompt }).first();

test('the panel shows the running job while others wait, and every finished result until dismissed', async () => {
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('view-generate')).toBeVisible();
  await queueJob(page, 'the long running job', { steps: 900, size: 1024 });
  await queueJob(page, 'a batch of two', { steps: 3, size: 64, batch: 2 });
  await queueJob(page, 'the last queued job', { steps: 3, size: 64 });
  await expect(rowOf(page, 'the long running job')).toContainText(/step \d+\/900/, { timeout: 60_000 });
  await expect(rowOf(page, 'the last queued job')).toHaveAttribute('data-status', 'queued');

  // The panel follows the running job, not the last one submitted: its step, ETA and preview.
  const panel = page.getByRole('region', { name: 'Result', exact: true });
  await expect(panel.getByTestId('status')).toHaveText('Running');
  await expect(panel.getByTestId('progress')).toHaveAttribute('aria-valuetext', /step \d+ \/ 900 .*ETA/, { timeout: 60_000 });
  await expect(panel.getByTestId('preview')).toBeVisible({ timeout: 60_000 });

  // Cancelling the last queued job leaves the panel on the running one.
  await rowOf(page, 'the last queued job').getByTestId('queue-cancel').click();
  await expect(rowOf(page, 'the last queued job')).toHaveAttribute('data-status', 'cancelled');
  await expect(panel.getByTestId('status')).toHaveText('Running');
  await expect(panel.getByTestId('progress')).toHaveAttribute('aria-valuetext', /step \d+ \/ 900/);

  // The running job cancelled: the batch runs next, and its two images are shown.
  await panel.getByTestId('cancel').click();
  await expect(rowOf(page, 'the long running job')).toHaveAttribute('data-status', 'cancelled', { timeout: 30_000 });
  await expect(rowOf(page, 'a batch of two')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await expect(panel.getByTestId('status')).toHaveText(/done/i);
  await expect(panel.getByTestId('result-image')).toHaveCount(2);

  // The next job's result comes on top; the batch stays on the view until it is dismissed.
  await queueJob(page, 'one more image', { steps: 3, size: 64 });
  await expect(rowOf(page, 'one more image')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await expect(panel.getByTestId('status')).toHaveText(/done/i);
  await expect(panel.getByTestId('result-image')).toHaveCount(1);
  const earlier = page.getByTestId('session-result');
  await expect(earlier).toHaveCount(1);
  await expect(earlier).toContainText('a batch of two');
  await expect(earlier.getByTestId('session-image')).toHaveCount(2);
  await expect(earlier.locator('img')).toHaveCount(2);
  await earlier.getByRole('button', { name: /dismiss/i }).click();
  await expect(page.getByTestId('session-result')).toHaveCount(0);
  // The latest result is dismissed too: the panel goes back to its empty state.
  await panel.getByTestId('dismiss-result').click();
  await expect(panel.getByTestId('status')).toHaveCount(0);
  await expect(panel.getByTestId('result-image')).toHaveCount(0);
});
