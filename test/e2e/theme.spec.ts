/**
 * Issue 13 (f): light and dark themes. With no choice made the page follows `prefers-color-scheme`
 * (live, without a reload); the header's toggle (System → Light → Dark) overrides it and the choice
 * survives a reload; every view passes axe's colour-contrast rule in both palettes, before and after
 * a checkpoint is imported (and every other WCAG 2.x A/AA rule axe has, too).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { importModelFolder, writePresetFolder } from './model-folders';
import { guardOrigin, startAppServer, type AppServer } from './server';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The two palettes' page backgrounds (--bg in src/app/styles.css). */
const DARK_BG = 'rgb(20, 23, 30)';
const LIGHT_BG = 'rgb(245, 246, 248)';
const VIEWS = ['generate', 'enhance', 'models', 'gallery'] as const;

// One page through every test: the later ones use the checkpoint imported and the image made before.
test.describe.configure({ mode: 'serial' });

let server: AppServer;
let dir: string;
let context: BrowserContext;
let page: Page;
let foreign: string[];
const errors: string[] = [];

test.beforeAll(async ({ browser }) => {
  server = await startAppServer();
  dir = mkdtempSync(join(tmpdir(), 'media-lab-theme-'));
  // Tall enough that no sticky bar covers part of a view's text (axe cannot rate covered text).
  context = await browser.newContext({ viewport: { width: 1440, height: 2400 } });
  foreign = await guardOrigin(context, server.origin);
  page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
  expect(foreign).toEqual([]);
});

const pageBackground = (p: Page) => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
const colorScheme = (p: Page) => p.evaluate(() => getComputedStyle(document.documentElement).colorScheme);
const storedTheme = (p: Page) => p.evaluate(() => localStorage.getItem('media-lab:theme'));

/** Every custom property of the palette as the page computes it. */
function palette(p: Page) {
  return p.evaluate(() => {
    const names = ['--bg', '--bg-raised', '--bg-sunken', '--bg-hover', '--border', '--border-strong', '--text', '--text-muted', '--accent', '--accent-strong', '--accent-text', '--danger', '--danger-bg', '--danger-text', '--success', '--warning', '--shadow', '--checker'];
    const style = getComputedStyle(document.documentElement);
    return Object.fromEntries(names.map((n) => [n, style.getPropertyValue(n).trim()]));
  });
}

interface Violation {
  id: string;
  impact: string | null;
  nodes: Array<{ html: string; summary: string }>;
}

interface AxeOutcome {
  violations: Violation[];
  /** Elements the rules passed (so a run that checked nothing cannot pass). */
  passed: number;
  /** Elements axe could not decide (text over an image or gradient): left for a person to review. */
  incomplete: Array<{ id: string; html: string; why: string }>;
}

/** axe-core over the whole page: the rules given, or every WCAG 2.x A/AA rule. */
async function axe(p: Page, rules?: string[]): Promise<AxeOutcome> {
  if (!(await p.evaluate(() => 'axe' in window))) await p.addScriptTag({ path: axePath });
  return p.evaluate(async (values) => {
    type Node = { html: string; failureSummary?: string; any?: Array<{ message: string }> };
    type Rule = { id: string; impact: string | null; nodes: Node[] };
    const w = window as unknown as {
      axe: { run(context: unknown, options: unknown): Promise<{ violations: Rule[]; passes: Rule[]; incomplete: Rule[] }> };
    };
    const runOnly = values ? { type: 'rule', values } : { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] };
    const result = await w.axe.run(document, { runOnly });
    return {
      violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => ({ html: n.html.slice(0, 200), summary: n.failureSummary ?? '' })) })),
      passed: result.passes.reduce((sum, r) => sum + r.nodes.length, 0),
      incomplete: result.incomplete.flatMap((r) => r.nodes.map((n) => ({ id: r.id, html: n.html.slice(0, 160), why: n.any?.[0]?.message ?? '' }))),
    };
  }, rules);
}

/** Opens a view from the header and waits until it has settled (no transitions mid-colour). */
async function openView(p: Page, view: (typeof VIEWS)[number]) {
  await p.getByTestId(`nav-${view}`).click();
  await expect(p.getByTestId(`view-${view}`)).toBeVisible();
  if (view === 'generate') await expect(p.getByTestId('model-select').or(p.getByTestId('no-model')).first()).toBeVisible();
  if (view === 'gallery') await expect(p.getByTestId('gallery-empty').or(p.getByTestId('gallery-item').first())).toBeVisible();
  await p.waitForTimeout(300);
}

test('no choice made: the page follows prefers-color-scheme, live', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: System');
  expect(await page.evaluate(() => document.documentElement.hasAttribute('data-theme'))).toBe(false);
  expect(await pageBackground(page)).toBe(DARK_BG);
  expect(await colorScheme(page)).toBe('dark');

  await page.emulateMedia({ colorScheme: 'light' });
  await expect.poll(() => pageBackground(page)).toBe(LIGHT_BG);
  expect(await colorScheme(page)).toBe('light');
  expect(await page.evaluate(() => document.querySelector('meta[name="theme-color"]')?.getAttribute('content'))).toBe('#f5f6f8');

  await page.emulateMedia({ colorScheme: 'dark' });
  await expect.poll(() => pageBackground(page)).toBe(DARK_BG);
  expect(await storedTheme(page)).toBeNull();
});

test('the toggle overrides the system and the choice survives a reload', async () => {
  const toggle = page.getByTestId('theme-toggle');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(toggle).toHaveText('Theme: System');
  // Named by its visible text (axe label-content-name-mismatch; a voice user says "click Theme").
  await expect(page.getByRole('button', { name: 'Theme: System' })).toBeVisible();

  await toggle.click();
  await expect(toggle).toHaveText('Theme: Light');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await expect.poll(() => pageBackground(page)).toBe(LIGHT_BG);
  expect(await storedTheme(page)).toBe('light');
  await page.reload();
  await expect(toggle).toHaveText('Theme: Light');
  expect(await pageBackground(page)).toBe(LIGHT_BG);
  expect(await colorScheme(page)).toBe('light');

  // Dark while the system prefers light.
  await page.emulateMedia({ colorScheme: 'light' });
  await toggle.click();
  await expect(toggle).toHaveText('Theme: Dark');
  await expect.poll(() => pageBackground(page)).toBe(DARK_BG);
  expect(await storedTheme(page)).toBe('dark');
  await page.reload();
  await expect(toggle).toHaveText('Theme: Dark');
  // Applied before the app renders: the attribute is set by the time the header exists.
  expect(await page.evaluate(() => document.documentElement.getAttribute('data-theme'))).toBe('dark');
  expect(await pageBackground(page)).toBe(DARK_BG);
  expect(await colorScheme(page)).toBe('dark');

  // Back to System: nothing stored, the system's light again.
  await toggle.click();
  await expect(toggle).toHaveText('Theme: System');
  await expect.poll(() => pageBackground(page)).toBe(LIGHT_BG);
  expect(await storedTheme(page)).toBeNull();
  expect(await page.evaluate(() => document.documentElement.hasAttribute('data-theme'))).toBe(false);
  await page.reload();
  await expect(toggle).toHaveText('Theme: System');
  expect(await pageBackground(page)).toBe(LIGHT_BG);

  // On a phone only the word shows; the button is still named "Theme: …", which contains it.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole('button', { name: 'Theme: System' })).toBeVisible();
  expect(await toggle.locator('.theme-toggle-prefix').evaluate((el) => el.getBoundingClientRect().width)).toBeLessThanOrEqual(1);
  expect((await axe(page, ['label-content-name-mismatch'])).violations).toEqual([]);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
  await page.setViewportSize({ width: 1440, height: 2400 });
});

test('the chosen palettes are the system ones (the stylesheet states each twice)', async () => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: System');
  const systemLight = await palette(page);
  await page.emulateMedia({ colorScheme: 'dark' });
  const systemDark = await palette(page);
  expect(systemLight).not.toEqual(systemDark);
  for (const [choice, expected] of [
    ['light', systemLight],
    ['dark', systemDark],
  ] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate((c) => document.documentElement.setAttribute('data-theme', c), choice);
      expect(await palette(page), `${choice} chosen, system ${scheme}`).toEqual(expected);
    }
  }
  await page.evaluate(() => document.documentElement.removeAttribute('data-theme'));
});

/**
 * Colour contrast on every view, in both palettes (asserted: 0 violations); every other WCAG 2.x
 * A/AA rule is run too (asserted: 0 violations as well) and axe's undecided nodes are logged.
 */
async function checkViews(stage: string) {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(`${server.url}?backend=wasm#/generate`);
    await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: System');
    expect(await pageBackground(page)).toBe(scheme === 'light' ? LIGHT_BG : DARK_BG);
    for (const view of VIEWS) {
      await openView(page, view);
      const where = `${stage}, ${view}, ${scheme}`;
      const contrast = await axe(page, ['color-contrast']);
      expect(contrast.violations, `${where}: ${JSON.stringify(contrast.violations, null, 1)}`).toEqual([]);
      expect(contrast.passed, `${where}: text elements checked`).toBeGreaterThan(10);
      const all = await axe(page);
      console.log(`[axe] ${where}: color-contrast ${contrast.passed} passed, ${contrast.incomplete.length} to review${contrast.incomplete.map((n) => `\n    review: ${n.html} (${n.why})`).join('')}; all WCAG A/AA rules: ${all.violations.length} violated, ${all.passed} nodes passed`);
      expect(all.violations, `${where}: ${JSON.stringify(all.violations, null, 1)}`).toEqual([]);
    }
  }
}

test('axe: colour contrast passes on every view in both themes, with no model', async () => {
  await checkViews('no model');
});

test('axe: colour contrast passes on every view in both themes, with a checkpoint imported', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${server.url}?backend=wasm#/models`);
  await importModelFolder(page, writePresetFolder(dir, 'theme-tiny-checkpoint', 'sd15-fp32-dynamic'), 'theme-tiny-checkpoint');
  await checkViews('checkpoint');
});

test('axe: an image made, its result on Generate and its details in the Gallery pass in both themes', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${server.url}?backend=wasm#/generate`);
  await expect(page.getByTestId('model-select')).toHaveValue('theme-tiny-checkpoint');
  await page.getByTestId('prompt').fill('a lighthouse at dusk');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('width').fill('64');
  await page.getByTestId('height').fill('64');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('status')).toHaveText(/done/i, { timeout: 120_000 });
  await expect(page.getByTestId('result-image').first()).toBeVisible();

  const check = async (where: string) => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await expect.poll(() => pageBackground(page)).toBe(scheme === 'light' ? LIGHT_BG : DARK_BG);
      await page.waitForTimeout(400); // hover and background transitions
      const contrast = await axe(page, ['color-contrast']);
      expect(contrast.violations, `${where}, ${scheme}: ${JSON.stringify(contrast.violations, null, 1)}`).toEqual([]);
      const all = await axe(page);
      console.log(`[axe] ${where}, ${scheme}: color-contrast ${contrast.passed} passed, ${contrast.incomplete.length} to review${contrast.incomplete.map((n) => `\n    review: ${n.html} (${n.why})`).join('')}; all WCAG A/AA rules: ${all.violations.length} violated`);
      expect(all.violations, `${where}, ${scheme}: ${JSON.stringify(all.violations, null, 1)}`).toEqual([]);
    }
  };
  await check('Generate with a result');

  await page.getByTestId('nav-gallery').click();
  await page.getByTestId('gallery-item').first().click();
  await expect(page.getByTestId('gallery-detail')).toBeVisible();
  await check('Gallery with an item open');
});

test('a choice made in one tab reaches the other open tabs', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${server.url}?backend=wasm#/gallery`);
  const other = await context.newPage();
  other.on('pageerror', (e) => errors.push(e.message));
  await other.emulateMedia({ colorScheme: 'dark' });
  await other.goto(`${server.url}?backend=wasm#/models`);
  await expect(other.getByTestId('theme-toggle')).toHaveText('Theme: System');
  await page.getByTestId('theme-toggle').click();
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: Light');
  await expect(other.getByTestId('theme-toggle')).toHaveText('Theme: Light');
  await expect.poll(() => pageBackground(other)).toBe(LIGHT_BG);
  // Back to System from the other tab.
  await other.getByTestId('theme-toggle').click();
  await other.getByTestId('theme-toggle').click();
  await expect(page.getByTestId('theme-toggle')).toHaveText('Theme: System');
  await expect.poll(() => pageBackground(page)).toBe(DARK_BG);
  await other.close();
});
