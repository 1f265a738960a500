/**
 * `npm run bench -- browser` (or `npx tsx test/bench/browser-generate.ts`): a generation through
 * the built app in headless Chromium (WASM), as a user runs it from the Generate view, measuring
 * what only a page shows: the main thread's long tasks (> 50 ms) and its longest frame gap while
 * the worker generates, and the time from the click to the first live preview and to the result.
 * Figures, not a test. Builds the app first.
 *
 * The checkpoint is the tiny fixture with the bench UNet (test/bench/bench-unet.ts: 64 channels,
 * 2 residual blocks) so a step costs tens of milliseconds as a real one costs seconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { chromiumArgs } from '../e2e/playwright.config';
import { startAppServer } from '../e2e/server';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';
import { BENCH_UNET, T2I_NEGATIVE, T2I_PRESET, T2I_PROMPT, T2I_STEPS } from './text-to-image';
import { buildBenchUnet } from './bench-unet';

const SIZE = 512;

interface PageFigures {
  firstPreviewMs: number | null;
  doneMs: number;
  longTasks: number[];
  maxFrameGapMs: number;
  frames: number;
}

/** Starts observers in the page, clicks Generate, waits for the result; times are from the click. */
async function generateOnce(page: Page): Promise<PageFigures> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>;
    const longTasks: number[] = [];
    w.__bench = { longTasks, start: 0, firstPreview: null as number | null, frames: 0, maxGap: 0 };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longTasks.push(Math.round(e.duration));
    }).observe({ type: 'longtask' });
  });
  await page.getByTestId('generate').click();
  await page.evaluate(() => {
    const b = (window as unknown as { __bench: { start: number; firstPreview: number | null; frames: number; maxGap: number } }).__bench;
    b.start = performance.now();
    let last = b.start;
    const frame = (now: number) => {
      b.maxGap = Math.max(b.maxGap, now - last);
      last = now;
      b.frames++;
      if (b.firstPreview === null && document.querySelector('[data-testid="preview"]')) b.firstPreview = now - b.start;
      (window as unknown as { __benchRaf: number }).__benchRaf = requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  await page.getByTestId('status').filter({ hasText: /done/i }).waitFor({ timeout: 600_000 });
  return page.evaluate(() => {
    const w = window as unknown as { __bench: { start: number; firstPreview: number | null; frames: number; maxGap: number; longTasks: number[] }; __benchRaf: number };
    cancelAnimationFrame(w.__benchRaf);
    const b = w.__bench;
    return { firstPreviewMs: b.firstPreview, doneMs: performance.now() - b.start, longTasks: b.longTasks, maxFrameGapMs: b.maxGap, frames: b.frames };
  });
}

export async function benchBrowserGenerate(): Promise<void> {
  console.log('building the app (vite build)…');
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'media-lab-browser-bench-'));
  const files = presetFiles(T2I_PRESET);
  files.delete('unet/model.onnx_data');
  files.set('unet/model.onnx', buildBenchUnet({ ...BENCH_UNET, hidden: 768 }));
  for (const [path, bytes] of files) {
    const full = join(dir, 'bench-sd', path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, bytes);
  }
  const server = await startAppServer();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  try {
    const page = await browser.newPage();
    // tsx keeps function names with a `__name` helper that the page does not have.
    await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await page.goto(`${server.url}?backend=wasm#/models`);
    await page.getByTestId('import-folder-input').setInputFiles(join(dir, 'bench-sd'));
    await page.getByTestId('import-selected').click();
    await page.getByTestId('model-row').filter({ hasText: 'bench-sd' }).getByTestId('model-status').filter({ hasText: /verified/i }).waitFor({ timeout: 300_000 });
    await page.getByTestId('nav-generate').click();
    await page.getByTestId('model-select').waitFor();
    await page.waitForFunction(() => (document.querySelector('[data-testid="model-select"]') as HTMLSelectElement | null)?.value === 'bench-sd');
    await page.getByTestId('prompt').fill(T2I_PROMPT);
    await page.getByTestId('negative-prompt').fill(T2I_NEGATIVE);
    await page.getByTestId('sampler-select').selectOption('euler');
    await page.getByTestId('steps').fill(String(T2I_STEPS));
    await page.getByTestId('cfg').fill('7.5');
    await page.getByTestId('width').fill(String(SIZE));
    await page.getByTestId('height').fill(String(SIZE));

    console.log(`== browser: Generate view, WASM, bench UNet, ${SIZE}×${SIZE}, ${T2I_STEPS} euler steps, CFG 7.5 (load ${loadavg()[0].toFixed(1)}, ${cpus().length} cores) ==`);
    const runs: Array<PageFigures & { label: string }> = [];
    runs.push({ label: 'first (sessions created)', ...(await generateOnce(page)) });
    for (let i = 0; i < 2; i++) runs.push({ label: `warm ${i + 1}`, ...(await generateOnce(page)) });
    for (const r of runs) {
      const long = r.longTasks.length ? `${r.longTasks.length} (max ${Math.max(...r.longTasks)} ms, total ${r.longTasks.reduce((a, b) => a + b, 0)} ms)` : '0';
      console.log(
        `  ${r.label.padEnd(26)} first preview ${r.firstPreviewMs === null ? 'none' : `${Math.round(r.firstPreviewMs)} ms`}, ` +
          `result ${Math.round(r.doneMs)} ms; main-thread long tasks ${long}; longest frame gap ${Math.round(r.maxFrameGapMs)} ms over ${r.frames} frames`,
      );
    }
    console.log('  (previews come every 5 steps; the first waits for 5 UNet steps, plus model loading on the first run)');
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBrowserGenerate();
