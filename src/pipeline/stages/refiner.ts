import { z } from 'zod';
import type { PipelineContext } from '../context';
import { tensorToImages } from '../diffusion/latents';
import { SCHEDULER_NAMES } from '../diffusion/schedulers';
import { imageToImage } from '../diffusion/text-to-image';
import { isRgbaImage, type RgbaImage } from '../image/rgba';
import type { StageServices } from '../ports';
import { PipelineStage, StageInputError } from '../stage';

/** The seed's RefinerStage, real: img2img at a given denoising strength (default 0.3). */
export const RefinerParameters = z.object({
  strength: z
    .number({ error: 'strength must be a number' })
    .min(0, 'strength must be between 0 and 1')
    .max(1, 'strength must be between 0 and 1')
    .default(0.3),
  /** Absent = the model that made the image (text_to_image's), else the default checkpoint. */
  model: z.string().min(1).optional(),
  prompt: z.string().default(''),
  negative_prompt: z.string().default(''),
  steps: z.number().int().min(1).max(1000).optional(),
  guidance_scale: z.number().min(0).max(50).optional(),
  scheduler: z.enum(SCHEDULER_NAMES).optional(),
  karras: z.boolean().default(false),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  emphasis: z.enum(['original', 'no-norm', 'ignore', 'none']).default('original'),
});
export type RefinerParameters = z.infer<typeof RefinerParameters>;

export class RefinerStage extends PipelineStage {
  readonly stageType = 'refiner';

  constructor(
    name: string,
    readonly parameters: RefinerParameters,
  ) {
    super(name);
  }

  override async validateInput(context: PipelineContext): Promise<string | null> {
    const image = context.get('image');
    if (!isRgbaImage(image)) return 'no input image to refine';
    if (image.width % 8 || image.height % 8) {
      return `the image is ${image.width}×${image.height}; the refiner needs a width and height that are multiples of 8`;
    }
    return null;
  }

  async execute(context: PipelineContext, services: StageServices): Promise<PipelineContext> {
    if (!services.diffusion) throw new StageInputError('no Stable Diffusion model can run here');
    const p = this.parameters;
    const image = context.get('image') as RgbaImage;
    const previous = Object.values(context.metadata).find((m) => typeof m.model === 'string' && 'timesteps' in m);
    const handle = await services.diffusion.load(p.model ?? (previous?.model as string | undefined));
    const params = {
      prompt: p.prompt,
      negative_prompt: p.negative_prompt,
      steps: p.steps ?? handle.defaults.steps,
      guidance_scale: p.guidance_scale ?? handle.defaults.guidance_scale,
      scheduler: p.scheduler ?? (handle.defaults.scheduler as RefinerParameters['scheduler']),
      karras: p.karras,
      width: image.width,
      height: image.height,
      seed: p.seed,
      emphasis: p.emphasis,
      strength: p.strength,
      image,
    };
    const now = services.now ?? (() => Date.now());
    const started = now();
    const result = await imageToImage(handle.models, params, {
      signal: services.signal,
      onProgress: (step, total, preview) => services.onProgress?.({ stage: this.name, step, total, preview }),
    });
    const [refined] = tensorToImages(result);
    const metadata = {
      model: handle.name,
      strength: p.strength,
      output_shape: [refined.height, refined.width, 4],
      high_res_fix: false,
      steps_run: result.info.timesteps.length,
      scheduler: result.info.scheduler,
      seed: p.seed,
      ms: Math.round(now() - started),
    };
    const jobId = String(context.get('job_id', 'unknown'));
    const { image: _drop, ...recorded } = params;
    const id = await services.artifacts.save(`${jobId}/generated_refined.png`, refined, {
      stage: this.name,
      stage_type: this.stageType,
      parameters: recorded,
      ...metadata,
    });
    context.addArtifact(id);
    context.set('image', refined);
    context.set('refined_artifact', id);
    context.setMetadata(this.name, metadata);
    return context;
  }
}

export const refinerStage = {
  stageType: 'refiner',
  parameters: RefinerParameters,
  create: (name: string, parameters: Record<string, unknown>) => new RefinerStage(name, parameters as RefinerParameters),
};
