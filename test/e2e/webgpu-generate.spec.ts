/**
 * Text-to-image on the WebGPU path (headless Chromium's software adapter, forced with
 * ?backend=webgpu) with a tiny float32 checkpoint, against the same request on WASM in the
 * browser and on onnxruntime-web's WASM build in Node. Same request and seed on one backend give
 * identical pixels; WebGPU and WASM agree within the tolerance measured here (printed).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { decodePng } from '../../src/media/png';
import { tensorToImages } from '../../src/pipeline/diffusion/latents';
import { textToImage } from '../../src/pipeline/diffusion/text-to-image';
import type { RgbaImage } from '../../src/pipeline/image/rgba';
import { importModelFolder, writePresetFolder } from './model-folders';
import { loadTinyModel } from '../helpers/tiny-models';
import { chromiumArgs } from './playwright.config';
import { guardOrigin, startAppServer, type AppServer } from './server';

test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...chromiumArgs, '--enable-unsafe-webgpu'],
  },
});

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-webgpu-gen-'));
  writePresetFolder(dir, 'tiny-fp32', 'sd15-fp32-dynamic');
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = { prompt: 'a red boat on a calm lake', negative_prompt: 'fog', steps: 4, guidance_scale: 7, seed: 1234, width: 64, height: 64 };

/** Generates `request` in the Generate view and returns the downloaded PNG's pixels. */
async function generateInPage(page: Page): Promise<RgbaImage> {
  await page.getByTestId('nav-generate').click();
  await expect(page.getByTestId('model-select')).toHaveValue('tiny-fp32');
  await page.getByTestId('prompt').fill(request.prompt);
  await page.getByTestId('negative-prompt').fill(request.negative_prompt);
  await page.getByTestId('sampler-select').selectOption('euler');
  await page.getByTestId('steps').fill(String(request.steps));
  await page.getByTestId('cfg').fill(String(request.guidance_scale));
  await page.getByTestId('seed').fill(String(request.seed));
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await expect(page.getByTestId('steps')).toHaveValue(String(request.steps));
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 300_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').first().click()]);
  return decodePng(new Uint8Array(readFileSync((await download.path())!)));
}

function diff(a: RgbaImage, b: RgbaImage): { max: number; mean: number; over1: number } {
  let max = 0;
  let sum = 0;
  let over1 = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (i % 4 === 3) continue; // alpha is 255 in both
    const d = Math.abs(a.data[i] - b.data[i]);
    max = Math.max(max, d);
    sum += d;
    if (d > 1) over1++;
    n++;
  }
  return { max, mean: sum / n, over1 };
}

test('WebGPU (software adapter) generates with a tiny float32 checkpoint; WASM matches Node exactly, WebGPU within tolerance', async ({ browser }) => {
  test.setTimeout(600_000);
  const context = await browser.newContext();
  const foreign = await guardOrigin(context, server.origin);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.url}?backend=webgpu#/models`);
  await expect(page.getByTestId('backend')).toContainText(/WebGPU/);
  await importModelFolder(page, join(dir, 'tiny-fp32'), 'tiny-fp32', 300_000);
  const gpu = await generateInPage(page);
  const gpuAgain = await generateInPage(page);

  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('backend')).toContainText(/WASM/);
  const wasm = await generateInPage(page);

  const tiny = await loadTinyModel('sd15-fp32-dynamic');
  const [node] = tensorToImages(await textToImage(tiny, { ...request, scheduler: 'euler' }));
  await tiny.release();

  expect([gpu.width, gpu.height]).toEqual([64, 64]);
  const wasmVsNode = diff(wasm, node);
  const gpuVsNode = diff(gpu, node);
  const gpuVsGpu = diff(gpu, gpuAgain);
  console.log(
    `t2i 64×64, 4 euler steps, CFG 7: browser WASM vs Node max ${wasmVsNode.max}; ` +
      `WebGPU vs WASM (Node) max ${gpuVsNode.max}, mean ${gpuVsNode.mean.toFixed(4)}, values off by >1: ${gpuVsNode.over1}/${64 * 64 * 3}; ` +
      `WebGPU run twice max ${gpuVsGpu.max}`,
  );
  // Same backend, same request and seed → identical pixels.
  expect(gpuVsGpu.max).toBe(0);
  expect(wasmVsNode.max).toBe(0);
  // The measured tolerance between backends (float32 on both; kernels sum in different orders).
  expect(gpuVsNode.max).toBeLessThanOrEqual(2);
  // And the WebGPU image is not something else entirely (e.g. a blank or another seed's image).
  const otherSeed = await (async () => {
    const m = await loadTinyModel('sd15-fp32-dynamic');
    const [img] = tensorToImages(await textToImage(m, { ...request, seed: 4321, scheduler: 'euler' }));
    await m.release();
    return img;
  })();
  expect(diff(gpu, otherSeed).max).toBeGreaterThan(10);
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
  await context.close();
});
