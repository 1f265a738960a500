import { z } from 'zod';
import type { PipelineContext } from '../context';
import { isRgbaImage, type RgbaImage } from '../image/rgba';
import { upscaleTiled } from '../image/tiling';
import type { StageServices } from '../ports';
import { checkpoint, PipelineStage, StageInputError, throwIfAborted } from '../stage';

export const UPSCALE_FACTORS = [2, 3, 4, 8] as const;
/** Largest output the stage writes: the RGBA result plus a float accumulator must fit in memory. */
export const MAX_OUTPUT_PIXELS = 8192 * 4096;

export const UpscalerParameters = z.object({
  upscale_factor: z
    .number()
    .refine((v) => (UPSCALE_FACTORS as readonly number[]).includes(v), {
      message: `upscale_factor must be one of ${UPSCALE_FACTORS.join(', ')}`,
    })
    .default(2),
  /** Registered upscaler name; absent = the bundled model for the factor. */
  model: z.string().min(1).optional(),
  /** Tile edge in input pixels; absent = the largest the device allows. */
  tile_size: z.number().int().min(16).max(4096).optional(),
  /** Pixels neighbouring tiles share; absent = enough for the model's receptive field. */
  tile_overlap: z.number().int().min(0).max(512).optional(),
});
export type UpscalerParameters = z.infer<typeof UpscalerParameters>;

/** The seed's UpscalerStage, real: a super-resolution model run tile by tile. */
export class UpscalerStage extends PipelineStage {
  readonly stageType = 'upscaler';
  readonly parameters: UpscalerParameters;

  constructor(name: string, parameters: UpscalerParameters) {
    super(name);
    this.parameters = parameters;
  }

  override async validateInput(context: PipelineContext): Promise<string | null> {
    return isRgbaImage(context.get('image')) ? null : 'no input image to upscale';
  }

  async execute(context: PipelineContext, services: StageServices): Promise<PipelineContext> {
    const image = context.get('image') as RgbaImage;
    const factor = this.parameters.upscale_factor;
    const outPixels = image.width * factor * image.height * factor;
    if (outPixels > MAX_OUTPUT_PIXELS) {
      throw new StageInputError(
        `${image.width}×${image.height} ×${factor} would be ${image.width * factor}×${image.height * factor} ` +
          `(${(outPixels / 1e6).toFixed(1)} MP); the largest upscale result is ${(MAX_OUTPUT_PIXELS / 1e6).toFixed(1)} MP — ` +
          `choose a smaller factor or a smaller image`,
      );
    }
    if (!services.upscalers) throw new Error('no upscaler models are available in this runtime');
    const model = await services.upscalers.load(this.parameters.model, factor);
    if (model.scale !== factor) {
      throw new StageInputError(`model '${model.id}' upscales ×${model.scale}, but upscale_factor is ${factor}`);
    }
    const tileSize = Math.min(this.parameters.tile_size ?? model.maxTileSize, model.maxTileSize);
    const overlap = Math.min(this.parameters.tile_overlap ?? 2 * (model.receptiveRadius + 2), Math.floor(tileSize / 2));
    const now = services.now ?? (() => Date.now());
    const started = now();
    const result = await upscaleTiled(image, model, {
      tileSize,
      overlap,
      beforeTile: () => checkpoint(services.signal),
      onTile: (done, total) => services.onProgress?.({ stage: this.name, step: done, total }),
    });
    throwIfAborted(services.signal);
    const ms = Math.round(now() - started);
    const metadata = {
      model: model.id,
      upscale_factor: factor,
      input_size: [image.width, image.height],
      output_size: [result.image.width, result.image.height],
      tiles: result.tiles,
      tile_size: result.tileSize,
      tile_overlap: result.overlap,
      backend: model.backend,
      ms,
    };
    const jobId = String(context.get('job_id', 'unknown'));
    const id = await services.artifacts.save(`${jobId}/generated_upscaled.png`, result.image, {
      stage: this.name,
      stage_type: this.stageType,
      parameters: { ...this.parameters },
      ...metadata,
    });
    context.addArtifact(id);
    context.set('image', result.image);
    context.set('upscaled_artifact', id);
    context.setMetadata(this.name, metadata);
    return context;
  }
}

export const upscalerStage = {
  stageType: 'upscaler',
  parameters: UpscalerParameters,
  create: (name: string, parameters: Record<string, unknown>) =>
    new UpscalerStage(name, parameters as UpscalerParameters),
};
