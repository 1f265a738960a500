/** Tiny checkpoint folders written to disk (a folder the user picks) and imported through the Models view. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page } from '@playwright/test';
import { presetFiles, type DiffusersFolderOptions, type PresetName } from '../fixtures/tiny-diffusion/factory';

/** Writes a preset's files under `dir/name`; returns the folder's path. */
export function writePresetFolder(dir: string, name: string, preset: PresetName, extra?: DiffusersFolderOptions): string {
  const folder = join(dir, name);
  for (const [path, bytes] of presetFiles(preset, extra)) {
    const full = join(folder, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, bytes);
  }
  return folder;
}

/** Picks `folder` in the Models view's folder input, imports its one model and waits for it to verify. */
export async function importModelFolder(page: Page, folder: string, name: string, timeout = 120_000): Promise<void> {
  await page.getByTestId('nav-models').click();
  await expect(page.getByTestId('view-models')).toBeVisible();
  await page.getByTestId('import-folder-input').setInputFiles(folder);
  await expect(page.getByTestId('scan-model')).toHaveCount(1);
  await page.getByTestId('import-selected').click();
  await expect(page.getByTestId('model-row').filter({ hasText: name }).getByTestId('model-status')).toContainText(/verified/i, { timeout });
}
