/**
 * Complete stage metadata as the stages write it (src/pipeline/stages/*.ts), typed by the
 * protocol's schemas, for tests of what reads it (PNG chunks, the loader, the gallery sink).
 */
import type { ArtifactMetadata, RefinerMetadata, TextToImageMetadata, UpscalerMetadata } from '../../src/protocol/stage-results';

type Extra = { stage?: string; parameters?: Record<string, unknown>; batch_index?: number; job?: unknown };

export function textToImageArtifact(over: Partial<TextToImageMetadata> & Extra = {}): ArtifactMetadata {
  return {
    stage_type: 'text_to_image',
    stage: 'text_to_image',
    parameters: {},
    model: 'm',
    prompt: 'p',
    negative_prompt: '',
    steps: 4,
    guidance_scale: 7,
    scheduler: 'euler_a',
    karras: false,
    width: 64,
    height: 64,
    seed: 3,
    batch_size: 1,
    emphasis: 'original',
    rng: 'xoshiro128**',
    timesteps: [999, 749, 499, 249],
    prompt_chunks: 1,
    prompt_truncated: false,
    output_size: [over.width ?? 64, over.height ?? 64],
    ms: 10,
    ...over,
  };
}

export function refinerArtifact(over: Partial<RefinerMetadata> & Extra = {}): ArtifactMetadata {
  return {
    stage_type: 'refiner',
    stage: 'refiner',
    parameters: {},
    model: 'm',
    strength: 0.3,
    high_res_fix: false,
    steps_run: 3,
    scheduler: 'euler',
    seed: 3,
    output_size: [64, 64],
    ms: 10,
    ...over,
  };
}

export function upscalerArtifact(over: Partial<UpscalerMetadata> & Extra = {}): ArtifactMetadata {
  return {
    stage_type: 'upscaler',
    stage: 'upscaler',
    parameters: { upscale_factor: over.upscale_factor ?? 2 },
    model: 'esrgan-slim-x2',
    upscale_factor: 2,
    input_size: [64, 64],
    output_size: [128, 128],
    tiles: 1,
    tile_size: 64,
    tile_overlap: 0,
    backend: 'node',
    ms: 10,
    ...over,
  };
}
