import { describe, expect, it } from 'vitest';
import { FORM_STORAGE_KEY, restoreForm, saveForm, type KeyValueStore } from '../../src/app/lib/form-persistence';
import { formText } from '../helpers/generate-form-text';

const memory = (): KeyValueStore & { data: Map<string, string> } => {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
};

describe('the Generate form across reloads', () => {
  it('restores what was saved, tab first, then the last form of any tab', () => {
    const tab = memory();
    const last = memory();
    const typed = formText({ prompt: 'a castle <lora:x:1>', steps: '33', seedText: '7', seedLocked: true, hires: { on: true, scale: '1.5', upscaler: 'latent', strength: '0.4', steps: '' } });
    saveForm([tab, last], { form: typed, model: 'tiny' });
    expect(restoreForm([tab, last], formText())).toEqual({ form: typed, model: 'tiny' });
    // A new tab: nothing of its own yet, the last form of any tab.
    expect(restoreForm([memory(), last], formText())?.form.prompt).toBe('a castle <lora:x:1>');
    expect(restoreForm([memory(), memory()], formText())).toBeNull();
  });

  it("a stored field of the wrong type keeps the fresh form's value; junk is ignored; a loaded file's kept settings are not stored", () => {
    const store = memory();
    store.setItem(FORM_STORAGE_KEY, JSON.stringify({ model: 3, form: { prompt: 'ok', steps: 40, scheduler: 'heun', hires: { on: 'yes', scale: '3' }, extra: 1 } }));
    const fresh = formText();
    const restored = restoreForm([store], fresh)!;
    expect(restored.model).toBe('');
    expect(restored.form).toEqual({ ...fresh, prompt: 'ok', hires: { ...fresh.hires, scale: '3' } });
    store.setItem(FORM_STORAGE_KEY, '{not json');
    expect(restoreForm([store], fresh)).toBeNull();
    const withKept = formText({ detailer: { ...fresh.detailer, kept: { dilate: 8 } } });
    saveForm([store], { form: withKept, model: '' });
    expect(JSON.parse(store.data.get(FORM_STORAGE_KEY)!).form.detailer).not.toHaveProperty('kept');
    expect(restoreForm([store], fresh)!.form.detailer.kept).toEqual({});
  });

  it('storage that throws (blocked, full) loses only the saving', () => {
    const broken: KeyValueStore = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    const good = memory();
    expect(() => saveForm([broken, good], { form: formText({ prompt: 'p' }), model: '' })).not.toThrow();
    expect(restoreForm([broken, good], formText())?.form.prompt).toBe('p');
  });
});
