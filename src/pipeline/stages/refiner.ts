import { MAX_OUTPUT_PIXELS, type HighResFix, type RefinerParameters } from '../../protocol/pipeline-config';
import type { RefinerMetadata } from '../../protocol/stage-results';
import type { PipelineContext } from '../context';
import { interpolateBilinear, tensorToImages } from '../diffusion/latents';
import { checkUnetSize, encodeImageLatents, imageToImage } from '../diffusion/text-to-image';
import { resizeImage } from '../image/resize';
import { isRgbaImage, type RgbaImage } from '../image/rgba';
import { upscaleTiled } from '../image/tiling';
import { shortModelHash, type StageServices } from '../ports';
import { checkpoint } from '../cancellation';
import { PipelineStage, StageInputError } from '../stage';
import { inheritedLoras, networksMetadata, stagePrompt, LORAS_PARAMETER } from './networks';
import type { Tensor } from '../tensor';

/** The seed's RefinerStage, real: img2img at a given denoising strength (default 0.3). */
export class RefinerStage extends PipelineStage {
  readonly stageType = 'refiner' as const;

  constructor(
    name: string,
    readonly parameters: RefinerParameters,
  ) {
    super(name);
  }

  override async validateInput(context: PipelineContext): Promise<string | null> {
    const image = context.get('image');
    if (!isRgbaImage(image)) return 'no input image to refine';
    const hires = this.parameters.high_res_fix;
    // A pixel upscaler's result is resized to a multiple of 8 anyway; otherwise the VAE sees the image as is.
    const viaPixels = hires && !isLatentUpscaler(hires.upscaler);
    if (!viaPixels && (image.width % 8 || image.height % 8)) {
      return `the image is ${image.width}×${image.height}; the refiner needs a width and height that are multiples of 8`;
    }
    return null;
  }

  async execute(context: PipelineContext, services: StageServices): Promise<PipelineContext> {
    if (!services.diffusion) throw new StageInputError('no Stable Diffusion model can run here');
    const p = this.parameters;
    const image = context.get('image') as RgbaImage;
    const hires = p.high_res_fix ? planHighResFix(image, p.high_res_fix) : null;
    // A misspelt upscaler is reported before any model loads.
    const upscalerModel = hires && !isLatentUpscaler(hires.upscaler) ? await findUpscaler(services, hires.upscaler) : null;
    const previous = Object.values(context.metadata).find((m) => typeof m.model === 'string' && 'timesteps' in m);
    const inherited = (key: string) => (typeof previous?.[key] === 'string' ? (previous[key] as string) : undefined);
    // LoRAs: the prompt's tags and `loras` (absent: the previous stage's `loras`, as its prompt's tags come with its prompt).
    const lorasParameter = p.loras ?? inheritedLoras(context);
    const prompt = stagePrompt(p.prompt ?? inherited('prompt') ?? '', lorasParameter);
    const loras = prompt.loras;
    context.set(LORAS_PARAMETER, lorasParameter);
    const negative = p.negative_prompt ?? inherited('negative_prompt') ?? '';
    const handle = await services.diffusion.load(p.model ?? (previous?.model as string | undefined), { loras, prompts: [prompt.text, negative] });
    if (hires) checkUnetSize(handle.models.unet, hires.to[0], hires.to[1]);
    const seed = p.seed ?? (typeof previous?.seed === 'number' ? previous.seed : 0);
    const params = {
      prompt: p.prompt ?? inherited('prompt') ?? '',
      negative_prompt: negative,
      steps: p.steps ?? handle.defaults.steps,
      guidance_scale: p.guidance_scale ?? handle.defaults.guidance_scale,
      scheduler: p.scheduler ?? (handle.defaults.scheduler as RefinerParameters['scheduler']),
      karras: p.karras,
      width: hires ? hires.to[0] : image.width,
      height: hires ? hires.to[1] : image.height,
      seed,
      emphasis: p.emphasis,
      strength: p.strength,
    };
    const now = services.now ?? (() => Date.now());
    const started = now();
    let start: { image: RgbaImage } | { imageLatents: Tensor } = { image };
    let upscalerName = 'latent';
    if (hires && !upscalerModel) {
      await checkpoint(services.signal);
      const latents = await encodeImageLatents(handle.models, image);
      await checkpoint(services.signal);
      start = { imageLatents: interpolateBilinear(latents, params.height / 8, params.width / 8) };
    } else if (hires && upscalerModel) {
      const upscaled = await this.upscale(image, upscalerModel, hires.to, services);
      upscalerName = upscalerModel.name;
      await checkpoint(services.signal);
      start = { image: resizeImage(upscaled.image, params.width, params.height) };
    }
    const result = await imageToImage(handle.models, { ...params, prompt: prompt.text, ...start }, {
      signal: services.signal,
      onProgress: (step, total, preview) => services.onProgress?.({ stage: this.name, step, total, preview }),
    });
    const [refined] = tensorToImages(result);
    const metadata: RefinerMetadata = {
      stage_type: 'refiner',
      model: handle.name,
      model_hash: shortModelHash(handle.hashes),
      model_hashes: handle.hashes,
      ...networksMetadata(handle.networks),
      strength: p.strength,
      output_size: [refined.width, refined.height],
      high_res_fix: hires ? { scale: hires.scale, upscaler: upscalerName, from: hires.from, to: hires.to } : false,
      steps_run: result.info.timesteps.length,
      scheduler: result.info.scheduler,
      seed,
      ms: Math.round(now() - started),
    };
    const jobId = String(context.get('job_id', 'unknown'));
    const id = await services.artifacts.save(`${jobId}/generated_refined.png`, refined, {
      ...metadata,
      stage: this.name,
      parameters: { ...params, high_res_fix: p.high_res_fix, ...(p.loras?.length ? { loras: p.loras } : {}) },
    });
    context.addArtifact(id);
    context.set('image', refined);
    context.set('refined_artifact', id);
    context.setMetadata(this.name, metadata);
    return context;
  }

  /**
   * Runs a registered upscaler (tiled, like the upscaler stage) until the image reaches the
   * target size, at most 3 passes as A1111 does (a ×2 model for scale 3 runs twice).
   */
  private async upscale(image: RgbaImage, entry: { name: string; scale: number }, to: readonly [number, number], services: StageServices) {
    await checkpoint(services.signal);
    const model = await services.upscalers!.load(entry.name, entry.scale);
    let current = image;
    for (let pass = 0; pass < 3 && (current.width < to[0] || current.height < to[1]); pass++) {
      const pixels = current.width * model.scale * current.height * model.scale;
      if (pixels > MAX_OUTPUT_PIXELS) {
        throw new StageInputError(
          `high_res_fix: ${model.id} would make ${current.width * model.scale}×${current.height * model.scale} ` +
            `(${(pixels / 1e6).toFixed(1)} MP), more than the ${(MAX_OUTPUT_PIXELS / 1e6).toFixed(1)} MP an upscale may produce; use a smaller image or 'latent'`,
        );
      }
      const tileSize = model.maxTileSize;
      const result = await upscaleTiled(current, model, {
        tileSize,
        overlap: Math.min(2 * (model.receptiveRadius + 2), Math.floor(tileSize / 2)),
        beforeTile: () => checkpoint(services.signal),
        onTile: (done, total) =>
          services.onProgress?.({ stage: this.name, step: done, total, message: `high_res_fix: upscaling with ${model.id}` }),
      });
      current = result.image;
    }
    return { image: current };
  }
}

/** The registered upscaler called `name`, or a clear error listing what there is. */
async function findUpscaler(services: StageServices, name: string): Promise<{ name: string; scale: number }> {
  const known = (await services.upscalers?.available()) ?? [];
  const entry = known.find((m) => m.name === name);
  if (!entry) {
    const names = ["'latent'", ...known.map((m) => `'${m.name}' (×${m.scale})`)].join(', ');
    throw new StageInputError(`unknown high_res_fix upscaler '${name}'; available: ${names}`);
  }
  return entry;
}

function isLatentUpscaler(name: string): boolean {
  return name.toLowerCase() === 'latent';
}

/** Target size: the input × scale, each side rounded to the nearest multiple of 8 (at least 8). */
export function planHighResFix(image: { width: number; height: number }, fix: HighResFix) {
  const round8 = (v: number) => Math.max(8, Math.round(v / 8) * 8);
  return {
    scale: fix.scale,
    upscaler: fix.upscaler,
    from: [image.width, image.height] as [number, number],
    to: [round8(image.width * fix.scale), round8(image.height * fix.scale)] as [number, number],
  };
}

