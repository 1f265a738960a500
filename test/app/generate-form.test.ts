// @vitest-environment node
/** The Generate form's checks: the protocol's limits, at their edges. */
import { describe, expect, it } from 'vitest';
import {
  checkGenerateForm,
  FORM_RANGES,
  INITIAL_FORM,
  MESSAGES,
  modelDefaultsPatch,
  parseDecimal,
  parseWhole,
  type GenerateFormContext,
  type GenerateFormText,
} from '../../src/app/lib/generate-form';
import { applyLoaded } from '../../src/app/lib/generate-load';
import { buildPipelineConfig } from '../../src/app/lib/generation-parameters';
import { formText } from '../helpers/generate-form-text';
import { DEFAULT_SCHEDULER, LIMITS } from '../../src/protocol/pipeline-config';

const text = formText;
const context: GenerateFormContext = { model: 'sd', registeredCount: 1, usableModels: ['sd', 'other'], fixedSize: null };
const check = (over: Partial<GenerateFormText> = {}, ctx: Partial<GenerateFormContext> = {}) => checkGenerateForm(text(over), { ...context, ...ctx });
const loadContext = { usableModels: ['sd'], currentModel: 'sd', upscalers: [] };

describe('the variation seed in the form', () => {
  it('counts only with a strength above 0; a bad seed or strength is said, not dropped', () => {
    expect(check({ variationSeed: '42', variationStrength: '0' }).form).not.toHaveProperty('subseed');
    expect(check({ variationSeed: '42', variationStrength: '0.3' }).form).toMatchObject({ subseed: 42, subseed_strength: 0.3 });
    expect(check({ variationSeed: '', variationStrength: '0.3' }).errors.variation).toMatch(/variation seed must be a whole number/);
    expect(check({ variationSeed: '42', variationStrength: '2' }).errors.variation).toBe('The variation strength must be a number from 0 to 1.');
    const built = buildPipelineConfig(check({ variationSeed: '42', variationStrength: '0.3' }).form!);
    expect(built.stages[0].parameters).toMatchObject({ subseed: 42, subseed_strength: 0.3 });
  });

  it('loading parameters with a variation sets it; loading a plain seed turns the form’s variation off', () => {
    const withVariation = applyLoaded(text({ variationStrength: '0.5', variationSeed: '9' }), { source: 'a1111', parameters: { seed: 1, subseed: 7, subseed_strength: 0.2 }, unmapped: [] }, loadContext);
    expect([withVariation.form.variationSeed, withVariation.form.variationStrength]).toEqual(['7', '0.2']);
    const plain = applyLoaded(text({ variationStrength: '0.5', variationSeed: '9' }), { source: 'a1111', parameters: { seed: 1 }, unmapped: [] }, loadContext);
    expect(plain.form.variationStrength).toBe('0');
  });
});

describe('checkGenerateForm', () => {
  it('accepts a plain form and builds every field', () => {
    const { form, errors } = check({ seedLocked: true, seedText: '42', karras: true });
    expect(errors).toEqual({});
    expect(form).toMatchObject({ prompt: 'a cat', model: 'sd', seed: 42, steps: 20, guidance_scale: 7, width: 512, height: 512, batch_size: 1, karras: true, hires_fix: null, refiner: null, upscaler: null });
  });

  it('starts from the protocol defaults (Euler, not Euler a)', () => {
    expect(INITIAL_FORM.scheduler).toBe(DEFAULT_SCHEDULER);
    expect(INITIAL_FORM.scheduler).toBe('euler');
  });

  it('CFG: 30 accepted, 30.5 refused, 0 accepted', () => {
    expect(check({ cfg: '30' }).form?.guidance_scale).toBe(30);
    expect(check({ cfg: '30.5' }).errors.cfg).toBe(MESSAGES.cfg);
    expect(check({ cfg: '0' }).form?.guidance_scale).toBe(0);
    expect(check({ cfg: '-1' }).errors.cfg).toBeDefined();
    expect(MESSAGES.cfg).toBe('CFG must be a number from 0 to 30.');
  });

  it('sides: 4096 accepted, 4104 refused, 64 accepted, 56 and 100 refused', () => {
    expect(check({ width: '4096', height: '4096' }).form).toMatchObject({ width: 4096, height: 4096 });
    expect(check({ width: '4104' }).errors.width).toBe('Width must be a multiple of 8 from 64 to 4096.');
    expect(check({ height: '4104' }).errors.height).toBe('Height must be a multiple of 8 from 64 to 4096.');
    expect(check({ width: '64' }).form?.width).toBe(64);
    expect(check({ width: '56' }).errors.width).toBeDefined();
    expect(check({ width: '100' }).errors.width).toBeDefined();
  });

  it('batch: 16 accepted, 17 refused, 0 refused', () => {
    expect(check({ batchSize: '16' }).form?.batch_size).toBe(16);
    expect(check({ batchSize: '17' }).errors.batch).toBe('Batch must be a whole number from 1 to 16.');
    expect(check({ batchSize: '0' }).errors.batch).toBeDefined();
  });

  it('steps: 1 and 1000 accepted, 0, 1001 and 2.5 refused', () => {
    expect(check({ steps: '1' }).form?.steps).toBe(1);
    expect(check({ steps: '1000' }).form?.steps).toBe(1000);
    for (const steps of ['0', '1001', '2.5', '']) expect(check({ steps }).errors.steps).toBe(MESSAGES.steps);
  });

  it('seed: 0 and 2^53 − 1 accepted, 2^53 refused; unlocked = drawn by the worker', () => {
    expect(check({ seedLocked: true, seedText: '0' }).form?.seed).toBe(0);
    expect(check({ seedLocked: true, seedText: String(Number.MAX_SAFE_INTEGER) }).form?.seed).toBe(Number.MAX_SAFE_INTEGER);
    expect(check({ seedLocked: true, seedText: '9007199254740992' }).errors.seed).toBeDefined();
    expect(check({ seedLocked: true, seedText: '-3' }).errors.seed).toBeDefined();
    expect(check({ seedText: 'junk' }).form?.seed).toBeUndefined();
  });

  it('upscale factor: 2, 3, 4, 8 accepted, 7 refused; the output size is capped', () => {
    for (const factor of [2, 3, 4, 8]) expect(check({ upscale: { on: true, factor, model: '' } }).form?.upscaler).toEqual({ factor });
    expect(check({ upscale: { on: true, factor: 7, model: '' } }).errors.upscaler).toBe(MESSAGES.factor);
    expect(check({ width: '4096', height: '4096', upscale: { on: true, factor: 8, model: '' } }).errors.upscaler).toMatch(/largest upscale result/);
  });

  it('hires fix: scale above 1 up to 4, strength 0–1, optional steps within the limits', () => {
    const hires = (h: Partial<GenerateFormText['hires']>) => check({ hires: { on: true, scale: '2', upscaler: 'latent', strength: '0.5', steps: '', ...h } });
    expect(hires({ scale: '4' }).form?.hires_fix).toEqual({ scale: 4, upscaler: 'latent', strength: 0.5 });
    expect(hires({ scale: '1' }).errors.hires).toBe(MESSAGES.hiresScale);
    expect(hires({ scale: '4.5' }).errors.hires).toBe(MESSAGES.hiresScale);
    expect(hires({ strength: '1.5' }).errors.hires).toBe(MESSAGES.hiresStrength);
    expect(hires({ steps: '1000' }).form?.hires_fix?.steps).toBe(1000);
    expect(hires({ steps: '1001' }).errors.hires).toBe(MESSAGES.hiresSteps);
  });

  it('refiner: strength 0–1, a ready model or the main one', () => {
    const refiner = (r: Partial<GenerateFormText['refiner']>) => check({ refiner: { on: true, strength: '0.3', model: '', steps: '', ...r } });
    expect(refiner({ model: 'other', steps: '5' }).form?.refiner).toEqual({ strength: 0.3, model: 'other', steps: 5 });
    expect(refiner({ strength: '1.01' }).errors.refiner).toBe(MESSAGES.refinerStrength);
    expect(refiner({ model: 'missing' }).errors.refiner).toMatch(/'missing' is not a ready checkpoint/);
  });

  it('a fixed-size model refuses another size, and a hires fix', () => {
    const fixed = { fixedSize: { width: 512, height: 512 } };
    expect(check({ width: '64', height: '64' }, fixed).errors.width).toMatch(/sd only makes 512×512 images/);
    expect(check({}, fixed).form).toBeDefined();
    expect(check({ hires: { on: true, scale: '2', upscaler: 'latent', strength: '0.5', steps: '' } }, fixed).errors.hires).toMatch(/cannot refine a 1024×1024/);
  });

  it('says what is missing: a model, a prompt (not when saving)', () => {
    expect(check({ prompt: '  ' }).errors.prompt).toMatch(/Write a prompt first/);
    expect(check({}, { model: '', registeredCount: 0 }).errors.model).toMatch(/No image model is registered.*Models view/);
    expect(check({}, { model: '', registeredCount: 2 }).errors.model).toMatch(/None of the registered checkpoints is ready/);
    expect(check({ prompt: '' }, { model: '', forSave: true }).form).toMatchObject({ prompt: '', model: '' });
  });

  it('offers input ranges taken from the protocol limits', () => {
    expect(FORM_RANGES.cfg.max).toBe(LIMITS.guidance_scale.max);
    expect(FORM_RANGES.side).toMatchObject({ min: LIMITS.side.min, max: LIMITS.side.max, step: LIMITS.side.multiple });
    expect(FORM_RANGES.batch.max).toBe(LIMITS.batch_size.max);
    expect(FORM_RANGES.steps.max).toBe(LIMITS.steps.max);
  });

  it('parses numbers as typed, nothing more', () => {
    expect(parseWhole(' 12 ')).toBe(12);
    expect(parseWhole('1.5')).toBeUndefined();
    expect(parseWhole('-1')).toBeUndefined();
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('7.')).toBe(7);
    expect(parseDecimal('1e3')).toBeUndefined();
  });
});

describe('modelDefaultsPatch', () => {
  const turbo = { default_steps: 1, default_cfg: 0, default_scheduler: 'euler_a' as const };
  it('a picked model brings its defaults, said in words', () => {
    expect(modelDefaultsPatch(turbo, null, text({ steps: '9' }), false)).toEqual({
      patch: { steps: '1', cfg: '0', scheduler: 'euler_a' },
      changed: ['1 steps', 'CFG 0', 'euler_a'],
    });
  });
  it('the first pick keeps what was typed; a fixed size always wins', () => {
    const { patch } = modelDefaultsPatch(turbo, { width: 512, height: 512 }, text({ steps: '3', cfg: INITIAL_FORM.cfg, width: '64', height: '64' }), true);
    expect(patch).toEqual({ cfg: '0', scheduler: 'euler_a', width: '512', height: '512' });
  });
});

describe('applyLoaded', () => {
  it('fills the fields a source holds and says what it could not use', () => {
    const out = applyLoaded(
      text(),
      {
        source: 'a1111',
        parameters: {
          prompt: 'a castle',
          model: 'SD.safetensors',
          seed: 99,
          steps: 7,
          scheduler: 'dpmpp_2m',
          karras: true,
          hires_fix: { scale: 2, upscaler: 'ESRGAN_4x', strength: 0.4 },
          refiner: null,
          upscaler: { factor: 4 },
        },
        unmapped: ['Clip skip: 2'],
      },
      { usableModels: ['sd'], currentModel: 'other', upscalers: [] },
    );
    expect(out.model).toBe('sd');
    expect(out.form).toMatchObject({
      prompt: 'a castle',
      seedText: '99',
      seedLocked: true,
      steps: '7',
      scheduler: 'dpmpp_2m',
      karras: true,
      hires: { on: true, scale: '2', upscaler: 'latent', strength: '0.4', steps: '' },
      refiner: { on: false },
      upscale: { on: true, factor: 4, model: '' },
    });
    expect(out.unmapped).toEqual(['Clip skip: 2', "hires fix upscaler 'ESRGAN_4x' is not installed here; using Latent"]);
    expect(out.loaded).toContain('prompt');
  });

  it('keeps the model when the loaded one is not registered', () => {
    const out = applyLoaded(text(), { source: 'media-lab', parameters: { model: 'elsewhere' }, unmapped: [] }, { usableModels: ['sd'], currentModel: 'sd', upscalers: [] });
    expect(out.model).toBeUndefined();
    expect(out.loaded).not.toContain('model');
    expect(out.unmapped[0]).toMatch(/'elsewhere' is not registered here; keeping sd/);
  });
});
