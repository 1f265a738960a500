/**
 * Issue 13, defect 3: the studio on a phone (390×844). The Models table must not widen the page
 * (no horizontal scrolling, the Status column on screen); on Generate the Generate button stays
 * reachable while the form is scrolled, and the result is brought into view.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

const PHONE = { width: 390, height: 844 };

let server: AppServer;
let dir: string;
let context: BrowserContext;
let page: Page;
let foreign: string[];
const errors: string[] = [];


test.beforeAll(async ({ browser }) => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-phone-'));
  context = await browser.newContext({ viewport: PHONE, hasTouch: true });
  foreign = await guardOrigin(context, server.origin);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}?backend=wasm#/models`);
  await importModelFolder(page, writePresetFolder(dir, 'phone-tiny-checkpoint', 'sd15-fp32-dynamic'), 'phone-tiny-checkpoint');
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

const overflow = (p: Page) => p.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));

/** The element lies within the viewport's width (not cut at the right edge). */
async function expectWithinWidth(locator: Locator) {
  const box = await locator.boundingBox();
  expect(box).not.toBeNull();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width + 0.5);
}

test('Models at 390 px: no horizontal overflow, every row readable with its status', async () => {
  await page.getByTestId('nav-models').click();
  await expect(page.getByTestId('model-row').first()).toBeVisible();
  const { scrollWidth, innerWidth } = await overflow(page);
  expect(scrollWidth, `page is ${scrollWidth} px wide at ${innerWidth} px`).toBeLessThanOrEqual(innerWidth);
  const row = page.getByTestId('model-row').filter({ hasText: 'phone-tiny-checkpoint' });
  await row.getByTestId('model-status').scrollIntoViewIfNeeded();
  await expect(row.getByTestId('model-status')).toBeInViewport();
  await expectWithinWidth(row.getByTestId('model-status'));
  await expectWithinWidth(row.getByTestId('model-remove'));
});

test('Generate at 390 px: no overflow, the button reachable while scrolled, the result brought into view', async () => {
  await page.getByTestId('nav-generate').click();
  await expect(page.getByTestId('model-select')).toHaveValue('phone-tiny-checkpoint');
  let { scrollWidth, innerWidth } = await overflow(page);
  expect(scrollWidth, `page is ${scrollWidth} px wide at ${innerWidth} px`).toBeLessThanOrEqual(innerWidth);
  await page.getByTestId('prompt').fill('a small boat on a calm sea');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');

  // Scrolled a little (200 px, near the prompt): the form's end (where the button sits) is more than a
  // screen further down, yet the Generate button is on screen.
  await page.evaluate(() => window.scrollTo(0, 200));
  const formBottom = await page.locator('form.generate-form').evaluate((el) => el.getBoundingClientRect().bottom);
  expect(formBottom).toBeGreaterThan(PHONE.height * 1.2);
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
  await expect(page.getByTestId('generate')).toBeInViewport({ ratio: 1 });
  // A real tap on it, where it is, without scrolling.
  const box = (await page.getByTestId('generate').boundingBox())!;
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  await expect(page.getByTestId('result-image').first()).toBeInViewport();
  ({ scrollWidth, innerWidth } = await overflow(page));
  expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
});
