import type { DetailerParameters, InpaintAreaName } from '../../protocol/pipeline-config';
import { LIMITS, MAX_OUTPUT_PIXELS } from '../../protocol/pipeline-config';
import type { DetailerMetadata, DetailerRegion } from '../../protocol/stage-results';
import { checkpoint } from '../cancellation';
import type { PipelineContext } from '../context';
import { findRegions, noRegionsMessage } from '../detection/regions';
import type { Box } from '../detection/types';
import { compositeInpaint, nativeSize, planInpaint } from '../diffusion/inpaint-area';
import { tensorToImages } from '../diffusion/latents';
import { inpaint } from '../diffusion/text-to-image';
import { createMask, dilateMask, maskBounds, maskFromImage, type Mask } from '../image/mask';
import { isRgbaImage, type RgbaImage } from '../image/rgba';
import { shortModelHash, type DiffusionModelHandle, type StageServices } from '../ports';
import { PipelineStage, StageInputError } from '../stage';
import { inheritedLoras, networksMetadata, stagePrompt, LORAS_PARAMETER } from './networks';

export { PALM_TO_HAND, palmToHand } from '../detection/regions';

interface Region {
  class: string;
  score: number;
  box: Box;
  maskBox?: Box;
  mask: Mask;
  strength: number;
}

/** The seed's DetailerStage, real: detected faces/hands, a given mask or a given roi redrawn. */
export class DetailerStage extends PipelineStage {
  readonly stageType = 'detailer' as const;

  constructor(
    name: string,
    readonly parameters: DetailerParameters,
  ) {
    super(name);
  }

  override async validateInput(context: PipelineContext): Promise<string | null> {
    if (!isRgbaImage(context.get('image'))) return 'no input image to detail';
    const mask = context.get('mask');
    if (mask !== undefined && mask !== null && !isRgbaImage(mask)) return 'the mask is not an image (RGBA pixels)';
    return null;
  }

  async execute(context: PipelineContext, services: StageServices): Promise<PipelineContext> {
    if (!services.diffusion) throw new StageInputError('no Stable Diffusion model can run here');
    const p = this.parameters;
    const image = context.get('image') as RgbaImage;
    const given = context.get('mask');
    const maskImage = isRgbaImage(given) ? given : null;
    const mode: DetailerMetadata['mode'] = maskImage ? 'inpainting' : p.roi || p.roi_mode === 'center' ? 'img2img' : 'detect';

    // 1. Regions, checked before any model loads.
    let maskResized: boolean | undefined;
    let roi: [number, number, number, number] | undefined;
    let regions: Region[] = [];
    let message: string | undefined;
    const detectorIds: string[] = [];
    if (maskImage) {
      const { mask, resized } = maskFromImage(maskImage, image.width, image.height);
      maskResized = resized;
      const bounds = maskBounds(mask);
      if (!bounds) throw new StageInputError('the mask has nothing painted: nothing to redraw (white = redraw)');
      regions = [{ class: 'mask', score: 1, box: [bounds.x1, bounds.y1, bounds.x2, bounds.y2], mask, strength: p.strength }];
    } else if (mode === 'img2img') {
      roi = p.roi_mode === 'center' || !p.roi ? centerRoi(image, p.center_crop_ratio) : p.roi;
      const [x, y, w, h] = roi;
      if (x + w > image.width || y + h > image.height) {
        throw new StageInputError(`roi [${roi.join(', ')}] reaches outside the ${image.width}×${image.height} image`);
      }
      if (w < LIMITS.region_side.min || h < LIMITS.region_side.min) {
        throw new StageInputError(`roi [${roi.join(', ')}] is smaller than ${LIMITS.region_side.min} px on a side; nothing that small can be redrawn`);
      }
      const box: Box = [x, y, x + w, y + h];
      regions = [{ class: 'roi', score: 1, box, mask: rectMask(image.width, image.height, box), strength: p.strength }];
    } else {
      const found = await this.detectRegions(image, services, detectorIds);
      regions = found.regions;
      message = found.message;
    }

    // Sizes, before any model loads: the whole picture goes through the UNet as it is; an
    // only-masked crop is resized, but the image itself still has to fit in memory.
    if (image.width * image.height > MAX_OUTPUT_PIXELS) {
      throw new StageInputError(
        `the image is ${image.width}×${image.height} (${(image.width * image.height / 1e6).toFixed(1)} MP); the detailer works on images up to ${(MAX_OUTPUT_PIXELS / 1e6).toFixed(1)} MP`,
      );
    }

    // 2. The checkpoint: the one that made the image unless one is named.
    const previous = Object.values(context.metadata).find((m) => typeof m.model === 'string' && 'timesteps' in m);
    const inherited = (key: string) => (typeof previous?.[key] === 'string' ? (previous[key] as string) : undefined);
    const seed = p.seed ?? (typeof previous?.seed === 'number' ? previous.seed : 0);
    const area: InpaintAreaName = p.inpaint_area ?? (mode === 'inpainting' ? 'whole_picture' : 'only_masked');
    if (area === 'whole_picture' && regions.length > 0) {
      const { min, max, multiple } = LIMITS.side;
      if (image.width % multiple || image.height % multiple) {
        throw new StageInputError(
          `the image is ${image.width}×${image.height}; inpainting the whole picture needs a width and height that are multiples of ${multiple} (or use inpaint_area 'only_masked')`,
        );
      }
      if (Math.max(image.width, image.height) > max || Math.min(image.width, image.height) < min) {
        throw new StageInputError(
          `the image is ${image.width}×${image.height}; inpainting the whole picture works on sides from ${min} to ${max} px (use inpaint_area 'only_masked', which redraws a crop at the model's size)`,
        );
      }
    }
    const now = services.now ?? (() => Date.now());
    const started = now();
    let current = image;
    let handle: DiffusionModelHandle | null = null;
    let stepsRun = 0;
    let scheduler = p.scheduler ?? '';
    const done: DetailerRegion[] = [];
    if (regions.length > 0) {
      // LoRAs: the prompt's tags and `loras` (absent: the previous stage's `loras`, as its prompt's tags come with its prompt).
      const lorasParameter = p.loras ?? inheritedLoras(context);
      const prompt = stagePrompt(p.prompt ?? inherited('prompt') ?? '', lorasParameter);
      const loras = prompt.loras;
      context.set(LORAS_PARAMETER, lorasParameter);
      const negative = p.negative_prompt ?? inherited('negative_prompt') ?? '';
      handle = await services.diffusion.load(p.model ?? inherited('model'), { loras, prompts: [prompt.text, negative] });
      if (!handle.models.vaeEncoder) {
        throw new StageInputError(`the checkpoint '${handle.name}' has no VAE encoder; the detailer starts from the image, so it needs one`);
      }
      const size = nativeSize(handle);
      const params = {
        prompt: prompt.text,
        negative_prompt: negative,
        steps: p.steps ?? handle.defaults.steps,
        guidance_scale: p.guidance_scale,
        scheduler: p.scheduler ?? (handle.defaults.scheduler as DetailerParameters['scheduler'] & string),
        karras: p.karras,
        seed,
        emphasis: p.emphasis,
      };
      scheduler = params.scheduler;
      // 3. Each region in turn, on the result of the one before.
      for (let r = 0; r < regions.length; r++) {
        const region = regions[r];
        await checkpoint(services.signal);
        const plan = planInpaint(current, region.mask, {
          maskBlur: p.mask_blur,
          area,
          padding: p.inpaint_padding,
          maskedContent: p.masked_content,
          nativeSize: size,
        });
        if (!plan) throw new StageInputError('the mask has nothing painted: nothing to redraw');
        // Strength 0 redraws nothing: the region stays as it is.
        if (region.strength <= 0) continue;
        const result = await inpaint(
          handle.models,
          {
            ...params,
            width: plan.width,
            height: plan.height,
            image: plan.image,
            mask: plan.mask,
            steps: stepsForStrength(params.steps, region.strength),
            strength: region.strength,
            ...(plan.latentFill ? { latentFill: plan.latentFill } : {}),
          },
          {
            signal: services.signal,
            onProgress: (step, total, preview) =>
              services.onProgress?.({
                stage: this.name,
                step,
                total,
                preview,
                ...(regions.length > 1 ? { message: `region ${r + 1} of ${regions.length} (${region.class})` } : {}),
              }),
          },
        );
        stepsRun += result.info.timesteps.length;
        scheduler = result.info.scheduler;
        const [redrawn] = tensorToImages(result);
        current = compositeInpaint(current, redrawn, plan);
        done.push({
          class: region.class,
          score: region.score,
          box: region.box,
          ...(region.maskBox ? { mask_box: region.maskBox } : {}),
          strength: region.strength,
          crop: plan.crop ? [plan.crop.x1, plan.crop.y1, plan.crop.x2, plan.crop.y2] : null,
          work_size: [plan.width, plan.height],
        });
      }
    }

    // 4. The result (the input unchanged when nothing was found), its artifact and metadata.
    const metadata: DetailerMetadata = {
      stage_type: 'detailer',
      model: handle?.name ?? p.model ?? inherited('model') ?? '',
      ...(handle ? { model_hash: shortModelHash(handle.hashes), model_hashes: handle.hashes, ...networksMetadata(handle.networks) } : {}),
      mode,
      // Detect mode: the strongest region's (with none, the first target's strength setting).
      strength:
        mode !== 'detect'
          ? p.strength
          : done.length > 0
            ? Math.max(...done.map((d) => d.strength))
            : p.targets[0] === 'hand'
              ? p.hand_strength
              : p.face_strength,
      regions: done,
      ...(roi ? { roi } : {}),
      ...(maskResized !== undefined ? { mask_resized: maskResized } : {}),
      ...(mode === 'detect' ? { detectors: detectorIds } : {}),
      ...(message ? { message } : {}),
      inpaint_area: area,
      masked_content: p.masked_content,
      mask_blur: p.mask_blur,
      inpaint_padding: p.inpaint_padding,
      unet_channels: handle?.models.unet.inChannels ?? 0,
      steps_run: stepsRun,
      scheduler,
      seed,
      output_size: [current.width, current.height],
      ms: Math.round(now() - started),
    };
    const jobId = String(context.get('job_id', 'unknown'));
    const id = await services.artifacts.save(`${jobId}/generated_detailed.png`, current, {
      ...metadata,
      stage: this.name,
      parameters: { ...p },
    });
    context.addArtifact(id);
    context.set('image', current);
    context.set('detailed_artifact', id);
    context.setMetadata(this.name, metadata);
    return context;
  }

  /** Every target's detections, largest first, up to max_regions, each with its redraw mask. */
  private async detectRegions(image: RgbaImage, services: StageServices, ids: string[]): Promise<{ regions: Region[]; message?: string }> {
    const p = this.parameters;
    if (!services.detectors) throw new StageInputError('no face or hand detectors are available here');
    const found = await findRegions(image, services.detectors, {
      targets: p.targets,
      confidence: p.confidence,
      maxRegions: p.max_regions,
      signal: services.signal,
    });
    ids.push(...found.detectors);
    const regions = found.regions.map(
      (r): Region => ({
        class: r.target,
        score: r.score,
        box: r.box,
        ...(r.mask_box ? { maskBox: r.mask_box } : {}),
        mask: dilateMask(rectMask(image.width, image.height, r.mask_box ?? r.box), p.dilate),
        strength: r.target === 'hand' ? p.hand_strength : p.face_strength,
      }),
    );
    return regions.length > 0 ? { regions } : { regions, message: noRegionsMessage(p.targets, found.smaller) };
  }
}

/**
 * Steps raised until `steps × strength` reaches one whole step. Denoising from a partly noised
 * image runs trunc(steps × strength) steps (diffusers' img2img, which our loop follows and
 * which refuses zero); a 1-step Turbo checkpoint at face_strength 0.4 would run none. A1111
 * and ADetailer always run at least one, so the detailer asks for the fewest steps that do.
 */
export function stepsForStrength(steps: number, strength: number): number {
  let n = steps;
  while (Math.trunc(n * strength) < 1 && n < LIMITS.steps.max) n++;
  return n;
}

/** The seed's heuristic: the centred `ratio` of each side. */
function centerRoi(image: RgbaImage, ratio: number): [number, number, number, number] {
  const w = Math.max(1, Math.round(image.width * ratio));
  const h = Math.max(1, Math.round(image.height * ratio));
  return [Math.floor((image.width - w) / 2), Math.floor((image.height - h) / 2), w, h];
}

/** 255 inside the box (grown outward to whole pixels), 0 elsewhere. */
export function rectMask(width: number, height: number, box: Box): Mask {
  const mask = createMask(width, height);
  const x0 = Math.max(0, Math.floor(box[0]));
  const y0 = Math.max(0, Math.floor(box[1]));
  const x1 = Math.min(width, Math.ceil(box[2]));
  const y1 = Math.min(height, Math.ceil(box[3]));
  for (let y = y0; y < y1; y++) mask.data.fill(255, y * width + x0, y * width + x1);
  return mask;
}
