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
