import { createMemo, For, Show, type JSX } from 'solid-js';
import { UPSCALE_FACTORS } from '../../../protocol/pipeline-config';
import { FORM_RANGES } from '../../lib/generate-form';
import type { GenerateStore } from '../../stores/generate';

interface StageBoxProps {
  title: string;
  hint: string;
  testid: string;
  enabled: boolean;
  onToggle: (on: boolean) => void;
  error?: string;
  children: JSX.Element;
}

/** One optional stage: a checkbox that opens its settings. */
function StageBox(props: StageBoxProps) {
  return (
    <fieldset class="stage-box" classList={{ enabled: props.enabled }}>
      <label class="stage-toggle">
        <input type="checkbox" data-testid={`${props.testid}-enabled`} checked={props.enabled} onChange={(e) => props.onToggle(e.currentTarget.checked)} />
        <span class="stage-title">{props.title}</span>
        <span class="muted small">{props.hint}</span>
      </label>
      <Show when={props.enabled}>
        <div class="stage-fields">{props.children}</div>
      </Show>
      <Show when={props.error}>
        <span class="field-error">{props.error}</span>
      </Show>
    </fieldset>
  );
}

/** Hires fix, refiner and upscaler stages after the generation. */
export function StageOptions(props: { store: GenerateStore }) {
  const s = props.store;
  const upscalers = s.upscalerModels;
  const upscalersForFactor = createMemo(() => upscalers().filter((u) => u.scale === s.form.upscale.factor));

  return (
    <div class="stage-options">
      <StageBox
        title="Hires fix"
        hint="enlarge, then refine at the larger size"
        testid="hires"
        enabled={s.form.hires.on}
        onToggle={(on) => {
          s.setForm('hires', 'on', on);
          s.clearFieldError('hires');
        }}
        error={s.fieldErrors().hires}
      >
        <div class="field-row">
          <label class="field">
            <span class="field-label">Scale</span>
            <input type="number" min={FORM_RANGES.hiresScale.min} max={FORM_RANGES.hiresScale.max} step={FORM_RANGES.hiresScale.step} data-testid="hires-scale" value={s.form.hires.scale} onInput={(e) => s.setForm('hires', 'scale', e.currentTarget.value)} />
          </label>
          <label class="field grow">
            <span class="field-label">Upscaler</span>
            <select data-testid="hires-upscaler" value={s.form.hires.upscaler} onChange={(e) => s.setForm('hires', 'upscaler', e.currentTarget.value)}>
              <option value="latent" selected={s.form.hires.upscaler === 'latent'}>
                Latent
              </option>
              <For each={upscalers()}>
                {(u) => (
                  <option value={u.name} selected={s.form.hires.upscaler === u.name}>
                    {u.name} (×{u.scale})
                  </option>
                )}
              </For>
            </select>
          </label>
        </div>
        <div class="field-row">
          <label class="field">
            <span class="field-label">Denoising</span>
            <input type="number" min={FORM_RANGES.strength.min} max={FORM_RANGES.strength.max} step={FORM_RANGES.strength.step} data-testid="hires-strength" value={s.form.hires.strength} onInput={(e) => s.setForm('hires', 'strength', e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">Steps</span>
            <input type="number" min={FORM_RANGES.steps.min} max={FORM_RANGES.steps.max} placeholder="same" data-testid="hires-steps" value={s.form.hires.steps} onInput={(e) => s.setForm('hires', 'steps', e.currentTarget.value)} />
          </label>
        </div>
      </StageBox>

      <StageBox
        title="Refiner"
        hint="img2img over the result"
        testid="refiner"
        enabled={s.form.refiner.on}
        onToggle={(on) => {
          s.setForm('refiner', 'on', on);
          s.clearFieldError('refiner');
        }}
        error={s.fieldErrors().refiner}
      >
        <div class="field-row">
          <label class="field">
            <span class="field-label">Strength</span>
            <input type="number" min={FORM_RANGES.strength.min} max={FORM_RANGES.strength.max} step={FORM_RANGES.strength.step} data-testid="refiner-strength" value={s.form.refiner.strength} onInput={(e) => s.setForm('refiner', 'strength', e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">Steps</span>
            <input type="number" min={FORM_RANGES.steps.min} max={FORM_RANGES.steps.max} placeholder="same" data-testid="refiner-steps" value={s.form.refiner.steps} onInput={(e) => s.setForm('refiner', 'steps', e.currentTarget.value)} />
          </label>
        </div>
        <label class="field">
          <span class="field-label">Model</span>
          <select data-testid="refiner-model" value={s.form.refiner.model} onChange={(e) => s.setForm('refiner', 'model', e.currentTarget.value)}>
            <option value="" selected={s.form.refiner.model === ''}>
              Same as above
            </option>
            <For each={s.usableModels()}>
              {(m) => (
                <option value={m.name} selected={s.form.refiner.model === m.name}>
                  {m.name}
                </option>
              )}
            </For>
          </select>
        </label>
      </StageBox>

      <StageBox
        title="Upscale"
        hint="super-resolution model at the end"
        testid="upscale"
        enabled={s.form.upscale.on}
        onToggle={(on) => {
          s.setForm('upscale', 'on', on);
          s.clearFieldError('upscaler');
        }}
        error={s.fieldErrors().upscaler}
      >
        <div class="field-row">
          <label class="field">
            <span class="field-label">Factor</span>
            <select data-testid="gen-upscale-factor" value={String(s.form.upscale.factor)} onChange={(e) => s.setUpscaleFactor(Number(e.currentTarget.value))}>
              <For each={UPSCALE_FACTORS}>
                {(f) => (
                  <option value={String(f)} selected={f === s.form.upscale.factor}>
                    ×{f}
                  </option>
                )}
              </For>
            </select>
          </label>
          <label class="field grow">
            <span class="field-label">Model</span>
            <select data-testid="gen-upscale-model" value={s.form.upscale.model} onChange={(e) => s.setForm('upscale', 'model', e.currentTarget.value)}>
              <option value="" selected={s.form.upscale.model === ''}>
                Default for ×{s.form.upscale.factor}
              </option>
              <For each={upscalersForFactor()}>
                {(u) => (
                  <option value={u.name} selected={s.form.upscale.model === u.name}>
                    {u.name}
                    {u.bundled ? '' : ' (imported)'}
                  </option>
                )}
              </For>
            </select>
          </label>
        </div>
      </StageBox>
    </div>
  );
}
