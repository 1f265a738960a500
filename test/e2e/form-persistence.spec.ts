/**
 * The Generate form survives a reload of its tab, and a new tab starts from the last form used.
 */
import { expect, test } from '@playwright/test';
import { startAppServer, type AppServer } from './server';

let server: AppServer;
test.beforeAll(async () => {
  server = await startAppServer();
});
test.afterAll(async () => {
  await server?.close();
});

test('prompt, settings and stage options survive a reload; a new tab starts from them', async ({ page, context }) => {
  await page.goto(`${server.url}#/generate`);
  await page.getByTestId('prompt').fill('a lighthouse <lora:ink:0.5>');
  await page.getByTestId('negative-prompt').fill('blurry');
  await page.getByTestId('steps').fill('33');
  await page.getByTestId('width').fill('640');
  await page.getByTestId('hires-enabled').check();
  // Saved after a short pause in typing.
  await page.waitForTimeout(600);
  await page.reload();
  await expect(page.getByTestId('prompt')).toHaveValue('a lighthouse <lora:ink:0.5>');
  await expect(page.getByTestId('negative-prompt')).toHaveValue('blurry');
  await expect(page.getByTestId('steps')).toHaveValue('33');
  await expect(page.getByTestId('width')).toHaveValue('640');
  await expect(page.getByTestId('hires-enabled')).toBeChecked();

  const other = await context.newPage();
  await other.goto(`${server.url}#/generate`);
  await expect(other.getByTestId('prompt')).toHaveValue('a lighthouse <lora:ink:0.5>');
  // Each tab then keeps its own: a change in the new tab does not reach the first one's reload.
  await other.getByTestId('prompt').fill('a second tab');
  await other.waitForTimeout(600);
  await page.reload();
  await expect(page.getByTestId('prompt')).toHaveValue('a lighthouse <lora:ink:0.5>');
});
