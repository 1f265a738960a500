/**
 * The colour theme (issue 13 f): the system's `prefers-color-scheme` unless the user picked Light or
 * Dark in the header. The choice is kept in localStorage; "system" is stored as no value at all.
 *
 * The stylesheet does the work: `<html data-theme="light|dark">` forces a palette, no attribute
 * follows the media query. So applying a choice is only setting or removing that attribute, which
 * main.tsx does before the first render.
 */

export type ThemeChoice = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

export const THEME_STORAGE_KEY = 'media-lab:theme';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

const LABELS: Record<ThemeChoice, string> = { system: 'System', light: 'Light', dark: 'Dark' };

/** A stored value read back: only "light" and "dark" are choices; anything else is the system's. */
export function parseThemeChoice(raw: unknown): ThemeChoice {
  if (typeof raw !== 'string') return 'system';
  const value = raw.trim().toLowerCase();
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** The palette in use: the choice, or the system's preference when the choice is "system". */
export function resolveTheme(choice: ThemeChoice, systemPrefersLight: boolean): Theme {
  if (choice === 'light' || choice === 'dark') return choice;
  return systemPrefersLight ? 'light' : 'dark';
}

/** The toggle's next choice: System → Light → Dark → System. */
export function nextThemeChoice(choice: ThemeChoice): ThemeChoice {
  return THEME_CHOICES[(THEME_CHOICES.indexOf(choice) + 1) % THEME_CHOICES.length]!;
}

/** The choice's own word: "System", "Light" or "Dark". */
export function themeName(choice: ThemeChoice): string {
  return LABELS[choice];
}

/** The toggle's text and accessible name (on a phone only the choice's word shows; the name still contains it). */
export function themeLabel(choice: ThemeChoice): string {
  return `Theme: ${LABELS[choice]}`;
}

/** What the toggle's tooltip says: the palette now in use and what a click does. */
export function themeHint(choice: ThemeChoice, systemPrefersLight: boolean): string {
  const now = resolveTheme(choice, systemPrefersLight);
  const following = choice === 'system' ? `follows the system (${now} now)` : `${now}`;
  return `Colour theme ${following}. Click for ${LABELS[nextThemeChoice(choice)]}.`;
}

type ReadStorage = Pick<Storage, 'getItem'>;
type WriteStorage = Pick<Storage, 'setItem' | 'removeItem'>;

/** The stored choice; "system" when nothing is stored or storage is unavailable (blocked, private mode). */
export function readThemeChoice(storage: ReadStorage | undefined | null): ThemeChoice {
  try {
    return parseThemeChoice(storage?.getItem(THEME_STORAGE_KEY));
  } catch {
    return 'system';
  }
}

/** Stores a choice ("system" clears it). Returns false when storage refused it (still applied for this page). */
export function writeThemeChoice(storage: WriteStorage | undefined | null, choice: ThemeChoice): boolean {
  if (!storage) return false;
  try {
    if (choice === 'system') storage.removeItem(THEME_STORAGE_KEY);
    else storage.setItem(THEME_STORAGE_KEY, choice);
    return true;
  } catch {
    return false;
  }
}

/** Sets `data-theme` on the root element for Light or Dark, removes it for System. */
export function applyThemeChoice(root: Pick<Element, 'setAttribute' | 'removeAttribute'>, choice: ThemeChoice): void {
  if (choice === 'system') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', choice);
}

/** localStorage, or undefined where touching it throws (sandboxed frames, some privacy settings). */
export function safeLocalStorage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}
