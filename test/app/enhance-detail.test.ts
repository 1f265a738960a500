// @vitest-environment node
/** Enhance's Detailer: the stage it builds, what stops it, where Find's boxes go, and its result. */
import { describe, expect, it } from 'vitest';
import { boxOverlays, detailParameters, detailProblems, foundText, INITIAL_DETAIL, type DetailChoice, type DetailState } from '../../src/app/lib/enhance-detail';
import { buildEnhanceStages, enhanceOutcome, resultArtifact, runNoun, type EnhanceRun } from '../../src/app/lib/enhance-form';
import { DEFAULTS, PipelineConfig } from '../../src/protocol/pipeline-config';
import type { JobResult } from '../../src/protocol/schemas';
import type { DetailerMetadata } from '../../src/protocol/stage-results';

const choice = (over: Partial<DetailChoice> = {}): DetailChoice => ({ ...INITIAL_DETAIL, model: 'sd', ...over });
const state = (over: Partial<DetailChoice> = {}, rest: Partial<DetailState> = {}): DetailState => ({
  choice: choice(over),
  maskPainted: true,
  checkpointsLoading: false,
  noModelMessage: 'no checkpoint',
  ...rest,
});

describe('enhance detailer: the stage', () => {
  it('defaults are the protocol\'s: faces, strengths 0.4, confidence 0.3', () => {
    expect(INITIAL_DETAIL).toMatchObject({
      mode: 'detect',
      targets: ['face'],
      face_strength: DEFAULTS.face_strength,
      hand_strength: DEFAULTS.hand_strength,
      confidence: DEFAULTS.confidence,
      strength: DEFAULTS.detailer_strength,
    });
    expect(DEFAULTS.face_strength).toBe(0.4);
  });

  it('detect mode sends the targets and their strengths; mask mode the inpainting settings', () => {
    expect(detailParameters(choice({ targets: ['face', 'hand'], face_strength: 0.35, prompt: ' sharp eyes ' }))).toEqual({
      model: 'sd',
      prompt: 'sharp eyes',
      mask_blur: 4,
      targets: ['face', 'hand'],
      face_strength: 0.35,
      hand_strength: 0.4,
      confidence: 0.3,
    });
    expect(detailParameters(choice({ mode: 'mask', strength: 0.6, masked_content: 'latent_noise', inpaint_area: 'only_masked' }))).toEqual({
      model: 'sd',
      mask_blur: 4,
      strength: 0.6,
      masked_content: 'latent_noise',
      inpaint_area: 'only_masked',
      inpaint_padding: 32,
    });
  });

  it('refiner → detailer → upscaler, and the config passes the pipeline schema', () => {
    const stages = buildEnhanceStages({ refine: { model: 'sd', strength: 0.3, prompt: '' }, detail: choice(), upscale: { factor: 2 } });
    expect(stages.map((s) => s.stage_type)).toEqual(['refiner', 'detailer', 'upscaler']);
    expect(PipelineConfig.safeParse({ stages }).success).toBe(true);
    expect(buildEnhanceStages({ refine: null, detail: choice({ mode: 'mask' }), upscale: null }).map((s) => s.stage_type)).toEqual(['detailer']);
    expect(runNoun(['refiner', 'detailer', 'upscaler'])).toBe('refine + detail + upscale');
    expect(runNoun(['detailer'])).toBe('detail');
    expect(runNoun(['upscaler'])).toBe('upscale');
  });
});

describe('enhance detailer: what stops it', () => {
  it('nothing when a checkpoint is there and the values are in range', () => {
    expect(detailProblems(state())).toEqual([]);
    expect(detailProblems(state({ mode: 'mask' }))).toEqual([]);
  });

  it('no checkpoint: the message that says what to import; loading: an info line', () => {
    expect(detailProblems(state({ model: '' }))).toEqual([{ kind: 'model', message: 'no checkpoint' }]);
    expect(detailProblems(state({ model: '' }, { checkpointsLoading: true }))).toEqual([{ kind: 'loading', message: 'Looking for checkpoints…' }]);
  });

  it('no target ticked; nothing painted', () => {
    expect(detailProblems(state({ targets: [] })).map((p) => p.message)).toContain('Tick faces, hands or both: the detailer redraws what it finds.');
    expect(detailProblems(state({ mode: 'mask' }, { maskPainted: false })).map((p) => p.message)).toEqual([
      'Paint over what to redraw (white = redraw): nothing is painted yet.',
    ]);
    // Detect mode does not care about the mask.
    expect(detailProblems(state({}, { maskPainted: false }))).toEqual([]);
  });

  it('values out of range are refused in the stage schema\'s words', () => {
    expect(detailProblems(state({ face_strength: 1.5 })).map((p) => p.message)).toEqual(['Face strength must be between 0 and 1.']);
    expect(detailProblems(state({ confidence: Number.NaN })).length).toBe(1);
    expect(detailProblems(state({ mode: 'mask', mask_blur: 65 })).map((p) => p.message)).toEqual(['Mask blur must be at most 64.']);
    expect(detailProblems(state({ mode: 'mask', inpaint_padding: 2.5 })).map((p) => p.message)).toEqual(['Inpaint padding must be a whole number.']);
  });
});

describe('enhance detailer: Find', () => {
  it('boxes become percentages of the image, clamped to it', () => {
    const [box] = boxOverlays([{ target: 'face', score: 0.873, box: [128, 64, 256, 192] }], { width: 512, height: 256 });
    expect(box).toEqual({ left: 25, top: 25, width: 25, height: 50, label: 'face 0.87', box: [128, 64, 256, 192] });
    const [out] = boxOverlays([{ target: 'hand', score: 0.5, box: [-10, 200, 100, 300] }], { width: 100, height: 250 });
    expect(out).toMatchObject({ left: 0, top: 80, width: 100, height: 20 });
  });

  it('what was found, in words', () => {
    expect(foundText([{ target: 'face' }], ['face'])).toBe('Found 1 face.');
    expect(foundText([{ target: 'face' }, { target: 'hand' }, { target: 'hand' }], ['face', 'hand'])).toBe('Found 1 face and 2 hands.');
    expect(foundText([], ['face', 'hand'])).toBe('No face or hand found.');
  });
});

describe('enhance detailer: the result', () => {
  const run: EnhanceRun = { stages: ['detailer'], factor: 2, refine: null, detail: choice() };
  const meta = (over: Partial<DetailerMetadata> = {}): DetailerMetadata => ({
    stage_type: 'detailer',
    model: 'sd',
    mode: 'detect',
    strength: 0.4,
    regions: [{ class: 'face', score: 0.9, box: [1, 2, 30, 40], strength: 0.4, crop: [0, 0, 64, 64], work_size: [512, 512] }],
    detectors: ['blazeface-back'],
    inpaint_area: 'only_masked',
    masked_content: 'original',
    mask_blur: 4,
    inpaint_padding: 32,
    unet_channels: 4,
    steps_run: 1,
    scheduler: 'euler',
    seed: 1,
    output_size: [64, 48],
    ms: 1234,
    ...over,
  });
  const result = (m: DetailerMetadata): JobResult => ({
    job_id: 'j',
    success: true,
    data: { detailed_artifact: 'a-detail' },
    artifacts: ['a-detail'],
    metadata: { detailer: m },
    error: null,
  });

  it('the detailed artifact, its size, time and what was redrawn', () => {
    expect(resultArtifact(result(meta()), run)).toBe('a-detail');
    const outcome = enhanceOutcome(result(meta()), run, { artifactId: 'a-detail', blobSize: 10, url: 'blob:x', totalMs: 2000 });
    expect(outcome).toMatchObject({ name: 'generated_detailed.png', width: 64, height: 48, ms: 1234, factor: 1, model: 'sd' });
    expect(outcome.detail).toEqual({ mode: 'detect', regions: 1, strength: 0.4, model: 'sd' });
  });

  it('nothing found: no strength, the stage\'s message', () => {
    const outcome = enhanceOutcome(result(meta({ regions: [], message: 'no face found' })), run, { artifactId: 'a-detail', blobSize: 10, url: 'blob:x', totalMs: 2000 });
    expect(outcome.detail).toEqual({ mode: 'detect', regions: 0, model: 'sd', message: 'no face found' });
  });
});
