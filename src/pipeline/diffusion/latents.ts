/**
 * Tensor helpers the denoising loop needs: image ↔ tensor, batch/channel concatenation,
 * masks at latent resolution, and a cheap latent → RGB preview that skips the VAE.
 */
import { createRgbaImage, type RgbaImage } from '../image/rgba';
import type { Tensor } from '../tensor';

/** Stable Diffusion's VAE latent scale (SDXL: 0.13025); a model config may override it. */
export const SD_VAE_SCALE = 0.18215;

/** RGBA image → `[1, 3, H, W]` in [−1, 1] (alpha ignored), as the VAE encoder expects. */
export function imageToTensor(image: RgbaImage): Tensor {
  const { width, height } = image;
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = image.data[i * 4] / 127.5 - 1;
    data[plane + i] = image.data[i * 4 + 1] / 127.5 - 1;
    data[2 * plane + i] = image.data[i * 4 + 2] / 127.5 - 1;
  }
  return { data, dims: [1, 3, height, width] };
}

/** `[b, 3, H, W]` in [0, 1] → one opaque RGBA image per batch item. */
export function tensorToImages(t: Tensor): RgbaImage[] {
  const [b, c, h, w] = t.dims;
  if (t.dims.length !== 4 || c !== 3) throw new Error(`expected an image tensor [b, 3, H, W], got [${t.dims.join(', ')}]`);
  const plane = h * w;
  const images: RgbaImage[] = [];
  for (let n = 0; n < b; n++) {
    const img = createRgbaImage(w, h);
    const base = n * 3 * plane;
    for (let i = 0; i < plane; i++) {
      // Uint8ClampedArray clamps and rounds half to even.
      img.data[i * 4] = t.data[base + i] * 255;
      img.data[i * 4 + 1] = t.data[base + plane + i] * 255;
      img.data[i * 4 + 2] = t.data[base + 2 * plane + i] * 255;
      img.data[i * 4 + 3] = 255;
    }
    images.push(img);
  }
  return images;
}

/** VAE decoder output in [−1, 1] → [0, 1], clamped (diffusers: `(x / 2 + 0.5).clamp(0, 1)`). */
export function denormalize(t: Tensor): Tensor {
  const data = new Float32Array(t.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, t.data[i] / 2 + 0.5));
  return { data, dims: t.dims };
}

export function scale(t: Tensor, factor: number): Tensor {
  const data = new Float32Array(t.data.length);
  for (let i = 0; i < data.length; i++) data[i] = t.data[i] * factor;
  return { data, dims: t.dims };
}

/** Concatenates along axis 0 (the batch). */
export function concatBatch(parts: Tensor[]): Tensor {
  const rest = parts[0].dims.slice(1);
  for (const p of parts) {
    if (p.dims.length !== parts[0].dims.length || p.dims.slice(1).some((d, i) => d !== rest[i])) {
      throw new Error(`cannot batch [${p.dims.join(', ')}] with [${parts[0].dims.join(', ')}]`);
    }
  }
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return { data, dims: [parts.reduce((n, p) => n + p.dims[0], 0), ...rest] };
}

/** Items `[from, to)` of the batch axis. */
export function sliceBatch(t: Tensor, from: number, to: number): Tensor {
  const item = t.data.length / t.dims[0];
  return { data: t.data.slice(from * item, to * item), dims: [to - from, ...t.dims.slice(1)] };
}

/** Repeats a batch-1 tensor `n` times along the batch axis. */
export function repeatBatch(t: Tensor, n: number): Tensor {
  if (t.dims[0] === n) return t;
  if (t.dims[0] !== 1) throw new Error(`cannot repeat a batch of ${t.dims[0]} to ${n}`);
  return concatBatch(Array.from({ length: n }, () => t));
}

/** Concatenates `[b, ci, h, w]` tensors along the channel axis (inpainting UNet input). */
export function concatChannels(parts: Tensor[]): Tensor {
  const [b, , h, w] = parts[0].dims;
  const plane = h * w;
  const channels = parts.reduce((n, p) => n + p.dims[1], 0);
  const data = new Float32Array(b * channels * plane);
  for (let n = 0; n < b; n++) {
    let c0 = 0;
    for (const p of parts) {
      if (p.dims[0] !== b || p.dims[2] !== h || p.dims[3] !== w) {
        throw new Error(`cannot join [${p.dims.join(', ')}] with [${parts[0].dims.join(', ')}] on channels`);
      }
      const size = p.dims[1] * plane;
      data.set(p.data.subarray(n * size, (n + 1) * size), (n * channels + c0) * plane);
      c0 += p.dims[1];
    }
  }
  return { data, dims: [b, channels, h, w] };
}

/**
 * A mask image (white = repaint) → `[1, 1, H/f, W/f]` in {0, 1}. Each output cell takes the
 * nearest source pixel, as diffusers' `interpolate(mode="nearest")` does; values ≥ 0.5 count as 1.
 */
export function maskToTensor(mask: RgbaImage, width: number, height: number): Tensor {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(mask.height - 1, Math.floor((y * mask.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(mask.width - 1, Math.floor((x * mask.width) / width));
      data[y * width + x] = mask.data[(sy * mask.width + sx) * 4] >= 128 ? 1 : 0;
    }
  }
  return { data, dims: [1, 1, height, width] };
}

/** The image with the repaint region set to 0 (grey in [−1, 1]), as the 9-channel UNet expects. */
export function maskedImage(image: Tensor, mask: Tensor): Tensor {
  const [, c, h, w] = image.dims;
  const plane = h * w;
  const data = new Float32Array(image.data.length);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < plane; i++) data[ch * plane + i] = mask.data[i] >= 0.5 ? 0 : image.data[ch * plane + i];
  }
  return { data, dims: image.dims };
}

/**
 * Stable Diffusion latents → a rough RGB picture without the VAE: a fixed linear map from the
 * four latent channels (the widely used approximation; good enough for a progress preview).
 */
const LATENT_RGB = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export function latentPreview(latents: Tensor, item = 0): RgbaImage {
  const [, c, h, w] = latents.dims;
  const plane = h * w;
  const base = item * c * plane;
  const img = createRgbaImage(w, h);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += latents.data[base + k * plane + i] * LATENT_RGB[k][ch];
      img.data[i * 4 + ch] = (v + 1) * 127.5;
    }
    img.data[i * 4 + 3] = 255;
  }
  return img;
}

/** Throws naming `what` if any value is NaN or infinite. */
export function assertFinite(t: Tensor, what: string): void {
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isFinite(t.data[i])) throw new Error(`${what} contains ${Number.isNaN(t.data[i]) ? 'NaN' : 'infinite'} values`);
  }
}

/**
 * Resizes `[b, c, h, w]` to `[b, c, height, width]` by bilinear interpolation with
 * torch.nn.functional.interpolate's `mode='bilinear', align_corners=False, antialias=False`
 * semantics (A1111's "Latent" hires upscaler): output pixel centres map back to
 * `(i + 0.5)·in/out − 0.5`, clamped at 0 below and to the last pixel above.
 */
export function interpolateBilinear(t: Tensor, height: number, width: number): Tensor {
  if (t.dims.length !== 4) throw new Error(`expected a tensor [b, c, h, w], got [${t.dims.join(', ')}]`);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`interpolation size must be positive integers, got ${width}×${height}`);
  }
  const [b, c, h, w] = t.dims;
  const ys = linearTaps(h, height);
  const xs = linearTaps(w, width);
  const out = new Float32Array(b * c * height * width);
  for (let p = 0; p < b * c; p++) {
    const src = p * h * w;
    const dst = p * height * width;
    for (let y = 0; y < height; y++) {
      const r0 = src + ys.i0[y] * w;
      const r1 = src + ys.i1[y] * w;
      const ly = ys.lambda[y];
      for (let x = 0; x < width; x++) {
        const x0 = xs.i0[x];
        const x1 = xs.i1[x];
        const lx = xs.lambda[x];
        const top = (1 - lx) * t.data[r0 + x0] + lx * t.data[r0 + x1];
        const bottom = (1 - lx) * t.data[r1 + x0] + lx * t.data[r1 + x1];
        out[dst + y * width + x] = (1 - ly) * top + ly * bottom;
      }
    }
  }
  return { data: out, dims: [b, c, height, width] };
}

/** Source indices and weights along one axis, as torch's `area_pixel_compute_source_index`. */
function linearTaps(size: number, outSize: number) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const lambda = new Float64Array(outSize);
  const ratio = size / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(0, (i + 0.5) * ratio - 0.5);
    const lo = Math.min(Math.floor(src), size - 1);
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, size - 1);
    lambda[i] = Math.min(1, src - lo);
  }
  return { i0, i1, lambda };
}
