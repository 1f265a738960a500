/**
 * A1111's inpainting around the denoising loop (modules/processing.py,
 * `StableDiffusionProcessingImg2Img.init` and `apply_overlay`; modules/masking.py), for a mask
 * already at the image's size:
 *
 *  1. the mask is blurred (`mask_blur`, OpenCV's Gaussian as A1111 ≥ 1.6 does it);
 *  2. whole picture: the model runs at the image's own size, the overlay mask is the blurred mask
 *     doubled (clipped); only masked: the crop is the blurred mask's bounds plus `padding`
 *     (`get_crop_region_v2`), grown to the model's aspect (`expand_crop_region`), and both the
 *     image and the blurred mask are cropped and resized to the model's native size;
 *  3. masked content other than "original" fills the masked pixels from the unmasked ones
 *     (`masking.fill`, given the blurred mask), and "latent noise" / "latent nothing" also
 *     replace the masked latents in the loop;
 *  4. the result is pasted back through the overlay mask (`apply_overlay`), so a pixel whose
 *     blurred mask is 0 comes back byte for byte.
 *
 * Pure: the geometry and pixel work live here, the loop in text-to-image.ts, the mask ops in
 * image/mask.ts.
 */
import type { MaskedContent } from '../../protocol/pipeline-config';
import {
  blurMask,
  cropImage,
  cropMask,
  expandToAspect,
  maskBounds,
  maskForOverlay,
  pasteWithMask,
  type CropBox,
  type InpaintArea,
  type Mask,
} from '../image/mask';
import { resizeImage } from '../image/resize';
import { createRgbaImage, type RgbaImage } from '../image/rgba';
import type { DiffusionModelHandle } from '../ports';

export interface InpaintAreaOptions {
  /** Gaussian sigma in px (A1111's `mask_blur`); 0 = none. */
  maskBlur: number;
  area: InpaintArea;
  /** Only masked: px added around the mask's bounds (A1111's `inpaint_full_res_padding`). */
  padding: number;
  maskedContent: MaskedContent;
  /** Only masked: the size the crop is redrawn at, `[w, h]` (the model's native size). */
  nativeSize: readonly [number, number];
}

export interface InpaintPlan {
  /** The blurred mask at the image's size. */
  blurred: Mask;
  /** What `pasteWithMask` composites through. */
  overlay: Mask;
  /** The area cut out and pasted back (only masked), or null (whole picture). */
  crop: CropBox | null;
  /** What the loop starts from: at `width`×`height`, masked content already filled. */
  image: RgbaImage;
  /** The loop's mask at `width`×`height` (grey RGBA; the loop reads channel 0, ≥ 128 = redraw). */
  mask: RgbaImage;
  width: number;
  height: number;
  /** The loop's latent fill, from `maskedContent`. */
  latentFill?: 'noise' | 'nothing';
}

/** Null when nothing is painted after the blur (the caller says "nothing to redraw"). */
export function planInpaint(image: RgbaImage, mask: Mask, options: InpaintAreaOptions): InpaintPlan | null {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new Error(`the mask is ${mask.width}×${mask.height}; the image is ${image.width}×${image.height}`);
  }
  const blurred = blurMask(mask, options.maskBlur);
  const overlay = maskForOverlay(blurred, options.area);
  let crop: CropBox | null = null;
  let workImage: RgbaImage;
  let workMask: Mask;
  if (options.area === 'only_masked') {
    const bounds = maskBounds(blurred, options.padding);
    if (!bounds) return null;
    const [w, h] = options.nativeSize;
    crop = expandToAspect(bounds, w, h, image.width, image.height);
    // A1111 resizes both with resize mode 2; after expand_crop_region the aspect already matches
    // unless the image was too small on one axis, where this stretches instead of padding.
    workImage = resizeImage(cropImage(image, crop), w, h);
    workMask = resizeMask(cropMask(blurred, crop), w, h);
  } else {
    if (!maskBounds(blurred)) return null;
    workImage = image;
    workMask = blurred;
  }
  if (options.maskedContent !== 'original') workImage = fillMasked(workImage, workMask);
  const latentFill = options.maskedContent === 'latent_noise' ? 'noise' : options.maskedContent === 'latent_nothing' ? 'nothing' : undefined;
  return {
    blurred,
    overlay,
    crop,
    image: workImage,
    mask: maskToRgba(workMask),
    width: workImage.width,
    height: workImage.height,
    ...(latentFill ? { latentFill } : {}),
  };
}

/** A1111's `apply_overlay`: the redrawn image back into the original through the overlay mask. */
export function compositeInpaint(original: RgbaImage, redrawn: RgbaImage, plan: InpaintPlan): RgbaImage {
  return pasteWithMask(original, redrawn, plan.crop, plan.overlay);
}

/**
 * The size "only masked" redraws at: the UNet's fixed size when the export fixes it, else the
 * handle's default size, else the family's training size — 768 for SD 2.x (text encoder width
 * 1024, except Turbo's trailing-spacing family, trained at 512), 512 otherwise.
 */
export function nativeSize(handle: Pick<DiffusionModelHandle, 'models' | 'defaults'>): [number, number] {
  const fixed = handle.models.unet.latentSize;
  if (fixed) return [fixed[1] * 8, fixed[0] * 8];
  if (handle.defaults.width && handle.defaults.height) return [handle.defaults.width, handle.defaults.height];
  const turbo = handle.models.family?.schedulerConfig?.timestep_spacing === 'trailing';
  const side = handle.models.textEncoder.hiddenSize === 1024 && !turbo ? 768 : 512;
  return [side, side];
}

export function maskToRgba(mask: Mask): RgbaImage {
  const out = createRgbaImage(mask.width, mask.height);
  for (let i = 0; i < mask.data.length; i++) {
    const v = mask.data[i];
    out.data[i * 4] = v;
    out.data[i * 4 + 1] = v;
    out.data[i * 4 + 2] = v;
    out.data[i * 4 + 3] = 255;
  }
  return out;
}

/** A soft mask resized with the image resizer (area when shrinking, bilinear when growing). */
export function resizeMask(mask: Mask, width: number, height: number): Mask {
  if (mask.width === width && mask.height === height) return { width, height, data: mask.data.slice() };
  const resized = resizeImage(maskToRgba(mask), width, height);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = resized.data[i * 4];
  return { width, height, data };
}

/**
 * A1111's `masking.fill` ("fill" masked content, also applied before latent noise / nothing):
 * the image premultiplied by 1 − mask is blurred at radii 256, 64, 16 (twice), 4 (four times),
 * 2 (twice) and 0, each blur alpha-composited over the last, so masked pixels take the colours
 * of the unmasked ones around them, the nearer the stronger. Pillow's GaussianBlur is three box
 * blurs; here too (box radius from the sigma, edges clamped), in floats — so filled pixels are
 * close to A1111's, not byte-equal. Pixels with mask 0 keep their colour exactly. Alpha is 255.
 */
export function fillMasked(image: RgbaImage, mask: Mask): RgbaImage {
  const { width, height } = image;
  const n = width * height;
  // Premultiplied source: (rgb·a, a), a = 1 − mask.
  const source = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const a = (255 - mask.data[i]) / 255;
    for (let c = 0; c < 3; c++) source[i * 4 + c] = image.data[i * 4 + c] * a;
    source[i * 4 + 3] = a;
  }
  // image_mod: starts transparent; colour straight (not premultiplied) and alpha.
  const colour = new Float32Array(n * 3);
  const alpha = new Float32Array(n);
  for (const [radius, repeats] of FILL_PASSES) {
    const blurred = radius === 0 ? source : boxBlur3(source, width, height, boxRadius(radius));
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < n; i++) {
        const sa = blurred[i * 4 + 3];
        if (sa <= 0) continue;
        const da = alpha[i];
        const oa = sa + da * (1 - sa);
        for (let c = 0; c < 3; c++) {
          const sc = blurred[i * 4 + c] / sa;
          colour[i * 3 + c] = (sc * sa + colour[i * 3 + c] * da * (1 - sa)) / oa;
        }
        alpha[i] = oa;
      }
    }
  }
  const out = createRgbaImage(width, height);
  for (let i = 0; i < n; i++) {
    if (mask.data[i] === 0) {
      out.data.set(image.data.subarray(i * 4, i * 4 + 3), i * 4);
    } else {
      for (let c = 0; c < 3; c++) out.data[i * 4 + c] = colour[i * 3 + c];
    }
    out.data[i * 4 + 3] = 255;
  }
  return out;
}

const FILL_PASSES: ReadonlyArray<readonly [number, number]> = [
  [256, 1],
  [64, 1],
  [16, 2],
  [4, 4],
  [2, 2],
  [0, 1],
];

/** Three box blurs of width 2r + 1 have variance (w² − 1)/4: the r that gives σ². */
function boxRadius(sigma: number): number {
  return Math.max(1, Math.round((Math.sqrt(4 * sigma * sigma + 1) - 1) / 2));
}

/** Three passes of a (2r+1)-wide box blur on each axis, edges clamped, 4 interleaved channels. */
function boxBlur3(input: Float32Array, width: number, height: number, radius: number): Float32Array {
  let a = input.slice();
  let b = new Float32Array(input.length);
  for (let pass = 0; pass < 3; pass++) {
    for (let y = 0; y < height; y++) boxLine(a, b, y * width * 4, 4, width, radius);
    [a, b] = [b, a];
    for (let x = 0; x < width; x++) boxLine(a, b, x * 4, width * 4, height, radius);
    [a, b] = [b, a];
  }
  return a;
}

function boxLine(input: Float32Array, output: Float32Array, start: number, stride: number, length: number, radius: number): void {
  const at = (i: number) => start + Math.min(length - 1, Math.max(0, i)) * stride;
  const norm = 1 / (2 * radius + 1);
  for (let c = 0; c < 4; c++) {
    let sum = 0;
    for (let i = -radius; i <= radius; i++) sum += input[at(i) + c];
    for (let i = 0; i < length; i++) {
      output[start + i * stride + c] = sum * norm;
      sum += input[at(i + radius + 1) + c] - input[at(i - radius) + c];
    }
  }
}
