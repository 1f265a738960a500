/**
 * `npx tsx test/bench/import.ts [MB]`: imports a big model file through the built app in headless
 * Chromium and reports throughput (MB/s) and the renderer's peak memory growth while it streams.
 * Figures, not a test. Needs `npx vite build` first.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs } from '../e2e/playwright.config';
import { startAppServer } from '../e2e/server';

const megabytes = Number(process.argv[2] ?? 500);
const dir = mkdtempSync(join(tmpdir(), 'media-lab-import-bench-'));

/** A LoRA-shaped safetensors: a tiny header, then `megabytes` of zeros. */
function bigSafetensors(): string {
  const bytes = megabytes * 1e6 - (megabytes * 1e6) % 32;
  const half = bytes / 2;
  const header = Buffer.from(
    JSON.stringify({
      'lora_unet_x.lora_down.weight': { dtype: 'F32', shape: [4, half / 16], data_offsets: [0, half] },
      'lora_unet_x.lora_up.weight': { dtype: 'F32', shape: [half / 16, 4], data_offsets: [half, bytes] },
    }),
  );
  const path = join(dir, `big-${megabytes}mb.safetensors`);
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, len);
  writeSync(fd, header);
  const zeros = Buffer.alloc(16 * 2 ** 20);
  for (let left = bytes; left > 0; left -= zeros.length) writeSync(fd, zeros, 0, Math.min(left, zeros.length));
  closeSync(fd);
  return path;
}

/** Resident memory (MB) of Chromium's renderer processes (the page and its worker live there). */
function rendererRssMb(): number {
  const out = execFileSync('ps', ['-eo', 'rss,args'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('--type=renderer'))
    .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]) / 1024, 0);
}

/**
 * The studio worker's JS heap (MB) through the DevTools protocol: attach to the worker target
 * and ask Runtime.getHeapUsage (ArrayBuffer backing stores are outside the JS heap).
 */
async function attachWorkerHeapProbe(page: import('playwright-core').Page): Promise<() => Promise<number>> {
  const cdp = await page.context().newCDPSession(page);
  let worker: { sessionId: string } | null = null;
  let nextId = 1;
  const pending = new Map<number, (v: { usedSize: number }) => void>();
  cdp.on('Target.receivedMessageFromTarget', (e: { message: string }) => {
    const msg = JSON.parse(e.message) as { id?: number; result?: { usedSize: number } };
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)!(msg.result ?? { usedSize: 0 });
  });
  cdp.on('Target.attachedToTarget', (e: { sessionId: string; targetInfo: { type: string } }) => {
    if (e.targetInfo.type === 'worker' && !worker) worker = { sessionId: e.sessionId };
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  for (let i = 0; i < 50 && !worker; i++) await new Promise((r) => setTimeout(r, 100));
  return async () => {
    if (!worker) return 0;
    const id = nextId++;
    const result = new Promise<{ usedSize: number }>((resolve) => pending.set(id, resolve));
    await cdp.send('Target.sendMessageToTarget', { sessionId: worker.sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) });
    return (await result).usedSize / 2 ** 20;
  };
}

const file = bigSafetensors();
const server = await startAppServer();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}?backend=wasm#/models`);
  await page.getByTestId('view-models').waitFor();
  const workerHeap = await attachWorkerHeapProbe(page);
  const before = rendererRssMb();
  await page.getByTestId('import-files').setInputFiles(file);
  await page.getByTestId('scan-model').first().waitFor();
  let peak = before;
  let heapBefore = await workerHeap();
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rendererRssMb());
    void workerHeap().then((h) => (heapPeak = Math.max(heapPeak, h)));
  }, 100);
  const started = Date.now();
  await page.getByTestId('import-selected').click();
  await page.getByTestId('model-row').filter({ hasText: 'big-' }).getByTestId('model-status').filter({ hasText: /verified/i }).waitFor({ timeout: 600_000 });
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  console.log(`import of ${megabytes} MB: ${seconds.toFixed(1)} s, ${(megabytes / seconds).toFixed(0)} MB/s (hashing + IndexedDB, scan excluded)`);
  console.log(`renderer RSS: ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB (+${(peak - before).toFixed(0)} MB) while importing`);
  console.log(`studio worker JS heap: ${heapBefore.toFixed(1)} MB before, peak ${heapPeak.toFixed(1)} MB (+${(heapPeak - heapBefore).toFixed(1)} MB)`);
  void readFileSync;
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
