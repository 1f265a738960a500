import { createMemo, For, Show, type JSX } from 'solid-js';
import { UPSCALE_FACTORS } from '../../../protocol/pipeline-config';
import { FORM_RANGES } from '../../lib/generate-form';
import type { GenerateStore } from '../../stores/generate';

interface StageBoxProps {
  title: string;
  hint: string;
  testid: string;
  /** The checkbox's test id; default `<testid>-enabled`. */
  toggleTestid?: string;
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
        <input type="checkbox" data-testid={props.toggleTestid ?? `${props.testid}-enabled`} checked={props.enabled} onChange={(e) => props.onToggle(e.currentTarget.checked)} />
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

/** A 0–1 strength slider with its value beside it. */
function StrengthSlider(props: { label: string; testid: string; value: string; disabled?: boolean; onInput: (v: string) => void }) {
  return (
    <label class="field detailer-slider">
      <span class="field-label">
        {props.label} <span class="num muted">{props.value}</span>
      </span>
      <input
        type="range"
        min={FORM_RANGES.strength.min}
        max={FORM_RANGES.strength.max}
        step={FORM_RANGES.strength.step}
        data-testid={props.testid}
        value={props.value}
        disabled={props.disabled}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </label>
  );
}

/** "dilate 8 px, mask blur 4": the loaded detailer settings the form keeps without showing. */
function keptText(kept: GenerateStore['form']['detailer']['kept']): string {
  const parts: string[] = [];
  if (kept.dilate !== undefined) parts.push(`dilate ${kept.dilate} px`);
  if (kept.mask_blur !== undefined) parts.push(`mask blur ${kept.mask_blur}`);
  if (kept.inpaint_area !== undefined) parts.push(kept.inpaint_area === 'only_masked' ? 'only masked' : 'whole picture');
  if (kept.inpaint_padding !== undefined) parts.push(`padding ${kept.inpaint_padding} px`);
  if (kept.masked_content !== undefined) parts.push(`masked content ${kept.masked_content.replace('_', ' ')}`);
  if (kept.max_regions !== undefined) parts.push(`at most ${kept.max_regions} regions`);
  return parts.join(', ');
}

/** Hires fix, refiner, detailer and upscaler stages after the generation. */
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
        title="Detailer"
        hint="redraw faces and hands (ADetailer)"
        testid="detailer"
        toggleTestid="stage-detailer"
        enabled={s.form.detailer.on}
        onToggle={(on) => {
          s.setForm('detailer', 'on', on);
          s.clearFieldError('detailer');
        }}
        error={s.fieldErrors().detailer}
      >
        <div class="field-row detailer-targets">
          <label class="field checkbox-field">
            <span class="field-label">Faces</span>
            <input
              type="checkbox"
              data-testid="detailer-face"
              checked={s.form.detailer.face}
              onChange={(e) => {
                s.setForm('detailer', 'face', e.currentTarget.checked);
                s.clearFieldError('detailer');
              }}
            />
          </label>
          <label class="field checkbox-field">
            <span class="field-label">Hands</span>
            <input
              type="checkbox"
              data-testid="detailer-hand"
              checked={s.form.detailer.hand}
              onChange={(e) => {
                s.setForm('detailer', 'hand', e.currentTarget.checked);
                s.clearFieldError('detailer');
              }}
            />
          </label>
          <label class="field" title="Only detections scored at least this are redrawn">
            <span class="field-label">Confidence</span>
            <input
              type="number"
              min={FORM_RANGES.confidence.min}
              max={FORM_RANGES.confidence.max}
              step={FORM_RANGES.confidence.step}
              data-testid="detailer-confidence"
              value={s.form.detailer.confidence}
              onInput={(e) => s.setForm('detailer', 'confidence', e.currentTarget.value)}
            />
          </label>
        </div>
        <div class="field-row">
          <StrengthSlider label="Face strength" testid="face-strength" value={s.form.detailer.faceStrength} disabled={!s.form.detailer.face} onInput={(v) => s.setForm('detailer', 'faceStrength', v)} />
          <StrengthSlider label="Hand strength" testid="hand-strength" value={s.form.detailer.handStrength} disabled={!s.form.detailer.hand} onInput={(v) => s.setForm('detailer', 'handStrength', v)} />
        </div>
        <label class="field">
          <span class="field-label">Detailer prompt</span>
          <input type="text" data-testid="detailer-prompt" placeholder="same as the prompt" value={s.form.detailer.prompt} onInput={(e) => s.setForm('detailer', 'prompt', e.currentTarget.value)} />
        </label>
        <Show when={keptText(s.form.detailer.kept)}>
          {(text) => (
            <span class="field-hint" data-testid="detailer-kept">
              Also from the loaded file: {text()}.
            </span>
          )}
        </Show>
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
