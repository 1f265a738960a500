/**
 * A LoRA and a textual-inversion embedding (tiny, written in code for the tiny checkpoint) through
 * the built app on WASM: imported in the Models view, picked from the Generate view's toggles,
 * applied (the image changes; the job says what applied), carried in the PNG's infotext as A1111
 * writes them, and restored by loading that PNG.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { decodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import { tinyLdmConfig, writeLdmCheckpoint } from '../fixtures/ldm-checkpoint';
import { floatBytes, kohyaFile, randomLayer } from '../fixtures/lora/lora-files';
import { buildSafetensors } from '../fixtures/safetensors-builder';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-networks-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Imports one file through the Models view and waits for it to verify. */
async function importFile(page: Page, file: string, name: string) {
  await page.getByTestId('nav-models').click();
  await page.getByTestId('import-files').setInputFiles(file);
  await expect(page.getByTestId('scan-model')).toHaveCount(1);
  await page.getByTestId('import-selected').click();
  await expect(page.getByTestId('model-row').filter({ hasText: name }).first().getByTestId('model-status')).toContainText(/verified/i, { timeout: 120_000 });
}

/** Generates at a fixed seed; returns the PNG's bytes and what the job panel said. */
async function generate(page: Page, prompt: string) {
  await page.getByTestId('nav-generate').click();
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('seed').fill('1234');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').first().click()]);
  const png = new Uint8Array(readFileSync((await download.path())!));
  return { png, pixels: decodePng(png).data, panel: await page.getByTestId('networks-message').first().innerText({ timeout: 2000 }).catch(() => '') };
}

test('a LoRA and an embedding: picked, applied, written to the infotext, restored from the PNG', async ({ page, context }) => {
  test.setTimeout(300_000);
  const foreign = await guardOrigin(context, server.origin);
  const checkpoint = join(dir, 'tiny-ldm.safetensors');
  await writeLdmCheckpoint(checkpoint, tinyLdmConfig('sd1'), 'F32', 3);
  // Strong enough to move the tiny model's pixels: two attention projections and a text-encoder layer.
  const lora = join(dir, 'inkwash.safetensors');
  writeFileSync(
    lora,
    kohyaFile({
      lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: randomLayer(1, 4, 32, 32, { alpha: 4, scale: 1 }),
      lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v: randomLayer(2, 4, 32, 32, { alpha: 4, scale: 1 }),
      lora_te_text_model_encoder_layers_0_self_attn_q_proj: randomLayer(3, 4, 32, 32, { alpha: 4, scale: 1 }),
    }),
  );
  const embedding = join(dir, 'glowstyle.safetensors');
  const vectors = Float32Array.from({ length: 2 * 32 }, (_, i) => Math.sin(i * 1.7) * 2);
  writeFileSync(embedding, buildSafetensors([{ name: 'emb_params', dtype: 'F32', shape: [2, 32], data: floatBytes(vectors, 'F32') }]));

  await page.goto(`${server.url}?backend=wasm#/models`);
  await importFile(page, checkpoint, 'tiny-ldm');
  await importFile(page, lora, 'inkwash');
  await importFile(page, embedding, 'glowstyle');

  const plain = await generate(page, 'a lighthouse at dusk');

  // The toggles add the tag and the word; the counter does not count the tag.
  await page.getByTestId('nav-generate').click();
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  await page.getByTestId('lora-chip').filter({ hasText: 'inkwash' }).click();
  await expect(page.getByTestId('prompt')).toHaveValue('a lighthouse at dusk <lora:inkwash:1>');
  await expect(page.getByTestId('prompt-tokens')).toHaveText('4/75');
  await page.getByTestId('embedding-chip').filter({ hasText: 'glowstyle' }).click();
  await expect(page.getByTestId('prompt')).toHaveValue('a lighthouse at dusk <lora:inkwash:1> glowstyle');
  // Its two vectors take two token positions.
  await expect(page.getByTestId('prompt-tokens')).toHaveText('6/75');

  const styled = await generate(page, 'a lighthouse at dusk <lora:inkwash:1> glowstyle');
  expect(Buffer.from(styled.pixels).equals(Buffer.from(plain.pixels))).toBe(false);
  expect(styled.panel).toMatch(/LoRA .?inkwash.?: 3 of 3 modules/);
  const infotext = readPngTextChunks(styled.png).find((c) => c.keyword === 'parameters')!.text;
  expect(infotext).toContain('a lighthouse at dusk <lora:inkwash:1> glowstyle');
  expect(infotext).toMatch(/Lora hashes: "inkwash: [0-9a-f]{12}"/);
  expect(infotext).toMatch(/TI hashes: "glowstyle: [0-9a-f]{12}"/);

  // Weight 0 is the plain image, exactly.
  const off = await generate(page, 'a lighthouse at dusk <lora:inkwash:0>');
  expect(Buffer.from(off.pixels).equals(Buffer.from(plain.pixels))).toBe(true);

  // Loading the PNG restores the prompt with its tag and word; generating again gives the same pixels.
  await page.getByTestId('prompt').fill('');
  await page.getByTestId('load-png-input').setInputFiles({ name: 'styled.png', mimeType: 'image/png', buffer: Buffer.from(styled.png) });
  await expect(page.getByTestId('loaded-parameters')).toBeVisible();
  await expect(page.getByTestId('prompt')).toHaveValue('a lighthouse at dusk <lora:inkwash:1> glowstyle');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').first().click()]);
  expect(Buffer.from(decodePng(new Uint8Array(readFileSync((await download.path())!))).data).equals(Buffer.from(styled.pixels))).toBe(true);

  // An unknown LoRA is a clear error that lists the imported ones.
  await page.getByTestId('prompt').fill('a lighthouse <lora:nosuch:1>');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('job-error').first()).toContainText(/nosuch/);
  await expect(page.getByTestId('job-error').first()).toContainText(/inkwash/);
  expect(foreign).toEqual([]);
});
