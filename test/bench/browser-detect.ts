/**
 * `npm run bench -- detect` (the browser part): detection per image in headless Chromium (WASM),
 * through the built app's own studio worker and its `detect` call (Enhance's Find). The app is
 * built into a temporary folder (so a dist/ in use is not touched) and served with its
 * cross-origin-isolation headers; the page is a same-origin document that starts no app of its
 * own, and talks to the worker with comlink's message format. Figures, not a test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs } from '../e2e/playwright.config';
import { startAppServer } from '../e2e/server';

const IMAGES = ['astronaut.png', 'hands.png', 'chelsea.png'];
const RUNS = 5;

export interface BrowserDetectRow {
  image: string;
  size: string;
  found: number;
  detectors: string;
  /** The first call of all (detector sessions created) for the first image, else the image's first call. */
  firstMs: number;
  /** Medians over RUNS rounds after every image's first call: the page's wall time of the call, and the worker's `ms` (detection, not decoding). */
  wallMs: number;
  detectMs: number;
}

export interface BrowserDetectFigures {
  threads: number;
  crossOriginIsolated: boolean;
  rows: BrowserDetectRow[];
}

export async function benchBrowserDetect(): Promise<BrowserDetectFigures> {
  const outDir = mkdtempSync(join(tmpdir(), 'media-lab-detect-dist-'));
  let server: Awaited<ReturnType<typeof startAppServer>> | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    console.log('building the app (vite build, into a temporary folder)…');
    execFileSync('npx', ['vite', 'build', '--logLevel', 'error', '--outDir', outDir, '--emptyOutDir'], { stdio: 'inherit' });
    const workerFile = readdirSync(join(outDir, 'assets')).find((f) => /^studio\.worker.*\.js$/.test(f));
    if (!workerFile) throw new Error(`no studio.worker chunk in ${outDir}/assets`);
    server = await startAppServer(0, outDir);
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
    const page = await browser.newPage();
    // tsx keeps function names with a `__name` helper that the page does not have.
    await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await page.goto(`${server.url}manifest.webmanifest`);
    const images = IMAGES.map((name) => ({ name, base64: readFileSync(new URL(`../fixtures/images/${name}`, import.meta.url)).toString('base64') }));
    return await page.evaluate(
      async ({ workerUrl, images, runs }) => {
        const worker = new Worker(workerUrl, { type: 'module', name: 'bench-studio' });
        const pending = new Map<string, (data: { type: string; name?: string; value: unknown }) => void>();
        worker.addEventListener('message', (e: MessageEvent) => {
          const resolve = pending.get(e.data?.id);
          if (resolve) {
            pending.delete(e.data.id);
            resolve(e.data);
          }
        });
        let next = 0;
        // comlink's wire format: APPLY a path with RAW arguments; a throw comes back as HANDLER 'throw'.
        const call = <T>(path: string[], args: unknown[], transfer: Transferable[] = []) =>
          new Promise<T>((resolve, reject) => {
            const id = `bench-${++next}`;
            pending.set(id, (data) => {
              if (data.type === 'HANDLER' && data.name === 'throw') {
                const thrown = data.value as { isError: boolean; value: { message?: string } };
                reject(new Error(thrown.isError ? thrown.value.message : String(thrown.value)));
              } else resolve(data.value as T);
            });
            worker.postMessage({ id, type: 'APPLY', path, argumentList: args.map((value) => ({ type: 'RAW', value })) }, transfer);
          });
        const caps = await call<{ threads: number }>(['init'], [{ backend: 'wasm', source: 'url' }]);
        type Outcome = { width: number; height: number; regions: unknown[]; detectors: string[]; ms: number };
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const once = async (name: string, bytes: Uint8Array) => {
          const copy = bytes.slice().buffer;
          const started = performance.now();
          const outcome = await call<Outcome>(['detect'], [{ name, type: 'image/png', bytes: copy }, { targets: ['face', 'hand'], confidence: 0.3 }], [copy]);
          return { outcome, wall: performance.now() - started };
        };
        const decoded = images.map(({ name, base64 }) => ({ name, bytes: Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)) }));
        // Each image's first call, then RUNS rounds over all of them (WASM code tiers up over the first calls).
        const firsts: Array<{ outcome: Outcome; wall: number }> = [];
        for (const { name, bytes } of decoded) firsts.push(await once(name, bytes));
        const walls: number[][] = decoded.map(() => []);
        const ms: number[][] = decoded.map(() => []);
        for (let i = 0; i < runs; i++) {
          for (let k = 0; k < decoded.length; k++) {
            const r = await once(decoded[k].name, decoded[k].bytes);
            walls[k].push(r.wall);
            ms[k].push(r.outcome.ms);
          }
        }
        const rows = decoded.map(({ name }, k) => ({
          image: name,
          size: `${firsts[k].outcome.width}×${firsts[k].outcome.height}`,
          found: firsts[k].outcome.regions.length,
          detectors: firsts[k].outcome.detectors.join(' + '),
          firstMs: firsts[k].wall,
          wallMs: median(walls[k]),
          detectMs: median(ms[k]),
        }));
        worker.terminate();
        return { threads: caps.threads, crossOriginIsolated: self.crossOriginIsolated, rows };
      },
      { workerUrl: `${server.url}assets/${workerFile}`, images, runs: RUNS },
    );
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(outDir, { recursive: true, force: true });
  }
}
