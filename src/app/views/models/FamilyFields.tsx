import { For, Show } from 'solid-js';
import { FAMILY_LABELS, type FamilySettings } from '../../../protocol/models';

// Lists as map keys or literals, type-checked against FamilySettings.
const FAMILIES = Object.keys(FAMILY_LABELS) as Array<FamilySettings['family']>;
const PREDICTION_LABELS: Record<FamilySettings['prediction_type'], string> = {
  epsilon: 'epsilon',
  v_prediction: 'v-prediction',
};
const PREDICTIONS = Object.keys(PREDICTION_LABELS) as Array<FamilySettings['prediction_type']>;
const SCHEDULER_LABELS: Record<FamilySettings['default_scheduler'], string> = {
  euler: 'Euler',
  euler_a: 'Euler ancestral',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  lcm: 'LCM',
};
const SCHEDULERS = Object.keys(SCHEDULER_LABELS) as Array<FamilySettings['default_scheduler']>;

export function familyLabel(family: FamilySettings['family']): string {
  return FAMILY_LABELS[family] ?? family;
}

export function schedulerLabel(scheduler: FamilySettings['default_scheduler']): string {
  return SCHEDULER_LABELS[scheduler] ?? scheduler;
}

/** "SD 1.x · epsilon · 25 steps · CFG 7.5 · Euler · pad 49407". */
export function familySummary(f: FamilySettings): string {
  return [
    familyLabel(f.family),
    PREDICTION_LABELS[f.prediction_type] ?? f.prediction_type,
    `${f.default_steps} steps`,
    `CFG ${f.default_cfg}`,
    schedulerLabel(f.default_scheduler),
    `pad ${f.pad_token_id}`,
  ].join(' · ');
}

export interface FamilyFieldsProps {
  value: FamilySettings;
  onChange: (next: FamilySettings) => void;
  disabled?: boolean;
}

/** Editable family settings of a checkpoint; `sources` say where each value came from. */
export function FamilyFields(props: FamilyFieldsProps) {
  const set = <K extends keyof FamilySettings>(key: K, value: FamilySettings[K]) => {
    const sources = { ...props.value.sources };
    sources[key] = 'set by you';
    props.onChange({ ...props.value, [key]: value, sources });
  };
  const source = (key: keyof FamilySettings) => props.value.sources?.[key];
  // Numbers commit on change (blur or Enter), so typing "7." is not rewritten to "7" midway.
  const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

  const Hint = (p: { key: keyof FamilySettings }) => (
    <Show when={source(p.key)}>
      <span class="muted small">{source(p.key)}</span>
    </Show>
  );

  return (
    <fieldset class="family-fields" disabled={props.disabled} data-testid="family-fields">
      <legend>Family settings</legend>
      <label class="field">
        <span class="field-label">Family</span>
        <select
          value={props.value.family}
          data-testid="family-family"
          onChange={(e) => set('family', e.currentTarget.value as FamilySettings['family'])}
        >
          <For each={FAMILIES}>{(f) => <option value={f}>{familyLabel(f)}</option>}</For>
        </select>
        <Hint key="family" />
      </label>
      <label class="field">
        <span class="field-label">Prediction</span>
        <select
          value={props.value.prediction_type}
          data-testid="family-prediction"
          onChange={(e) => set('prediction_type', e.currentTarget.value as FamilySettings['prediction_type'])}
        >
          <For each={PREDICTIONS}>{(p) => <option value={p}>{PREDICTION_LABELS[p]}</option>}</For>
        </select>
        <Hint key="prediction_type" />
      </label>
      <label class="field">
        <span class="field-label">Steps</span>
        <input
          type="number"
          min="1"
          max="150"
          step="1"
          value={Number.isNaN(props.value.default_steps) ? '' : props.value.default_steps}
          data-testid="family-steps"
          onChange={(e) => set('default_steps', num(e.currentTarget.value))}
        />
        <Hint key="default_steps" />
      </label>
      <label class="field">
        <span class="field-label">CFG</span>
        <input
          type="number"
          min="0"
          max="30"
          step="0.5"
          value={Number.isNaN(props.value.default_cfg) ? '' : props.value.default_cfg}
          data-testid="family-cfg"
          onChange={(e) => set('default_cfg', num(e.currentTarget.value))}
        />
        <Hint key="default_cfg" />
      </label>
      <label class="field">
        <span class="field-label">Scheduler</span>
        <select
          value={props.value.default_scheduler}
          data-testid="family-scheduler"
          onChange={(e) => set('default_scheduler', e.currentTarget.value as FamilySettings['default_scheduler'])}
        >
          <For each={SCHEDULERS}>{(s) => <option value={s}>{schedulerLabel(s)}</option>}</For>
        </select>
        <Hint key="default_scheduler" />
      </label>
      <label class="field">
        <span class="field-label">Pad token</span>
        <input
          type="number"
          min="0"
          step="1"
          value={Number.isNaN(props.value.pad_token_id) ? '' : props.value.pad_token_id}
          data-testid="family-pad"
          onChange={(e) => set('pad_token_id', num(e.currentTarget.value))}
        />
        <Hint key="pad_token_id" />
      </label>
    </fieldset>
  );
}
