/**
 * Enhance → "Fix faces and hands / inpaint" (the detailer stage): find faces and hands and redraw
 * each at the checkpoint's own size, or redraw what the user paints over the image.
 */
import { For, Show } from 'solid-js';
import { bindNumberField } from '../../components/number-field';
import { navigate } from '../../router';
import {
  DETAIL_RANGES,
  DETAILER_TARGETS,
  foundText,
  INPAINT_AREA_LABELS,
  INPAINT_AREAS,
  MASKED_CONTENT_LABELS,
  MASKED_CONTENTS,
  TARGET_LABELS,
  type DetailChoice,
} from '../../lib/enhance-detail';
import type { EnhanceStore } from '../../stores/enhance';
import type { DetailerTarget } from '../../../protocol/pipeline-config';

/** A 0–1 slider with a number field beside it, both bound to one setting. */
function StrengthField(props: {
  id: string;
  label: string;
  testid: string;
  value: number;
  disabled: boolean;
  hint?: string;
  range?: { min: number; max: number; step: number };
  onInput: (value: number) => void;
}) {
  const range = () => props.range ?? DETAIL_RANGES.strength;
  const take = (text: string) => props.onInput(text.trim() === '' ? Number.NaN : Number(text));
  return (
    <div class="field">
      <label class="field-label" for={props.id}>
        {props.label}
      </label>
      <div class="refine-strength">
        <input
          type="range"
          min={range().min}
          max={range().max}
          step={range().step}
          aria-label={props.label}
          data-testid={props.testid}
          value={Number.isFinite(props.value) ? props.value : 0}
          disabled={props.disabled}
          onInput={(event) => take(event.currentTarget.value)}
        />
        <input
          ref={(el) => bindNumberField(el, () => props.value)}
          id={props.id}
          type="number"
          min={range().min}
          max={range().max}
          step="any"
          inputmode="decimal"
          data-testid={`${props.testid}-value`}
          disabled={props.disabled}
          onInput={(event) => take(event.currentTarget.value)}
        />
      </div>
      <Show when={props.hint}>
        <span class="muted small">{props.hint}</span>
      </Show>
    </div>
  );
}

export function DetailSection(props: { s: EnhanceStore }) {
  const s = props.s;
  const d = () => s.detailSettings();
  const set = (patch: Partial<DetailChoice>) => s.updateDetail(patch);
  const strengthOf = (target: DetailerTarget) => (target === 'face' ? d().face_strength : d().hand_strength);
  const setStrengthOf = (target: DetailerTarget, value: number) => set(target === 'face' ? { face_strength: value } : { hand_strength: value });
  const whole = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

  return (
    <fieldset class="refine-section detail-section" classList={{ 'refine-on': s.detail() }} data-testid="detail-section">
      <legend class="visually-hidden">Detailer</legend>
      <label class="refine-check">
        <input
          type="checkbox"
          data-testid="enhance-detail"
          checked={s.detail()}
          disabled={s.busy()}
          onChange={(event) => {
            s.setDetail(event.currentTarget.checked);
            if (event.currentTarget.checked) s.wantModels();
          }}
        />
        <span>
          <span class="refine-check-label">Fix faces and hands, or inpaint</span>
          <span class="muted small">Find faces and hands and redraw each sharply, or paint over what to redraw.</span>
        </span>
      </label>

      <Show when={s.detail()}>
        <div class="refine-fields">
          <div class="segmented" role="radiogroup" aria-label="What to redraw">
            <label classList={{ active: d().mode === 'detect' }} data-testid="detail-mode-detect">
              <input
                type="radio"
                name="detail-mode"
                checked={d().mode === 'detect'}
                disabled={s.busy()}
                onChange={() => s.setDetailMode('detect')}
              />
              Faces and hands
            </label>
            <label classList={{ active: d().mode === 'mask' }} data-testid="detail-mode-mask">
              <input
                type="radio"
                name="detail-mode"
                checked={d().mode === 'mask'}
                disabled={s.busy()}
                onChange={() => s.setDetailMode('mask')}
              />
              Painted mask
            </label>
          </div>

          <label class="field">
            <span class="field-label">Checkpoint</span>
            <select
              data-testid="detail-model"
              value={s.detailModel()}
              disabled={!s.detailModel() || s.busy()}
              onChange={(event) => s.setDetailModel(event.currentTarget.value)}
            >
              <Show
                when={s.verifiedCheckpoints().length > 0}
                fallback={<option value="">{s.checkpointsLoading() ? 'Loading…' : 'No checkpoint imported'}</option>}
              >
                <For each={s.verifiedCheckpoints()}>
                  {(model) => (
                    <option value={model.name} selected={model.name === s.detailModel()} disabled={!s.canRefineWith(model)}>
                      {model.name}
                      {model.family ? ` · ${model.family.family}` : ''}
                      {s.canRefineWith(model) ? '' : ' (no VAE encoder)'}
                    </option>
                  )}
                </For>
              </Show>
            </select>
          </label>

          <Show
            when={d().mode === 'detect'}
            fallback={
              <>
                <p class="muted small" data-testid="detail-mask-hint">
                  Paint over the image on the right: white is redrawn, the rest stays as it is.
                </p>
                <StrengthField
                  id="detail-strength-field"
                  label="Strength"
                  testid="detail-strength"
                  value={d().strength}
                  disabled={s.busy()}
                  hint="How much the painted area changes: 0.75 redraws it freely, 0.3 keeps its shapes."
                  onInput={(strength) => set({ strength })}
                />
                <div class="field-row">
                  <label class="field grow">
                    <span class="field-label">Masked content</span>
                    <select
                      data-testid="detail-masked-content"
                      value={d().masked_content}
                      disabled={s.busy()}
                      onChange={(event) => set({ masked_content: event.currentTarget.value as DetailChoice['masked_content'] })}
                    >
                      <For each={MASKED_CONTENTS}>
                        {(content) => (
                          <option value={content} selected={content === d().masked_content}>
                            {MASKED_CONTENT_LABELS[content]}
                          </option>
                        )}
                      </For>
                    </select>
                  </label>
                  <label class="field grow">
                    <span class="field-label">Inpaint area</span>
                    <select
                      data-testid="detail-inpaint-area"
                      value={d().inpaint_area}
                      disabled={s.busy()}
                      onChange={(event) => set({ inpaint_area: event.currentTarget.value as DetailChoice['inpaint_area'] })}
                    >
                      <For each={INPAINT_AREAS}>
                        {(area) => (
                          <option value={area} selected={area === d().inpaint_area}>
                            {INPAINT_AREA_LABELS[area]}
                          </option>
                        )}
                      </For>
                    </select>
                  </label>
                </div>
                <div class="field-row">
                  <label class="field">
                    <span class="field-label">Mask blur (px)</span>
                    <input
                      type="number"
                      {...DETAIL_RANGES.mask_blur}
                      data-testid="detail-mask-blur"
                      ref={(el) => bindNumberField(el, () => d().mask_blur)}
                      disabled={s.busy()}
                      onInput={(event) => set({ mask_blur: whole(event.currentTarget.value) })}
                    />
                  </label>
                  <label class="field">
                    <span class="field-label">Padding (px)</span>
                    <input
                      type="number"
                      {...DETAIL_RANGES.inpaint_padding}
                      data-testid="detail-padding"
                      ref={(el) => bindNumberField(el, () => d().inpaint_padding)}
                      disabled={s.busy() || d().inpaint_area !== 'only_masked'}
                      title="Only masked: the pixels around the mask the checkpoint sees"
                      onInput={(event) => set({ inpaint_padding: whole(event.currentTarget.value) })}
                    />
                  </label>
                </div>
              </>
            }
          >
            <For each={DETAILER_TARGETS}>
              {(target) => (
                <div class="detail-target">
                  <label class="refine-check">
                    <input
                      type="checkbox"
                      data-testid={`detail-${target}`}
                      checked={d().targets.includes(target)}
                      disabled={s.busy()}
                      onChange={(event) => s.toggleTarget(target, event.currentTarget.checked)}
                    />
                    <span class="refine-check-label">{TARGET_LABELS[target]}</span>
                  </label>
                  <Show when={d().targets.includes(target)}>
                    <StrengthField
                      id={`${target}-strength-field`}
                      label={`${TARGET_LABELS[target].slice(0, -1)} strength`}
                      testid={`${target}-strength`}
                      value={strengthOf(target)}
                      disabled={s.busy()}
                      onInput={(value) => setStrengthOf(target, value)}
                    />
                  </Show>
                </div>
              )}
            </For>
            <StrengthField
              id="detail-confidence-field"
              label="Confidence"
              testid="detail-confidence"
              value={d().confidence}
              disabled={s.busy()}
              range={DETAIL_RANGES.confidence}
              hint="Detections scoring below this are ignored."
              onInput={(confidence) => set({ confidence })}
            />
            <div class="actions">
              <button
                type="button"
                class="btn"
                data-testid="detail-find"
                disabled={!s.source() || s.finding() || d().targets.length === 0}
                onClick={() => void s.find()}
              >
                {s.finding() ? 'Looking…' : 'Find'}
              </button>
              <Show when={s.found()}>
                {(found) => (
                  <span class="muted small" role="status" data-testid="detail-found">
                    {foundText(found().regions, d().targets)}
                  </span>
                )}
              </Show>
            </div>
            <Show when={s.findError()}>
              <p class="error" role="alert" data-testid="detail-find-error">
                {s.findError()}
              </p>
            </Show>
          </Show>

          <label class="field">
            <span class="field-label">Prompt (optional)</span>
            <textarea
              rows="2"
              data-testid="detail-prompt"
              placeholder={d().mode === 'detect' ? 'e.g. a detailed face, sharp eyes' : 'What to draw in the painted area'}
              value={d().prompt}
              disabled={s.busy()}
              onInput={(event) => set({ prompt: event.currentTarget.value })}
            />
          </label>
        </div>

        <For each={s.detailProblems()}>
          {(problem) => (
            <div
              class="refine-problem"
              classList={{ 'refine-problem-info': problem.kind === 'loading' }}
              role={problem.kind === 'loading' ? 'status' : 'alert'}
              data-testid="detail-problem"
              data-kind={problem.kind}
            >
              <p>{problem.message}</p>
              <Show when={problem.kind === 'model'}>
                <button type="button" class="btn" data-testid="detail-open-models" onClick={() => navigate('models')}>
                  Open the Models view
                </button>
              </Show>
            </div>
          )}
        </For>
      </Show>
    </fieldset>
  );
}
