/**
 * The job queue in the built app (WASM, a tiny random-weight checkpoint): three jobs queued and
 * the running one cancelled; a reload in the middle of a job (that job is marked interrupted, the
 * one waiting behind it still runs); and two tabs, where one runs the jobs and the other watches.
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

/**
 * A long job: enough steps at a size where a step of the tiny model takes tens of ms, so it is
 * still running when the test acts on it (every long job is cancelled or cut short).
 */
const LONG = 900;
const LONG_SIZE = 768;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-queue-'));
  context = await browser.newContext();
  foreign = await guardOrigin(context, server.origin);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=wasm#/models`);
  await importModelFolder(page, writePresetFolder(dir, 'q-tiny', 'sd15-fp32-dynamic'), 'q-tiny');
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

async function openGenerate(p: Page) {
  await p.getByTestId('nav-generate').click();
  await expect(p.getByTestId('view-generate')).toBeVisible();
}

/** Queues one job with `prompt` (which labels its queue row) and `steps`: a long one is 768², else 64². */
async function queueJob(p: Page, prompt: string, steps: number) {
  const size = String(steps === LONG ? LONG_SIZE : 64);
  // A freshly opened view sets the model's defaults once its model list arrives: wait for that.
  await expect(p.getByTestId('model-select')).toHaveValue('q-tiny');
  await p.getByTestId('prompt').fill(prompt);
  await p.getByTestId('steps').fill(String(steps));
  await p.getByTestId('width').fill(size);
  await p.getByTestId('height').fill(size);
  await expect(p.getByTestId('steps')).toHaveValue(String(steps));
  await expect(p.getByTestId('width')).toHaveValue(size);
  const before = await p.getByTestId('queue-row').filter({ hasText: prompt }).count();
  await p.getByTestId('generate').click();
  await expect(p.getByTestId('queue-row').filter({ hasText: prompt })).toHaveCount(before + 1);
}

const rowOf = (p: Page, prompt: string): Locator => p.getByTestId('queue-row').filter({ hasText: prompt }).first();

test('three jobs queue in order; cancelling the running one lets the other two finish', async () => {
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('view-generate')).toBeVisible();
  await queueJob(page, 'first long job', LONG);
  await queueJob(page, 'second short job', 3);
  await queueJob(page, 'third short job', 3);

  await expect(rowOf(page, 'first long job')).toHaveAttribute('data-status', 'running', { timeout: 60_000 });
  await expect(rowOf(page, 'second short job')).toHaveAttribute('data-status', 'queued');
  await expect(rowOf(page, 'third short job')).toHaveAttribute('data-status', 'queued');
  // It is really under way: its row counts steps.
  await expect(rowOf(page, 'first long job')).toContainText(/step \d+\/900/, { timeout: 60_000 });

  await rowOf(page, 'first long job').getByTestId('queue-cancel').click();
  await expect(rowOf(page, 'first long job')).toHaveAttribute('data-status', 'cancelled', { timeout: 30_000 });
  await expect(rowOf(page, 'second short job')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await expect(rowOf(page, 'third short job')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
});

test('a reload in the middle of a job: that job is marked interrupted, the one waiting still runs', async () => {
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await queueJob(page, 'cut short by a reload', LONG);
  await queueJob(page, 'waits through the reload', 3);
  await expect(rowOf(page, 'cut short by a reload')).toContainText(/step \d+\/900/, { timeout: 60_000 });
  await expect(rowOf(page, 'waits through the reload')).toHaveAttribute('data-status', 'queued');

  await page.reload();
  await openGenerate(page);
  await expect(rowOf(page, 'cut short by a reload')).toHaveAttribute('data-status', 'interrupted', { timeout: 60_000 });
  await expect(rowOf(page, 'waits through the reload')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  // Its image is in the gallery.
  await page.getByTestId('nav-gallery').click();
  await expect(page.getByTestId('gallery-item').first()).toBeVisible();
});

test('two tabs: the first runs the jobs, the second submits, watches and cancels; closing the first hands over', async () => {
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('view-generate')).toBeVisible();
  const second = await context.newPage();
  second.on('pageerror', (e) => errors.push(e.message));
  await second.goto(`${server.url}?backend=wasm#/generate`);
  await expect(second.getByTestId('view-generate')).toBeVisible();

  // Submitted in the second tab, run by the first; both see it end.
  await queueJob(second, 'sent from the second tab', 3);
  await expect(rowOf(second, 'sent from the second tab')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  await expect(rowOf(page, 'sent from the second tab')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });

  // A long job from the second tab, watched there with live steps, cancelled from there.
  await queueJob(second, 'long one from the second tab', LONG);
  await expect(rowOf(second, 'long one from the second tab')).toContainText(/step \d+\/900/, { timeout: 60_000 });
  await rowOf(second, 'long one from the second tab').getByTestId('queue-cancel').click();
  await expect(rowOf(page, 'long one from the second tab')).toHaveAttribute('data-status', 'cancelled', { timeout: 30_000 });

  // The first tab closes mid-job: the second takes over, marks that job interrupted, runs the next.
  await queueJob(page, 'running when its tab closed', LONG);
  await queueJob(second, 'queued behind it', 3);
  await expect(rowOf(second, 'running when its tab closed')).toContainText(/step \d+\/900/, { timeout: 60_000 });
  await page.close();
  await expect(rowOf(second, 'running when its tab closed')).toHaveAttribute('data-status', 'interrupted', { timeout: 60_000 });
  await expect(rowOf(second, 'queued behind it')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
  page = second;
});
