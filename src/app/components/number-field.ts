import { createEffect } from 'solid-js';

/**
 * Keeps a number field showing a value without fighting the user's typing: the field is
 * rewritten only while it does not have focus (and when it loses it).
 */
export function bindNumberField(el: HTMLInputElement, value: () => number | null): void {
  const text = () => {
    const v = value();
    return v === null || !Number.isFinite(v) ? '' : String(v);
  };
  createEffect(() => {
    const next = text();
    if (document.activeElement !== el) el.value = next;
  });
  el.addEventListener('blur', () => {
    el.value = text();
  });
}
