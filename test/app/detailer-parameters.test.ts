// @vitest-environment node
/** The Generate view's detailer stage: form checks, config, and loading it back from A1111/ADetailer text, our PNGs and configs. */
import { describe, expect, it } from 'vitest';
import { checkGenerateForm, MESSAGES, type GenerateFormText } from '../../src/app/lib/generate-form';
import { applyLoaded } from '../../src/app/lib/generate-load';
import {
  adetailerTarget,
  buildPipelineConfig,
  fromA1111Infotext,
  fromMediaLabMetadata,
  fromPipelineConfig,
  readPngParameters,
  type GenerateForm,
} from '../../src/app/lib/generation-parameters';
import { textChunks } from '../../src/media/artifact-png';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { DEFAULTS } from '../../src/protocol/pipeline-config';
import type { ArtifactMetadata } from '../../src/protocol/stage-results';
import { validatePipelineConfig } from '../../src/pipeline/workbench';
import { formText } from '../helpers/generate-form-text';

const context = { model: 'sd', registeredCount: 1, usableModels: ['sd'], fixedSize: null };
const withDetailer = (over: Partial<GenerateFormText['detailer']> = {}) => {
  const base = formText();
  return formText({ detailer: { ...base.detailer, on: true, ...over } });
};
const loadContext = { usableModels: ['sd', 'tiny-sd15'], currentModel: 'sd', upscalers: [] };

/** Real-looking A1111 1.10 + ADetailer 24.x infotext: a face tab, a hand tab, a person tab. */
const A1111_ADETAILER = [
  'masterpiece, 1girl, waving at the viewer, (detailed hands:1.2)',
  'Negative prompt: lowres, bad anatomy',
  'Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3141592, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, ' +
    'ADetailer model: face_yolov8n.pt, ADetailer prompt: "detailed face, blue eyes", ADetailer confidence: 0.3, ADetailer dilate erode: 4, ADetailer mask blur: 4, ' +
    'ADetailer denoising strength: 0.35, ADetailer inpaint only masked: True, ADetailer inpaint padding: 32, ' +
    'ADetailer model 2nd: hand_yolov8n.pt, ADetailer confidence 2nd: 0.5, ADetailer dilate erode 2nd: 4, ADetailer mask blur 2nd: 4, ' +
    'ADetailer denoising strength 2nd: 0.45, ADetailer inpaint only masked 2nd: True, ADetailer inpaint padding 2nd: 32, ' +
    'ADetailer use separate steps 2nd: True, ADetailer steps 2nd: 40, ' +
    'ADetailer model 3rd: person_yolov8n-seg.pt, ADetailer confidence 3rd: 0.3, ADetailer denoising strength 3rd: 0.4, ' +
    'ADetailer version: 24.11.1, Version: v1.10.1',
].join('\n');

describe('the detailer in the Generate form', () => {
  it('off by default: no detailer stage', () => {
    const { form } = checkGenerateForm(formText(), context);
    expect(form?.detailer).toBeNull();
    expect(buildPipelineConfig(form!).stages.map((s) => s.stage_type)).toEqual(['text_to_image']);
  });

  it('on: faces at ADetailer’s defaults, no prompt of its own', () => {
    const { form, errors } = checkGenerateForm(withDetailer(), context);
    expect(errors).toEqual({});
    expect(form?.detailer).toEqual({ targets: ['face'], face_strength: DEFAULTS.face_strength, hand_strength: DEFAULTS.hand_strength, confidence: DEFAULTS.confidence });
  });

  it('faces and hands with their strengths, a confidence and a prompt; the config passes the protocol', () => {
    const { form } = checkGenerateForm(withDetailer({ hand: true, faceStrength: '0.25', handStrength: '0.6', confidence: '0.45', prompt: 'sharp eyes' }), context);
    expect(form?.detailer).toEqual({ targets: ['face', 'hand'], face_strength: 0.25, hand_strength: 0.6, confidence: 0.45, prompt: 'sharp eyes' });
    const config = buildPipelineConfig({ ...form!, upscaler: { factor: 2 } } as GenerateForm);
    expect(config.stages.map((s) => s.name ?? s.stage_type)).toEqual(['text_to_image', 'detailer', 'upscaler']);
    expect(() => validatePipelineConfig(config)).not.toThrow();
  });

  it('refuses no target, strengths and a confidence outside 0–1, each in words', () => {
    expect(checkGenerateForm(withDetailer({ face: false, hand: false }), context).errors.detailer).toBe(MESSAGES.detailerTargets);
    expect(checkGenerateForm(withDetailer({ faceStrength: '1.2' }), context).errors.detailer).toBe(MESSAGES.faceStrength);
    expect(checkGenerateForm(withDetailer({ handStrength: '' }), context).errors.detailer).toBe(MESSAGES.handStrength);
    expect(checkGenerateForm(withDetailer({ confidence: '-0.1' }), context).errors.detailer).toBe(MESSAGES.confidence);
    expect(MESSAGES.faceStrength).toBe('Face strength must be from 0 to 1.');
    // Off, its fields are not checked.
    expect(checkGenerateForm(formText({ detailer: { ...withDetailer({ faceStrength: 'x' }).detailer, on: false } }), context).errors).toEqual({});
  });
});

describe('ADetailer infotext → the detailer stage', () => {
  it('maps model names by what they find', () => {
    expect(['face_yolov8n.pt', 'mediapipe_face_full', 'blazeface-back', 'hand_yolov8s.pt', 'mediapipe-palm', 'person_yolov8n-seg.pt', 'yolov8x-worldv2.pt'].map(adetailerTarget)).toEqual([
      'face',
      'face',
      'face',
      'hand',
      'hand',
      undefined,
      undefined,
    ]);
  });

  it('a real-looking A1111 + ADetailer text: face and hand passes restored, the rest said in words', () => {
    const loaded = fromA1111Infotext(A1111_ADETAILER);
    expect(loaded.parameters).toMatchObject({ prompt: 'masterpiece, 1girl, waving at the viewer, (detailed hands:1.2)', steps: 28, seed: 3141592, width: 512, height: 768 });
    expect(loaded.parameters.detailer).toEqual({
      targets: ['face', 'hand'],
      face_strength: 0.35,
      hand_strength: 0.45,
      confidence: 0.3,
      prompt: 'detailed face, blue eyes',
      dilate: 4,
      mask_blur: 4,
      inpaint_padding: 32,
      inpaint_area: 'only_masked',
    });
    expect(loaded.unmapped).toEqual([
      'ADetailer confidence 2nd 0.5 differs from ADetailer confidence 0.3; faces and hands share one here, so 0.3 is used',
      'ADetailer steps 2nd 40: the detailer here uses the generation\'s steps',
      'ADetailer model 3rd "person_yolov8n-seg.pt" finds neither faces nor hands; the detailer here redraws only those, so that pass is left out',
    ]);
  });

  it('no ADetailer keys: the detailer is off; a bad value is said and the default used', () => {
    expect(fromA1111Infotext('a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512').parameters.detailer).toBeNull();
    const bad = fromA1111Infotext('a cat\nSteps: 20, Sampler: Euler, Seed: 1, ADetailer model: mediapipe_face_full, ADetailer denoising strength: 1.5, ADetailer mask blur: soft');
    expect(bad.parameters.detailer).toEqual({ targets: ['face'], face_strength: DEFAULTS.face_strength, hand_strength: DEFAULTS.hand_strength, confidence: DEFAULTS.confidence });
    expect(bad.unmapped).toEqual([
      'ADetailer mask blur "soft" is not a whole number',
      'ADetailer: face_strength must be between 0 and 1 (it is 1.5); the default is used',
    ]);
  });

  it('applyLoaded turns the detailer on with its values, and keeps what the form does not show', () => {
    const out = applyLoaded(formText(), fromA1111Infotext(A1111_ADETAILER), loadContext);
    expect(out.form.detailer).toEqual({
      on: true,
      face: true,
      hand: true,
      faceStrength: '0.35',
      handStrength: '0.45',
      confidence: '0.3',
      prompt: 'detailed face, blue eyes',
      kept: { dilate: 4, mask_blur: 4, inpaint_padding: 32, inpaint_area: 'only_masked' },
    });
    expect(out.loaded).toContain('detailer');
    // What it loaded is what it submits.
    const { form } = checkGenerateForm(out.form, context);
    expect(buildPipelineConfig(form!).stages[1].parameters).toMatchObject({ targets: ['face', 'hand'], face_strength: 0.35, hand_strength: 0.45, dilate: 4, inpaint_area: 'only_masked' });
    // A file without a detailer turns it off again.
    const off = applyLoaded(out.form, fromA1111Infotext('a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512'), loadContext);
    expect(off.form.detailer.on).toBe(false);
  });
});

describe('our own records → the detailer stage', () => {
  const form = checkGenerateForm(withDetailer({ hand: true, faceStrength: '0.3', handStrength: '0.55', prompt: 'sharp eyes' }), { ...context, model: 'tiny-sd15', usableModels: ['tiny-sd15'] }).form!;
  const job = { pipeline_config: buildPipelineConfig(form), input_data: { seed: 99 } };
  const detailed: ArtifactMetadata = {
    stage_type: 'detailer',
    stage: 'detailer',
    model: 'tiny-sd15',
    mode: 'detect',
    strength: 0.3,
    regions: [],
    detectors: ['blazeface-back', 'mediapipe-palm'],
    message: 'no face or hand found',
    inpaint_area: 'only_masked',
    masked_content: 'original',
    mask_blur: 4,
    inpaint_padding: 32,
    unet_channels: 0,
    steps_run: 0,
    scheduler: 'euler',
    seed: 99,
    output_size: [512, 512],
    ms: 5,
    parameters: { targets: ['face', 'hand'], face_strength: 0.3, hand_strength: 0.55, confidence: 0.3, dilate: 4, mask_blur: 4, inpaint_padding: 32, prompt: 'sharp eyes' },
    job,
  };

  it('a detailed PNG from a Generate job restores the whole pipeline, the detailer on', () => {
    const png = addPngTextChunks(encodePng(createRgbaImage(2, 2)), textChunks(detailed));
    const loaded = readPngParameters(png);
    expect(loaded.source).toBe('media-lab');
    expect(loaded.unmapped).toEqual([]);
    expect(loaded.parameters).toMatchObject({ prompt: 'a cat', seed: 99, detailer: { targets: ['face', 'hand'], face_strength: 0.3, hand_strength: 0.55, prompt: 'sharp eyes' } });
    // Its A1111 text alone gives the same detailer.
    const a1111 = fromA1111Infotext(textChunks(detailed)[0].text);
    expect(a1111.parameters).toMatchObject({ prompt: 'a cat', seed: 99, detailer: { targets: ['face', 'hand'], face_strength: 0.3, hand_strength: 0.55, prompt: 'sharp eyes' } });
  });

  it('a detailer run on its own (Enhance) gives its settings and says the rest is not there', () => {
    const loaded = fromMediaLabMetadata({ ...detailed, job: { pipeline_config: { stages: [{ stage_type: 'detailer' }] }, input_data: {} } });
    expect(loaded.parameters.detailer).toMatchObject({ targets: ['face', 'hand'], face_strength: 0.3 });
    expect(loaded.parameters.prompt).toBeUndefined();
    expect(loaded.unmapped.at(-1)).toMatch(/only the detailer settings are loaded/);
    const masked = fromMediaLabMetadata({ ...detailed, mode: 'inpainting', job: undefined });
    expect(masked.parameters.detailer).toBeUndefined();
    expect(masked.unmapped[0]).toBe('this image was detailed with a painted mask, which the Generate view does not do');
  });

  it('a config whose detailer has its own model or CFG says they are not kept', () => {
    const loaded = fromPipelineConfig({
      stages: [
        { stage_type: 'text_to_image', parameters: { prompt: 'x', model: 'sd', guidance_scale: 7 } },
        { stage_type: 'detailer', parameters: { model: 'inpaint-model', guidance_scale: 5, targets: ['hand'], hand_strength: 0.6 } },
      ],
    });
    expect(loaded.parameters.detailer).toEqual({ targets: ['hand'], face_strength: DEFAULTS.face_strength, hand_strength: 0.6, confidence: DEFAULTS.confidence });
    expect(loaded.unmapped).toEqual([
      'stages[1] (detailer): its own model "inpaint-model" is not kept; the detailer here uses the generation\'s',
      "stages[1] (detailer): its own guidance_scale 5 is not kept; the detailer here uses the generation's",
    ]);
  });
});
