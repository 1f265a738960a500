/**
 * Issue 13, defect 4: the Models view's export advice. optimum exports float16 weights only on a
 * CUDA device (`--dtype fp16` without `--device cuda` fails), as the README says, so every
 * command shown that asks for fp16 also names the device.
 */
import { expect, test } from '@playwright/test';
import { guardOrigin, startAppServer, type AppServer } from './server';

let server: AppServer;
test.beforeAll(async () => {
  server = await startAppServer();
});
test.afterAll(async () => {
  await server?.close();
});

test('the optimum export command asks for fp16 only together with --device cuda', async ({ browser }) => {
  const context = await browser.newContext();
  const foreign = await guardOrigin(context, server.origin);
  const page = await context.newPage();
  await page.goto(`${server.url}?backend=wasm#/models`);
  const guidance = page.getByTestId('checkpoint-guidance');
  await expect(guidance).toBeVisible();
  const commands = (await guidance.locator('pre, code').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
  const exports = commands.filter((t) => t.startsWith('optimum-cli export onnx'));
  expect(exports.length).toBeGreaterThan(0);
  for (const text of commands.filter((t) => t.includes('--dtype fp16'))) expect(text).toContain('--device cuda');
  // The plain export works anywhere (float32 weights).
  expect(exports.some((t) => !t.includes('--dtype'))).toBe(true);
  // The fp16 advice is there, with what it needs.
  expect(commands.some((t) => t.includes('--device cuda --dtype fp16'))).toBe(true);
  await expect(guidance).toContainText(/NVIDIA GPU/);
  expect(foreign).toEqual([]);
  await context.close();
});
