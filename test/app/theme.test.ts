import { describe, expect, it } from 'vitest';
import {
  applyThemeChoice,
  nextThemeChoice,
  parseThemeChoice,
  readThemeChoice,
  resolveTheme,
  THEME_STORAGE_KEY,
  themeHint,
  themeLabel,
  themeName,
  writeThemeChoice,
  type ThemeChoice,
} from '../../src/app/lib/theme';

/** A Map-backed Storage (only the calls theme.ts makes). */
function memoryStorage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, String(value)),
    removeItem: (key: string) => void map.delete(key),
  };
}

const throwing = {
  getItem: () => {
    throw new DOMException('denied', 'SecurityError');
  },
  setItem: () => {
    throw new DOMException('full', 'QuotaExceededError');
  },
  removeItem: () => {
    throw new DOMException('denied', 'SecurityError');
  },
};

describe('parseThemeChoice', () => {
  it('reads light and dark, case and spaces aside', () => {
    expect(parseThemeChoice('light')).toBe('light');
    expect(parseThemeChoice('dark')).toBe('dark');
    expect(parseThemeChoice(' Dark ')).toBe('dark');
    expect(parseThemeChoice('LIGHT')).toBe('light');
  });

  it('anything else is the system default', () => {
    for (const raw of [null, undefined, '', 'system', 'auto', 'sepia', '"dark"', 1, {}, ['dark']]) {
      expect(parseThemeChoice(raw), JSON.stringify(raw)).toBe('system');
    }
  });
});

describe('resolveTheme', () => {
  it('an explicit choice wins over the system preference', () => {
    expect(resolveTheme('light', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', true)).toBe('dark');
    expect(resolveTheme('dark', false)).toBe('dark');
  });

  it('system follows prefers-color-scheme (dark unless it asks for light)', () => {
    expect(resolveTheme('system', true)).toBe('light');
    expect(resolveTheme('system', false)).toBe('dark');
  });
});

describe('the toggle', () => {
  it('cycles System → Light → Dark → System', () => {
    const seen: ThemeChoice[] = [];
    let choice: ThemeChoice = 'system';
    for (let i = 0; i < 4; i++) {
      seen.push(choice);
      choice = nextThemeChoice(choice);
    }
    expect(seen).toEqual(['system', 'light', 'dark', 'system']);
  });

  it('shows the choice as its text, and the tooltip says what is in use and what a click does', () => {
    expect(themeLabel('system')).toBe('Theme: System');
    expect(themeLabel('light')).toBe('Theme: Light');
    expect(themeLabel('dark')).toBe('Theme: Dark');
    expect(themeName('light')).toBe('Light');
    expect(themeLabel('system').endsWith(themeName('system'))).toBe(true);
    expect(themeHint('system', true)).toBe('Colour theme follows the system (light now). Click for Light.');
    expect(themeHint('system', false)).toBe('Colour theme follows the system (dark now). Click for Light.');
    expect(themeHint('light', false)).toBe('Colour theme light. Click for Dark.');
    expect(themeHint('dark', true)).toBe('Colour theme dark. Click for System.');
  });
});

describe('storage', () => {
  it('round-trips light and dark under media-lab:theme; system stores nothing', () => {
    const storage = memoryStorage();
    expect(readThemeChoice(storage)).toBe('system');
    expect(writeThemeChoice(storage, 'light')).toBe(true);
    expect(storage.map.get(THEME_STORAGE_KEY)).toBe('light');
    expect(THEME_STORAGE_KEY).toBe('media-lab:theme');
    expect(readThemeChoice(storage)).toBe('light');
    writeThemeChoice(storage, 'dark');
    expect(readThemeChoice(storage)).toBe('dark');
    writeThemeChoice(storage, 'system');
    expect(storage.map.has(THEME_STORAGE_KEY)).toBe(false);
    expect(readThemeChoice(storage)).toBe('system');
  });

  it('a damaged value reads as system', () => {
    expect(readThemeChoice(memoryStorage({ [THEME_STORAGE_KEY]: 'purple' }))).toBe('system');
  });

  it('storage that throws or is missing gives system and never throws', () => {
    expect(readThemeChoice(throwing)).toBe('system');
    expect(readThemeChoice(undefined)).toBe('system');
    expect(readThemeChoice(null)).toBe('system');
    expect(writeThemeChoice(throwing, 'dark')).toBe(false);
    expect(writeThemeChoice(throwing, 'system')).toBe(false);
    expect(writeThemeChoice(undefined, 'dark')).toBe(false);
  });
});

describe('applyThemeChoice', () => {
  function fakeRoot() {
    const attrs = new Map<string, string>();
    return {
      attrs,
      setAttribute: (name: string, value: string) => void attrs.set(name, value),
      removeAttribute: (name: string) => void attrs.delete(name),
    };
  }

  it('sets data-theme for light and dark and removes it for system (the stylesheet then follows the media query)', () => {
    const root = fakeRoot();
    applyThemeChoice(root, 'light');
    expect(root.attrs.get('data-theme')).toBe('light');
    applyThemeChoice(root, 'dark');
    expect(root.attrs.get('data-theme')).toBe('dark');
    applyThemeChoice(root, 'system');
    expect(root.attrs.has('data-theme')).toBe(false);
  });
});
