/**
 * Offline and installable: the service worker precaches the build, keeps the page and the
 * worker cross-origin isolated when the server is gone, and announces a new deployment.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, expect, test, type Page } from '@playwright/test';
import { decode, encode } from 'fast-png';
import { guardOrigin, startAppServer, type AppServer } from './server';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = join(root, 'dist');
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** Window events dispatched by src/client/pwa.ts. */
const UPDATE_EVENT = 'media-lab:update-available';
const OFFLINE_EVENT = 'media-lab:offline-ready';

/** Records pwa.ts's window events in every document of the page, from its first script on. */
async function recordPwaEvents(page: Page): Promise<void> {
  await page.addInitScript(
    ([updateEvent, offlineEvent]) => {
      const w = window as unknown as { __pwaEvents: string[] };
      w.__pwaEvents = [];
      for (const name of [updateEvent, offlineEvent]) window.addEventListener(name, () => w.__pwaEvents.push(name));
    },
    [UPDATE_EVENT, OFFLINE_EVENT],
  );
}

const pwaEvents = (page: Page) => page.evaluate(() => (window as unknown as { __pwaEvents: string[] }).__pwaEvents);

/** Waits until the service worker controls the page (its precache is then complete). */
async function waitForControl(page: Page): Promise<void> {
  await expect
    .poll(() => page.evaluate(async () => (await navigator.serviceWorker.getRegistration()) !== undefined), {
      message: 'no service worker registered: is registerPwa() (src/client/pwa.ts) called from src/main.tsx?',
      timeout: 30_000,
    })
    .toBe(true);
  const controlled = () =>
    page
      .waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 60_000 })
      .then(() => true)
      .catch(() => false);
  if (await controlled()) return;
  // clientsClaim should make the first visit controlled; a reload is the fallback.
  await page.reload();
  expect(await controlled(), 'the service worker never took control').toBe(true);
}

async function studioWorkerIsolated(page: Page): Promise<boolean> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('studio.worker'))).toBe(true);
  const worker = page.workers().find((w) => w.url().includes('studio.worker'))!;
  return worker.evaluate(() => self.crossOriginIsolated);
}

/** A 64×64 crop of astronaut.png, as PNG bytes. */
function smallPng(): Buffer {
  const image = decode(readFileSync(fixture('images/astronaut.png')));
  const { width, channels } = image;
  const size = 64;
  const data = new Uint8Array(size * size * channels);
  const source = image.data as Uint8Array;
  for (let y = 0; y < size; y++) {
    const from = ((y + 160) * width + 224) * channels;
    data.set(source.subarray(from, from + size * channels), y * size * channels);
  }
  return Buffer.from(encode({ width: size, height: size, data, channels, depth: 8 }));
}

test('is installable, controlled by the service worker and cross-origin isolated', async () => {
  const server = await startAppServer();
  // Chromium refuses installation in incognito contexts (Playwright's default), so this test
  // runs in a persistent profile, with the project's launch options.
  const profile = mkdtempSync(join(tmpdir(), 'media-lab-profile-'));
  const { headless, launchOptions } = test.info().project.use;
  const context = await chromium.launchPersistentContext(profile, { ...launchOptions, headless });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const foreign = await guardOrigin(context, server.origin);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await recordPwaEvents(page);
    await page.goto(`${server.url}?backend=wasm#/enhance`);
    await waitForControl(page);
    await expect.poll(() => pwaEvents(page)).toContain(OFFLINE_EVENT);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

    // The manifest is linked and complete.
    const manifest = await page.evaluate(async () => {
      const link = document.querySelector<HTMLLinkElement>('link[rel="manifest"]');
      if (!link) return null;
      return (await (await fetch(link.href)).json()) as Record<string, unknown>;
    });
    expect(manifest).not.toBeNull();
    expect(manifest).toMatchObject({ name: 'Media Lab', short_name: expect.any(String), display: 'standalone' });
    expect(manifest!.start_url).toBeTruthy();
    const icons = manifest!.icons as Array<{ src: string; sizes: string; type: string; purpose?: string }>;
    expect(icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(['192x192', '512x512']));
    expect(icons.some((i) => i.purpose?.includes('maskable'))).toBe(true);
    for (const icon of icons) {
      const size = await page.evaluate(async (src) => {
        const bitmap = await createImageBitmap(await (await fetch(src)).blob());
        return `${bitmap.width}x${bitmap.height}`;
      }, new URL(icon.src, server.url).href);
      expect(size).toBe(icon.sizes);
    }

    // Chromium's own verdict.
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: Array<{ errorId: string }>;
    };
    expect(installabilityErrors).toEqual([]);
    const appManifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string };
    expect(appManifest.errors).toEqual([]);
    expect(appManifest.url).toBe(`${server.origin}/manifest.webmanifest`);

    expect(await studioWorkerIsolated(page)).toBe(true);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('loads and upscales with the server down, still cross-origin isolated', async ({ page, context }) => {
  const server = await startAppServer();
  const foreign = await guardOrigin(context, server.origin);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${server.url}?backend=wasm#/enhance`);
    await waitForControl(page);
  } finally {
    await server.close();
  }
  // The server is gone: everything below comes from the service worker.
  await expect(page.request.get(server.url, { timeout: 5_000 })).rejects.toThrow();

  const response = await page.reload();
  expect(response?.fromServiceWorker()).toBe(true);
  const headers = response!.headers();
  expect(headers['cross-origin-opener-policy']).toBe('same-origin');
  expect(headers['cross-origin-embedder-policy']).toBe('require-corp');
  await expect(page.getByTestId('nav-enhance')).toBeVisible();
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await expect(page.getByTestId('backend')).toContainText(/WASM/i);
  expect(await studioWorkerIsolated(page)).toBe(true);

  await page.getByTestId('enhance-input').setInputFiles({ name: 'astronaut-64.png', mimeType: 'image/png', buffer: smallPng() });
  await page.getByTestId('upscale-factor').selectOption('2');
  await page.getByTestId('enhance-run').click();
  await expect(page.getByTestId('status')).toContainText(/done/i, { timeout: 120_000 });

  // A deep link (any navigation) falls back to the cached shell.
  const deep = await page.goto(`${server.origin}/some/deep/link?backend=wasm`);
  expect(deep?.fromServiceWorker()).toBe(true);
  await expect(page.getByTestId('nav-enhance')).toBeVisible();

  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

for (const visit of ['first', 'returning'] as const) {
  test(`announces a new deployment and applies it only on request (${visit} visit)`, async ({ page, context }) => {
    // "Version 2": the same build with a changed index.html, and its new revision in sw.js
    // (which makes sw.js itself byte-different, so the browser installs it as an update).
    const v2 = mkdtempSync(join(tmpdir(), 'media-lab-v2-'));
    cpSync(dist, v2, { recursive: true });
    const html = readFileSync(join(v2, 'index.html'), 'utf8').replace('</head>', '<meta name="media-lab-build" content="2" /></head>');
    writeFileSync(join(v2, 'index.html'), html);
    const revision = createHash('md5').update(html).digest('hex');
    const sw = readFileSync(join(v2, 'sw.js'), 'utf8');
    const swV2 = sw.replace(/(url:"index\.html",revision:")[0-9a-f]+"/, `$1${revision}"`);
    expect(swV2).not.toBe(sw);
    writeFileSync(join(v2, 'sw.js'), swV2);

    // Whether the built UI renders the prompt (src/app), or only pwa.ts's API is there to test.
    const assets = join(dist, 'assets');
    const uiHasPrompt = readdirSync(assets)
      .filter((f) => f.endsWith('.js'))
      .some((f) => /data-testid=["']?update-available\b|["']update-available["']/.test(readFileSync(join(assets, f), 'utf8')));

    let server: AppServer = await startAppServer();
    const port = Number(new URL(server.origin).port);
    const foreign = await guardOrigin(context, server.origin);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await recordPwaEvents(page);
    try {
      await page.goto(`${server.url}#/enhance`);
      await waitForControl(page);
      // A returning visit starts controlled; a first one was claimed while running.
      if (visit === 'returning') await page.reload();
      const buildMarker = () => page.locator('meta[name="media-lab-build"]').count();
      expect(await buildMarker()).toBe(0);

      await server.close();
      server = await startAppServer(port, v2);
      await page.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        await registration!.update();
      });

      // Announced, not applied: the page still runs version 1 and the new worker waits.
      await expect.poll(() => pwaEvents(page), { timeout: 60_000 }).toContain(UPDATE_EVENT);
      expect(await page.evaluate(async () => Boolean((await navigator.serviceWorker.getRegistration())?.waiting))).toBe(true);
      expect(await buildMarker()).toBe(0);

      const reloaded = page.waitForEvent('load');
      if (uiHasPrompt) {
        const prompt = page.getByTestId('update-available');
        await expect(prompt).toBeVisible();
        await prompt.getByRole('button').first().click();
      } else {
        // No prompt in the UI yet: do what pwa.ts's applyUpdate() does (reload once the new
        // worker controls the page; ask the waiting worker to skip waiting).
        await page.evaluate(async () => {
          navigator.serviceWorker.addEventListener('controllerchange', () => location.reload());
          (await navigator.serviceWorker.getRegistration())!.waiting!.postMessage({ type: 'SKIP_WAITING' });
        });
      }
      await reloaded;
      await expect.poll(buildMarker).toBe(1);
      await waitForControl(page);
      expect(await page.evaluate(async () => Boolean((await navigator.serviceWorker.getRegistration())?.waiting))).toBe(false);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(errors).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await server.close();
      rmSync(v2, { recursive: true, force: true });
    }
  });
}
