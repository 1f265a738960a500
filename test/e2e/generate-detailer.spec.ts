/**
 * The Generate view's detailer stage end to end on WASM with a tiny random-weight checkpoint:
 * generate → detailer runs, the job succeeds and the view says what it found (a 64×64 random
 * image has no face: "no face found", the image unchanged); the detailed PNG carries the
 * generation's A1111 infotext plus ADetailer's keys; a PNG with ADetailer keys loaded into the
 * view turns the detailer on with its strengths.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks, readPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { DEFAULTS } from '../../src/protocol/pipeline-config';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-generate-detailer-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test.describe.serial('the detailer stage in Generate', () => {
  let context: BrowserContext;
  let page: Page;
  let foreign: string[];
  const errors: string[] = [];
  let detailedPng: Buffer;

  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext();
    foreign = await guardOrigin(context, server.origin);
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}?backend=wasm#/models`);
    await expect(page.getByTestId('backend')).toContainText(/WASM/i);
    // float32 with a VAE encoder: the detailer starts from the image, so it needs one.
    await importModelFolder(page, writePresetFolder(dir, 'tiny-sd15', 'sd15-fp32-dynamic'), 'tiny-sd15', 60_000);
    await page.getByTestId('nav-generate').click();
    await expect(page.getByTestId('model-select')).toHaveValue('tiny-sd15');
  });
  test.afterAll(async () => {
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    await context?.close();
  });

  test('generate with the detailer on: the job succeeds, "no face found" is shown, the PNG carries ADetailer keys', async () => {
    await page.getByTestId('prompt').fill('a portrait of a sailor');
    await page.getByTestId('sampler-select').selectOption('euler');
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('width').fill('64');
    await page.getByTestId('height').fill('64');
    await page.getByTestId('seed').fill('7');

    await page.getByTestId('stage-detailer').check();
    await expect(page.getByTestId('detailer-face')).toBeChecked();
    await expect(page.getByTestId('detailer-hand')).not.toBeChecked();
    await expect(page.getByTestId('face-strength')).toHaveValue(String(DEFAULTS.face_strength));
    await expect(page.getByTestId('hand-strength')).toBeDisabled();
    await expect(page.getByTestId('detailer-confidence')).toHaveValue(String(DEFAULTS.confidence));
    await page.getByTestId('face-strength').fill('0.55');
    // A high bar, so noise is never taken for a face.
    await page.getByTestId('detailer-confidence').fill('0.95');

    await page.getByTestId('generate').click();
    await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
    await expect(page.getByTestId('detailer-message')).toContainText(/no face found/);
    const images = page.getByTestId('result-image');
    await expect(images).toHaveCount(2); // generated.png, generated_detailed.png
    await expect(images.last()).toContainText('generated_detailed.png');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('result-download').last().click()]);
    expect(download.suggestedFilename()).toBe('generated_detailed.png');
    detailedPng = readFileSync((await download.path())!);
    const infotext = readPngTextChunks(new Uint8Array(detailedPng)).find((c) => c.keyword === 'parameters')?.text ?? '';
    expect(infotext).toMatch(/^a portrait of a sailor\n/);
    expect(infotext).toContain('Steps: 2, Sampler: Euler,');
    expect(infotext).toContain('Seed: 7, Size: 64x64');
    expect(infotext).toContain('ADetailer model: blazeface-back, ADetailer confidence: 0.95,');
    expect(infotext).toContain('ADetailer denoising strength: 0.55, ADetailer inpaint only masked: True, ADetailer inpaint padding: 32');
  });

  test('an A1111 PNG with ADetailer keys turns the detailer on with its strengths; our detailed PNG too', async () => {
    await page.getByTestId('stage-detailer').uncheck();
    const infotext = [
      'a knight waving, detailed hands',
      'Steps: 3, Sampler: Euler a, CFG scale: 6, Seed: 12, Size: 64x64, Model: tiny-sd15, ' +
        'ADetailer model: face_yolov8n.pt, ADetailer confidence: 0.4, ADetailer denoising strength: 0.35, ' +
        'ADetailer model 2nd: hand_yolov8n.pt, ADetailer confidence 2nd: 0.4, ADetailer denoising strength 2nd: 0.6, ADetailer prompt 2nd: "detailed hands, five fingers", ' +
        'ADetailer model 3rd: person_yolov8n-seg.pt, ADetailer version: 24.11.1',
    ].join('\n');
    const png = Buffer.from(addPngTextChunks(encodePng(createRgbaImage(4, 4)), [{ keyword: 'parameters', text: infotext }]));
    await page.getByTestId('load-png-input').setInputFiles({ name: 'adetailer.png', mimeType: 'image/png', buffer: png });
    await expect(page.getByTestId('loaded-parameters')).toContainText(/adetailer\.png.*AUTOMATIC1111.*detailer/);
    await expect(page.getByTestId('stage-detailer')).toBeChecked();
    await expect(page.getByTestId('detailer-face')).toBeChecked();
    await expect(page.getByTestId('detailer-hand')).toBeChecked();
    await expect(page.getByTestId('face-strength')).toHaveValue('0.35');
    await expect(page.getByTestId('hand-strength')).toHaveValue('0.6');
    await expect(page.getByTestId('detailer-confidence')).toHaveValue('0.4');
    await expect(page.getByTestId('detailer-prompt')).toHaveValue('detailed hands, five fingers');
    await page.getByTestId('unmapped').click();
    await expect(page.getByTestId('unmapped')).toContainText('person_yolov8n-seg.pt');

    // Our own detailed PNG (its Media Lab chunk: the whole job) brings back the first run's detailer.
    await page.getByTestId('stage-detailer').uncheck();
    await page.getByTestId('load-png-input').setInputFiles({ name: 'generated_detailed.png', mimeType: 'image/png', buffer: detailedPng });
    await expect(page.getByTestId('loaded-parameters')).toContainText(/generated_detailed\.png.*Media Lab/);
    await expect(page.getByTestId('stage-detailer')).toBeChecked();
    await expect(page.getByTestId('detailer-hand')).not.toBeChecked();
    await expect(page.getByTestId('face-strength')).toHaveValue('0.55');
    await expect(page.getByTestId('detailer-confidence')).toHaveValue('0.95');
    await expect(page.getByTestId('prompt')).toHaveValue('a portrait of a sailor');
  });
});
