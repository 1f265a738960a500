/**
 * The full-size UNet in headless Chromium through onnxruntime-web's own bundle (not the app):
 * a local server hands the page the built graph and the checkpoint's byte ranges (HTTP Range, as
 * the browser would slice the stored file), the page opens a session on `webgpu` or `wasm` and
 * runs one step at 512². The renderer's and GPU process's peak RSS are sampled from /proc.
 *
 * `--webgpu` is for a machine with a hardware adapter; on a software adapter (SwiftShader) a
 * full-size step is not worth waiting for.
 */
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { CheckpointPlan } from '../../src/registry/checkpoint/architecture';
import { buildUnet, planExternalParts, type ComputeType } from '../../src/registry/checkpoint/build';
import { encodeModel } from '../../src/registry/convert/onnx-build';
import type { WrittenCheckpoint } from '../fixtures/full-size-checkpoint';
import { chromiumArgs } from '../e2e/playwright.config';

const ortDist = fileURLToPath(new URL('../../node_modules/onnxruntime-web/dist/', import.meta.url));

export interface BrowserCase {
  backend: 'webgpu' | 'wasm';
  compute: ComputeType;
  /** Served path of the model and its parts (file byte ranges) by external-data name. */
  model: string;
  parts: Array<{ location: string; file: string; begin: number; end: number }>;
  batches: number[];
  optimization?: 'all' | 'disabled';
}

export interface BrowserResult {
  ok: boolean;
  fetchS?: number;
  fetchMBps?: number;
  createS?: number;
  steps?: Array<{ batch: number; seconds: number }>;
  error?: string;
  adapter?: string;
  peakRendererMb: number;
  peakGpuMb: number;
}

/** Serves `/ort/*` from onnxruntime-web's dist and `/files/<name>` from `dir`, with Range. */
function serve(dir: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
      res.end('<!doctype html><title>checkpoint bench</title>');
      return;
    }
    const file = url.pathname.startsWith('/ort/') ? join(ortDist, basename(url.pathname)) : join(dir, decodeURIComponent(url.pathname.slice('/files/'.length)));
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const type = file.endsWith('.mjs') ? 'text/javascript' : file.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
    const headers = { 'content-type': type, 'cross-origin-resource-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-opener-policy': 'same-origin' };
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [begin, last] = [Number(range[1]), Number(range[2])];
      res.writeHead(206, { ...headers, 'content-length': last - begin + 1, 'content-range': `bytes ${begin}-${last}/${size}` });
      createReadStream(file, { start: begin, end: last }).pipe(res);
    } else {
      res.writeHead(200, { ...headers, 'content-length': size });
      createReadStream(file).pipe(res);
    }
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

/** Peak RSS of the browser's renderer and GPU processes, sampled from /proc every 250 ms. */
function sampleMemory(rootPid: number): { stop: () => { renderer: number; gpu: number } } {
  const peak = { renderer: 0, gpu: 0 };
  const tick = () => {
    const parent = new Map<number, number>();
    const info = new Map<number, { rss: number; cmd: string }>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const status = readFileSync(`/proc/${name}/status`, 'utf8');
        const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
        parent.set(Number(name), Number(/PPid:\s+(\d+)/.exec(status)?.[1]));
        info.set(Number(name), { rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024, cmd });
      } catch {
        // gone between readdir and read
      }
    }
    const under = (pid: number): boolean => pid === rootPid || (pid > 1 && parent.has(pid) && under(parent.get(pid)!));
    for (const [pid, { rss, cmd }] of info) {
      if (!under(pid)) continue;
      if (cmd.includes('--type=renderer')) peak.renderer = Math.max(peak.renderer, rss);
      if (cmd.includes('--type=gpu-process')) peak.gpu = Math.max(peak.gpu, rss);
    }
  };
  const timer = setInterval(tick, 250);
  return { stop: () => (clearInterval(timer), tick(), peak) };
}

export async function runInChromium(dir: string, c: BrowserCase): Promise<BrowserResult> {
  const { server, origin } = await serve(dir);
  const args = [...chromiumArgs, ...(c.backend === 'webgpu' ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--ignore-gpu-blocklist'] : [])];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args });
  // Chromium is this process's child, its renderer and GPU process below it.
  const memory = sampleMemory(process.pid);
  try {
    const page = await browser.newPage();
    // tsx compiles the evaluated function with esbuild's keepNames, which calls a __name helper the page lacks.
    await page.addInitScript('globalThis.__name = (f) => f');
    await page.goto(origin);
    const result = await page.evaluate(
      async ({ c, origin }) => {
        const out: Record<string, unknown> = {};
        try {
          const ort = await import(/* @vite-ignore */ `${origin}/ort/${c.backend === 'webgpu' ? 'ort.webgpu.min.mjs' : 'ort.min.mjs'}`);
          ort.env.wasm.wasmPaths = `${origin}/ort/`;
          ort.env.wasm.numThreads = 2;
          if (c.backend === 'webgpu') {
            const adapter = await (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string; description: string } } | null> } }).gpu?.requestAdapter();
            out.adapter = adapter ? JSON.stringify(adapter.info ?? {}) : 'none';
          }
          let t = performance.now();
          let bytes = 0;
          const model = new Uint8Array(await (await fetch(`${origin}/files/${c.model}`)).arrayBuffer());
          const externalData = [];
          for (const p of c.parts) {
            const r = await fetch(`${origin}/files/${p.file}`, { headers: { range: `bytes=${p.begin}-${p.end - 1}` } });
            const data = new Uint8Array(await r.arrayBuffer());
            bytes += data.byteLength;
            externalData.push({ path: p.location, data });
          }
          out.fetchS = (performance.now() - t) / 1000;
          out.fetchMBps = bytes / 1e6 / (out.fetchS as number);
          t = performance.now();
          const session = await ort.InferenceSession.create(model, { executionProviders: [c.backend], graphOptimizationLevel: c.optimization ?? 'all', externalData });
          externalData.length = 0;
          out.createS = (performance.now() - t) / 1000;
          const half = c.compute === 'float16';
          const steps = [];
          for (const batch of c.batches) {
            const tensor = (dims: number[]) => {
              const n = dims.reduce((a, b) => a * b, 1);
              return half ? new ort.Tensor('float16', new Uint16Array(n).fill(0x3800), dims) : new ort.Tensor('float32', new Float32Array(n).map((_, i) => Math.sin(i * 0.37) * 0.5), dims);
            };
            const feeds = { sample: tensor([batch, 4, 64, 64]), timestep: new ort.Tensor('int64', new BigInt64Array([999n]), [1]), encoder_hidden_states: tensor([batch, 77, 768]) };
            t = performance.now();
            await session.run(feeds);
            steps.push({ batch, seconds: (performance.now() - t) / 1000 });
          }
          out.steps = steps;
          out.ok = true;
        } catch (err) {
          out.ok = false;
          out.error = err instanceof Error ? err.message : String(err);
        }
        return out;
      },
      { c, origin },
    );
    const peak = memory.stop();
    return { ...(result as unknown as BrowserResult), peakRendererMb: peak.renderer, peakGpuMb: peak.gpu };
  } finally {
    memory.stop();
    await browser.close();
    server.close();
  }
}

export function describe(label: string, r: BrowserResult): string {
  const steps = (r.steps ?? []).map((x) => `step b${x.batch} ${x.seconds.toFixed(2)} s`).join(', ');
  return (
    `${label}${r.adapter ? ` adapter ${r.adapter}` : ''}: ` +
    `${r.fetchS !== undefined ? `fetch ${r.fetchS.toFixed(2)} s (${r.fetchMBps?.toFixed(0)} MB/s)` : ''}${r.createS !== undefined ? `, create ${r.createS.toFixed(2)} s` : ''}${steps ? `, ${steps}` : ''}` +
    `${r.ok ? '' : ` FAILED: ${r.error}`}  (peak RSS renderer ${r.peakRendererMb.toFixed(0)} MB, GPU process ${r.peakGpuMb.toFixed(0)} MB)`
  );
}

/** `--webgpu`: the full-size UNet in fp16 compute (what a WebGPU user gets) and fp32 compute. */
export async function benchCheckpointWebgpu({ plan, written, dir, backend = 'webgpu' }: { plan: CheckpointPlan; written: WrittenCheckpoint; dir: string; backend?: 'webgpu' | 'wasm' }): Promise<void> {
  for (const compute of ['float16', 'float32'] as const) {
    const parts = planExternalParts(plan.weights.unet.values(), { location: 'weights.bin', dataOffset: written.dataOffset });
    const model = `unet-browser-${compute}.onnx`;
    await writeFile(join(dir, model), encodeModel(buildUnet(plan, { locate: parts.locate, compute }).model));
    const r = await runInChromium(dir, { backend, compute, model, parts: parts.parts.map((p) => ({ ...p, file: basename(written.path) })), batches: [1, 2] });
    console.log(describe(`chromium ${backend} unet (${compute} compute)`, r));
  }
}

/**
 * `--import`: the checkpoint dropped into the built app's Models view (WASM) in headless Chromium:
 * the time from "import" to stored and to the probe's verdict, with the MB/s over the file, and
 * the renderer's peak RSS (the app's workers live in the renderer process, so it includes them).
 */
/** One 1-step generation in the Generate view, each progress line kept with its time. */
async function benchGenerate(page: import('playwright-core').Page, model: string, size: number): Promise<void> {
  const memory = sampleMemory(process.pid);
  await page.getByTestId('nav-generate').click();
  await page.getByTestId('model-select').selectOption(model);
  await page.getByTestId('prompt').fill('a lighthouse on a cliff at dusk');
  await page.getByTestId('steps').fill('1');
  await page.getByTestId('width').fill(String(size));
  await page.getByTestId('height').fill(String(size));
  const t = performance.now();
  await page.getByTestId('generate').click();
  const seen: Array<{ s: number; text: string }> = [];
  let status = '';
  for (;;) {
    status = ((await page.getByTestId('status').textContent().catch(() => '')) ?? '').trim();
    const text = ((await page.locator('[data-testid="progress"] .progress-text').first().textContent({ timeout: 1000 }).catch(() => '')) ?? '').trim();
    if (text && seen[seen.length - 1]?.text !== text) seen.push({ s: (performance.now() - t) / 1000, text });
    if (/done|failed|error/i.test(status) || performance.now() - t > 1_800_000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const total = (performance.now() - t) / 1000;
  const peak = memory.stop();
  console.log(`chromium generate (built app, WASM) ${size}², 1 step: "${status}" after ${total.toFixed(1)} s; peak RSS renderer ${peak.renderer.toFixed(0)} MB`);
  for (const x of seen) console.log(`  ${x.s.toFixed(1).padStart(7)} s  ${x.text.slice(0, 300)}`);
  for (const id of ['error', 'job-error']) {
    const error = await page.getByTestId(id).first().textContent({ timeout: 1000 }).catch(() => null);
    if (error) console.log(`  error: ${error.slice(0, 600)}`);
  }
}

/**
 * Imports the checkpoint into the built app in Chromium (WASM) and waits for its verdict; with
 * `generate`, then generates one 1-step image at SIZE² from it in the Generate view, timed.
 */
export async function benchCheckpointImport(file: string, bytes: number, outDir?: string, generate?: { size: number }): Promise<void> {
  const { startAppServer } = await import('../e2e/server');
  const server = await startAppServer(0, outDir);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  const memory = sampleMemory(process.pid);
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}?backend=wasm#/models`);
    await page.getByTestId('import-files').setInputFiles(file);
    await page.getByTestId('scan-model').first().waitFor({ timeout: 120_000 });
    const scanned = await page.getByTestId('scan-model').first().innerText();
    const t = performance.now();
    await page.getByTestId('import-selected').click();
    // The bundled models have rows too: this one is named after the file.
    const row = page.getByTestId('model-row').filter({ hasText: basename(file).replace(/\.safetensors$/, '') });
    const status = row.getByTestId('model-status');
    // Polled rather than awaited: the status passes through storing and verifying to a verdict;
    // each text it shows is kept with its time, so the store's share (MB/s) can be read off.
    const seen: Array<{ s: number; text: string }> = [];
    let state = '';
    for (;;) {
      state = (await status.getAttribute('data-status').catch(() => '')) ?? '';
      const text = ((await status.textContent().catch(() => '')) ?? '').replace(/\s+/g, ' ').trim();
      if (text && seen[seen.length - 1]?.text !== text) seen.push({ s: (performance.now() - t) / 1000, text });
      if (state === 'verified' || state === 'error' || performance.now() - t > 900_000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const total = (performance.now() - t) / 1000;
    const peak = memory.stop();
    console.log(`chromium import (built app, WASM), ${(bytes / 1e6).toFixed(0)} MB: scan "${scanned.replace(/\s+/g, ' ').slice(0, 160)}"`);
    for (const x of seen) console.log(`  ${x.s.toFixed(1).padStart(7)} s  ${x.text.slice(0, 400)}`);
    console.log(
      `  ${state} after ${total.toFixed(1)} s (${(bytes / 1e6 / total).toFixed(0)} MB/s over the whole import); ` +
        `peak RSS renderer (with its workers) ${peak.renderer.toFixed(0)} MB, GPU process ${peak.gpu.toFixed(0)} MB`,
    );
    const details = await row.innerText().catch(() => '');
    console.log(`  row: ${details.replace(/\s+/g, ' ').slice(0, 600)}`);
    if (generate && state === 'verified') await benchGenerate(page, basename(file).replace(/\.safetensors$/, ''), generate.size);
  } finally {
    memory.stop();
    await browser.close();
    await server.close();
  }
}
