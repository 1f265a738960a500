/**
 * Issue 13, defect 7 (Models view): the Family select in the scan card shows its whole value
 * ("Stable Diffusion 1.x", not "Stable Diffusio"), and every button's accessible name contains
 * its visible text (axe-core's `label-content-name-mismatch`: a voice-control user says "click
 * Rename").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let server: AppServer;
let dir: string;
test.beforeAll(async () => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-models-a11y-'));
});
test.afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The selected option's text width and the room the select has for it (its arrow taken off). */
function selectFit(select: Locator) {
  return select.evaluate((el: HTMLSelectElement) => {
    const style = getComputedStyle(el);
    const probe = document.createElement('span');
    probe.style.font = style.font;
    probe.style.whiteSpace = 'pre';
    probe.style.position = 'absolute';
    probe.textContent = el.selectedOptions[0]?.text ?? '';
    document.body.append(probe);
    const text = probe.getBoundingClientRect().width;
    probe.remove();
    const ARROW = 20; // Chromium's drop-down arrow
    const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - ARROW;
    return { label: probe.textContent, text: Math.ceil(text), room: Math.floor(room) };
  });
}

async function axe(page: Page, rules: string[]) {
  await page.addScriptTag({ path: axePath });
  return page.evaluate(async (values) => {
    const w = window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; nodes: Array<{ html: string }> }> }> } };
    const result = await w.axe.run(document, { runOnly: { type: 'rule', values } });
    return result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.html) }));
  }, rules);
}

for (const viewport of [
  { width: 1440, height: 900 },
  { width: 390, height: 844 },
]) {
  test(`${viewport.width} px: the scan card's Family select is not cut; Rename is named by its text`, async ({ browser }) => {
    const context = await browser.newContext({ viewport });
    const foreign = await guardOrigin(context, server.origin);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}?backend=wasm#/models`);
    await page.getByTestId('import-folder-input').setInputFiles(writePresetFolder(dir, `a11y-${viewport.width}`, 'sd15-fp32-dynamic'));
    await expect(page.getByTestId('scan-model')).toHaveCount(1);

    for (const testid of ['family-family', 'family-prediction', 'family-scheduler', 'scan-type']) {
      const fit = await selectFit(page.getByTestId(testid));
      expect(fit.text, `“${fit.label}” (${fit.text} px) in ${fit.room} px`).toBeLessThanOrEqual(fit.room);
    }

    await page.getByTestId('import-selected').click();
    const row = page.getByTestId('model-row').filter({ hasText: `a11y-${viewport.width}` });
    await expect(row.getByTestId('model-status')).toContainText(/verified/i, { timeout: 120_000 });
    await expect(row.getByRole('button', { name: /^Rename/ })).toBeVisible();
    expect(await axe(page, ['label-content-name-mismatch'])).toEqual([]);
    // The scan card's own controls too, on the next scan.
    await page.getByTestId('import-folder-input').setInputFiles(writePresetFolder(dir, `a11y-${viewport.width}-again`, 'sd15-fp32-dynamic'));
    await expect(page.getByTestId('scan-model')).toHaveCount(1);
    expect(await axe(page, ['label-content-name-mismatch'])).toEqual([]);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });
}
