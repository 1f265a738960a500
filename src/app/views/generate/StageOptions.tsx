import { createMemo, For, Show, type JSX } from 'solid-js';
import { UPSCALE_FACTORS } from '../../lib/generation-parameters';
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
  const upscalers = createMemo(() => (s.upscalerModels.error ? [] : (s.upscalerModels.latest ?? [])));
  const upscalersForFactor = createMemo(() => upscalers().filter((u) => u.scale === s.upscaleFactor()));

  return (
    <div class="stage-options">
      <StageBox
        title="Hires fix"
        hint="enlarge, then refine at the larger size"
        testid="hires"
        enabled={s.hiresOn()}
        onToggle={(on) => {
          s.setHiresOn(on);
          s.clearFieldError('hires');
        }}
        error={s.fieldErrors().hires}
      >
        <div class="field-row">
          <label class="field">
            <span class="field-label">Scale</span>
            <input type="number" min="1.05" max="4" step="0.05" data-testid="hires-scale" value={s.hiresScale()} onInput={(e) => s.setHiresScale(e.currentTarget.value)} />
          </label>
          <label class="field grow">
            <span class="field-label">Upscaler</span>
            <select data-testid="hires-upscaler" value={s.hiresUpscaler()} onChange={(e) => s.setHiresUpscaler(e.currentTarget.value)}>
              <option value="latent" selected={s.hiresUpscaler() === 'latent'}>
                Latent
              </option>
              <For each={upscalers()}>
                {(u) => (
                  <option value={u.name} selected={s.hiresUpscaler() === u.name}>
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
            <input type="number" min="0" max="1" step="0.05" data-testid="hires-strength" value={s.hiresStrength()} onInput={(e) => s.setHiresStrength(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">Steps</span>
            <input type="number" min="1" max="150" placeholder="same" data-testid="hires-steps" value={s.hiresSteps()} onInput={(e) => s.setHiresSteps(e.currentTarget.value)} />
          </label>
        </div>
      </StageBox>

      <StageBox
        title="Refiner"
        hint="img2img over the result"
        testid="refiner"
        enabled={s.refinerOn()}
        onToggle={(on) => {
          s.setRefinerOn(on);
          s.clearFieldError('refiner');
        }}
        error={s.fieldErrors().refiner}
      >
        <div class="field-row">
          <label class="field">
            <span class="field-label">Strength</span>
            <input type="number" min="0" max="1" step="0.05" data-testid="refiner-strength" value={s.refinerStrength()} onInput={(e) => s.setRefinerStrength(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">Steps</span>
            <input type="number" min="1" max="150" placeholder="same" data-testid="refiner-steps" value={s.refinerSteps()} onInput={(e) => s.setRefinerSteps(e.currentTarget.value)} />
          </label>
        </div>
        <label class="field">
          <span class="field-label">Model</span>
          <select data-testid="refiner-model" value={s.refinerModel()} onChange={(e) => s.setRefinerModel(e.currentTarget.value)}>
            <option value="" selected={s.refinerModel() === ''}>
              Same as above
            </option>
            <For each={s.usableModels()}>
              {(m) => (
                <option value={m.name} selected={s.refinerModel() === m.name}>
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
        enabled={s.upscaleOn()}
        onToggle={(on) => {
          s.setUpscaleOn(on);
          s.clearFieldError('upscaler');
        }}
        error={s.fieldErrors().upscaler}
      >
        <div class="field-row">
          <label class="field">
            <span class="field-label">Factor</span>
            <select data-testid="gen-upscale-factor" value={String(s.upscaleFactor())} onChange={(e) => {
                s.setUpscaleFactor(Number(e.currentTarget.value));
                s.setUpscaleModel('');
              }}>
              <For each={UPSCALE_FACTORS}>
                {(f) => (
                  <option value={String(f)} selected={f === s.upscaleFactor()}>
                    ×{f}
                  </option>
                )}
              </For>
            </select>
          </label>
          <label class="field grow">
            <span class="field-label">Model</span>
            <select data-testid="gen-upscale-model" value={s.upscaleModel()} onChange={(e) => s.setUpscaleModel(e.currentTarget.value)}>
              <option value="" selected={s.upscaleModel() === ''}>
                Default for ×{s.upscaleFactor()}
              </option>
              <For each={upscalersForFactor()}>
                {(u) => (
                  <option value={u.name} selected={s.upscaleModel() === u.name}>
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
