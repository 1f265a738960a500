import { MAX_OUTPUT_PIXELS, type UpscalerParameters } from '../../protocol/pipeline-config';
import type { UpscalerMetadata } from '../../protocol/stage-results';
import type { PipelineContext } from '../context';
import { isRgbaImage, type RgbaImage } from '../image/rgba';
import { upscaleTiled } from '../image/tiling';
import type { StageServices } from '../ports';
import { checkpoint, throwIfAborted } from '../cancellation';
import { PipelineStage, StageInputError } from '../stage';

/** The seed's UpscalerStage, real: a super-resolution model run tile by tile. */
export class UpscalerStage extends PipelineStage {
  readonly stageType = 'upscaler' as const;
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
    const metadata: UpscalerMetadata = {
      stage_type: 'upscaler',
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
      ...metadata,
      stage: this.name,
      parameters: { ...this.parameters },
    });
    context.addArtifact(id);
    context.set('image', result.image);
    context.set('upscaled_artifact', id);
    context.setMetadata(this.name, metadata);
    return context;
  }
}

