// @vitest-environment node
/** The Enhance form: its stages, what stops a run (the protocol's limits), and its typed result. */
import { describe, expect, it } from 'vitest';
import {
  buildEnhanceStages,
  canRefineWith,
  enhanceOutcome,
  factorProblem,
  REFINE_DEFAULT_STRENGTH,
  REFINE_MESSAGES,
  refineProblems,
  refineSizeProblem,
  resultArtifact,
  runNoun,
  type EnhanceRun,
  type RefineState,
} from '../../src/app/lib/enhance-form';
import type { ModelInfo } from '../../src/protocol/models';
import { DEFAULTS } from '../../src/protocol/pipeline-config';
import type { JobResult } from '../../src/protocol/schemas';
import type { RefinerMetadata, UpscalerMetadata } from '../../src/protocol/stage-results';

const checkpoint = (name: string, status: ModelInfo['status'], encoder = true) =>
  ({ name, model_type: 'checkpoint', status, components: encoder ? [{ role: 'vae_encoder' }] : [] }) as unknown as ModelInfo;

const state = (over: Partial<RefineState> = {}): RefineState => ({
  checkpoints: [checkpoint('sd', 'verified')],
  model: 'sd',
  inputSize: { width: 64, height: 64 },
  strength: 0.3,
  steps: null,
  ...over,
});

describe('enhance form', () => {
  it('builds refiner → upscaler stages', () => {
    expect(buildEnhanceStages({ refine: { model: 'sd', strength: 0.5, prompt: ' a cat ', steps: 4 }, upscale: { factor: 2 } })).toEqual([
      { stage_type: 'refiner', parameters: { strength: 0.5, model: 'sd', prompt: 'a cat', steps: 4 } },
      { stage_type: 'upscaler', parameters: { upscale_factor: 2 } },
    ]);
    expect(buildEnhanceStages({ refine: null, upscale: { factor: 4, model: 'x4' } })).toEqual([{ stage_type: 'upscaler', parameters: { upscale_factor: 4, model: 'x4' } }]);
  });

  it('a single-file checkpoint refines: its VAE encoder is built from the file, not stored', () => {
    const single = { ...checkpoint('ldm', 'verified', false), source: { format: 'ldm-safetensors', built: ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'], build_ms: {} } } as unknown as ModelInfo;
    expect(canRefineWith(single)).toBe(true);
    expect(canRefineWith({ ...single, source: { format: 'ldm-safetensors', built: ['text_encoder', 'unet', 'vae_decoder'], build_ms: {} } } as unknown as ModelInfo)).toBe(false);
    expect(canRefineWith(checkpoint('folder', 'verified', false))).toBe(false);
  });

  it('uses the protocol default strength', () => {
    expect(REFINE_DEFAULT_STRENGTH).toBe(DEFAULTS.refiner_strength);
  });

  it('factor: 2, 3, 4, 8 accepted, 7 refused in the protocol\'s words', () => {
    for (const f of [2, 3, 4, 8]) expect(factorProblem(f)).toBeNull();
    expect(factorProblem(7)).toBe('upscale_factor must be one of 2, 3, 4, 8');
  });

  it('refine values: strength 0–1, steps 1–1000 or empty', () => {
    expect(refineProblems(state())).toEqual([]);
    expect(refineProblems(state({ strength: 1, steps: 1000 }))).toEqual([]);
    expect(refineProblems(state({ strength: 1.05 }))).toEqual([{ kind: 'value', message: REFINE_MESSAGES.strength }]);
    expect(refineProblems(state({ strength: Number.NaN }))).toHaveLength(1);
    expect(refineProblems(state({ steps: 1001 }))).toEqual([{ kind: 'value', message: REFINE_MESSAGES.steps }]);
    expect(refineProblems(state({ steps: 0 }))).toHaveLength(1);
  });

  it('refine needs a checkpoint with a VAE encoder, and a size of multiples of 8 (model problem first)', () => {
    expect(refineProblems(state({ checkpoints: undefined, model: '' }))[0]).toMatchObject({ kind: 'loading' });
    expect(refineProblems(state({ checkpoints: [], model: '' }))[0].message).toMatch(/needs a Stable Diffusion checkpoint.*Models view/);
    expect(refineProblems(state({ checkpoints: [checkpoint('turbo', 'verified', false)], model: '' }))[0].message).toMatch(/VAE encoder/);
    expect(refineProblems(state({ checkpoints: [checkpoint('sd', 'importing')], model: '' }))[0].message).toMatch(/“sd” is still importing/);
    expect(refineProblems(state({ checkpointsError: new Error('db closed'), model: '' }))[0].message).toBe('Could not list the checkpoints: db closed');
    const both = refineProblems(state({ checkpoints: [], model: '', inputSize: { width: 60, height: 60 } }));
    expect(both.map((p) => p.kind)).toEqual(['model', 'size']);
    expect(refineSizeProblem({ width: 60, height: 60 })).toMatch(/60×60.*multiples of 8.*56×56 or 64×64/);
    expect(refineSizeProblem({ width: 64, height: 128 })).toBeNull();
  });

  it('names a run by its stages', () => {
    expect(runNoun(['upscaler'])).toBe('upscale');
    expect(runNoun(['refiner'])).toBe('refine');
    expect(runNoun(['refiner', 'upscaler'])).toBe('refine + upscale');
  });
});

describe('enhance outcome (typed stage metadata)', () => {
  const refinerMeta: RefinerMetadata = {
    stage_type: 'refiner',
    model: 'tiny-sd15',
    strength: 0.5,
    high_res_fix: false,
    steps_run: 2,
    scheduler: 'euler',
    seed: 1,
    output_size: [64, 64],
    ms: 300,
  };
  const upscalerMeta: UpscalerMetadata = {
    stage_type: 'upscaler',
    model: 'esrgan-slim-x2',
    upscale_factor: 2,
    input_size: [64, 64],
    output_size: [128, 48],
    tiles: 1,
    tile_size: 64,
    tile_overlap: 8,
    backend: 'wasm',
    ms: 200,
  };
  const result = (metadata: JobResult['metadata'], data: Record<string, unknown> = {}): JobResult => ({
    job_id: 'j',
    success: true,
    data,
    artifacts: ['r', 'u'],
    metadata,
    error: null,
  });
  const run: EnhanceRun = { stages: ['refiner', 'upscaler'], factor: 4, model: 'asked', refine: { model: 'asked-sd', strength: 0.9, prompt: '' } };
  const found = { artifactId: 'u', blobSize: 1234, url: 'blob:x', totalMs: 900 };

  it('reads sizes, time, model, factor and refiner values from the stages', () => {
    const out = enhanceOutcome(result({ refiner: refinerMeta, upscaler: upscalerMeta }), run, found);
    expect(out).toEqual({
      artifactId: 'u',
      name: 'generated_upscaled.png',
      url: 'blob:x',
      width: 128,
      height: 48,
      bytes: 1234,
      ms: 500,
      totalMs: 900,
      backend: 'wasm',
      model: 'esrgan-slim-x2',
      factor: 2,
      stages: ['refiner', 'upscaler'],
      refine: { model: 'tiny-sd15', strength: 0.5 },
    });
  });

  it('falls back to what the run asked for when a stage said nothing', () => {
    const out = enhanceOutcome(result({}), run, { ...found, elapsedMs: 77 });
    expect(out).toMatchObject({ width: undefined, ms: 77, model: 'asked', factor: 4, refine: { model: 'asked-sd', strength: 0.9 } });
    const refineOnly = enhanceOutcome(result({ refiner: refinerMeta }), { ...run, stages: ['refiner'] }, { ...found, artifactId: 'r' });
    expect(refineOnly).toMatchObject({ name: 'generated_refined.png', width: 64, factor: 1, ms: 300, model: 'tiny-sd15' });
  });

  it('finds the result image: the stage\'s data key, else the last artifact', () => {
    expect(resultArtifact(result({}, { upscaled_artifact: 'u2' }), run)).toBe('u2');
    expect(resultArtifact(result({}, { refined_artifact: 'r2' }), { ...run, stages: ['refiner'] })).toBe('r2');
    expect(resultArtifact(result({}), run, 'seen')).toBe('seen');
    expect(resultArtifact(result({}), run)).toBe('u');
  });
});
