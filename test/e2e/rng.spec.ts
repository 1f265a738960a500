import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { build } from 'vite';
import { createRng } from '../../src/pipeline/random';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** src/pipeline/random.ts bundled as a classic script exposing `MediaLabRandom`. */
async function bundleRandom(): Promise<string> {
  const out = await build({
    root,
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      lib: { entry: `${root}/src/pipeline/random.ts`, formats: ['iife'], name: 'MediaLabRandom' },
    },
  });
  const result = Array.isArray(out) ? out[0] : out;
  if (!('output' in result)) throw new Error('unexpected vite build result');
  return result.output[0].type === 'chunk' ? result.output[0].code : '';
}

test('the seeded RNG gives the same latents in Chromium as in Node', async ({ page }) => {
  await page.setContent('<!doctype html><title>rng</title>');
  await page.addScriptTag({ content: await bundleRandom() });
  const seeds = [0, 42, 123456789, 4294967295, 2 ** 40 + 7];
  const dims = [1, 4, 64, 64];
  const browser = await page.evaluate(
    ({ seeds, dims }) =>
      seeds.map((seed) => Array.from((window as unknown as { MediaLabRandom: typeof import('../../src/pipeline/random') }).MediaLabRandom.createRng(seed).normalTensor(dims).data)),
    { seeds, dims },
  );
  seeds.forEach((seed, i) => {
    const node = Array.from(createRng(seed).normalTensor(dims).data);
    expect(browser[i]).toEqual(node);
  });
});
