import { Show } from 'solid-js';
import type { GenerateStore } from '../../stores/generate';

/** A die (five pips). Inline SVG: emoji fonts are not everywhere. */
function DiceIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8">
      <rect x="3.5" y="3.5" width="17" height="17" rx="3.5" />
      <g fill="currentColor" stroke="none">
        <circle cx="8.5" cy="8.5" r="1.5" />
        <circle cx="15.5" cy="8.5" r="1.5" />
        <circle cx="12" cy="12" r="1.5" />
        <circle cx="8.5" cy="15.5" r="1.5" />
        <circle cx="15.5" cy="15.5" r="1.5" />
      </g>
    </svg>
  );
}

function LockIcon(props: { locked: boolean }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round">
      <rect x="5" y="10.5" width="14" height="10" rx="2" />
      <path d={props.locked ? 'M8 10.5V7.5a4 4 0 0 1 8 0v3' : 'M8 10.5V7.5a4 4 0 0 1 7.5-1.9'} />
    </svg>
  );
}

/** Seed: a number, 🎲 for a new random one, and a lock that keeps it across runs. */
export function SeedField(props: { store: GenerateStore }) {
  const s = props.store;
  return (
    <div class="field seed-field grow">
      <span class="field-label">Seed</span>
      <div class="seed-row">
        <input
          type="text"
          inputmode="numeric"
          data-testid="seed"
          value={s.form.seedText}
          placeholder="random each run"
          classList={{ unlocked: !s.form.seedLocked }}
          aria-invalid={s.fieldErrors().seed ? true : undefined}
          aria-label="Seed"
          onInput={(event) => {
            s.typeSeed(event.currentTarget.value);
            s.clearFieldError('seed');
          }}
        />
        <button
          type="button"
          class="btn btn-icon"
          data-testid="seed-dice"
          title="Draw a new random seed (and keep it)"
          aria-label="New random seed"
          onClick={() => {
            s.rollSeed();
            s.clearFieldError('seed');
          }}
        >
          <DiceIcon />
        </button>
        <label class="btn btn-icon seed-lock" classList={{ active: s.form.seedLocked }} title={s.form.seedLocked ? 'The seed is kept for every run' : 'Each run draws a new seed'}>
          <input
            type="checkbox"
            data-testid="seed-lock"
            checked={s.form.seedLocked}
            onChange={(event) => s.toggleSeedLock(event.currentTarget.checked)}
          />
          <LockIcon locked={s.form.seedLocked} />
          <span class="visually-hidden">Keep this seed</span>
        </label>
      </div>
      <Show
        when={s.fieldErrors().seed}
        fallback={
          <span class="field-hint">{s.form.seedLocked ? 'Kept for every run.' : s.form.seedText ? 'Last seed used; the next run draws a new one.' : 'Each run draws a new seed.'}</span>
        }
      >
        <span class="field-error">{s.fieldErrors().seed}</span>
      </Show>
    </div>
  );
}

/**
 * A1111's variation seed ("Extra" beside the seed): the start noise moves from the seed's toward
 * the variation seed's by the strength — small strengths give near copies of the seed's image.
 */
export function VariationFields(props: { store: GenerateStore }) {
  const s = props.store;
  const on = () => Number(s.form.variationStrength) > 0;
  return (
    <details class="variation-fields" open={on()} data-testid="variation">
      <summary class="small">Variation seed{on() ? ` · ${s.form.variationStrength}` : ''}</summary>
      <div class="field-row">
        <label class="field grow">
          <span class="field-label">Variation seed</span>
          <div class="seed-row">
            <input
              type="text"
              inputmode="numeric"
              data-testid="variation-seed"
              value={s.form.variationSeed}
              placeholder="a seed"
              aria-invalid={s.fieldErrors().variation ? true : undefined}
              onInput={(event) => {
                s.setForm('variationSeed', event.currentTarget.value);
                s.clearFieldError('variation');
              }}
            />
            <button
              type="button"
              class="btn btn-icon"
              title="Draw a random variation seed"
              aria-label="New random variation seed"
              onClick={() => s.setForm('variationSeed', String(crypto.getRandomValues(new Uint32Array(1))[0]))}
            >
              <DiceIcon />
            </button>
          </div>
        </label>
        <label class="field grow">
          <span class="field-label">Variation strength</span>
          <input
            type="number"
            min="0"
            max="1"
            step="0.05"
            data-testid="variation-strength"
            value={s.form.variationStrength}
            aria-invalid={s.fieldErrors().variation ? true : undefined}
            onInput={(event) => {
              s.setForm('variationStrength', event.currentTarget.value);
              s.clearFieldError('variation');
            }}
          />
        </label>
      </div>
      <Show when={s.fieldErrors().variation} fallback={<span class="field-hint">0 = the seed's image; 1 = the variation seed's.</span>}>
        <span class="field-error">{s.fieldErrors().variation}</span>
      </Show>
    </details>
  );
}
