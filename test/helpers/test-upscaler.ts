/**
 * Test double for the UpscalerPort: a small, known convolutional "model" in plain TypeScript.
 * Box blur (radius r, zero padding like a real conv) then nearest upsampling, so tiles see the
 * same edge effects a real network has and a seam would show.
 */
import type { Tensor } from '../../src/pipeline/tensor';
import type { UpscalerPort } from '../../src/pipeline/ports';

export function createBoxUpscaler(scale: number, radius = 2, maxTileSize = 64): UpscalerPort & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    id: `box-r${radius}-x${scale}`,
    backend: 'test',
    scale,
    valueRange: [0, 255],
    maxTileSize,
    receptiveRadius: radius,
    calls,
    async run(input: Tensor): Promise<Tensor> {
      const [, c, h, w] = input.dims;
      calls.push([...input.dims]);
      const out = new Float32Array(c * h * w * scale * scale);
      const oh = h * scale;
      const ow = w * scale;
      const k = (2 * radius + 1) ** 2;
      for (let ch = 0; ch < c; ch++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            let sum = 0;
            for (let dy = -radius; dy <= radius; dy++) {
              for (let dx = -radius; dx <= radius; dx++) {
                const yy = y + dy;
                const xx = x + dx;
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) sum += input.data[ch * h * w + yy * w + xx];
              }
            }
            const v = sum / k;
            for (let sy = 0; sy < scale; sy++) {
              for (let sx = 0; sx < scale; sx++) {
                out[ch * oh * ow + (y * scale + sy) * ow + x * scale + sx] = v;
              }
            }
          }
        }
      }
      return { data: out, dims: [1, c, oh, ow] };
    },
  };
}

/** A deterministic test image with texture everywhere (so seams would be visible). */
export function patternImage(width: number, height: number, alpha = false) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (x * 7 + y * 3) % 256;
      data[i + 1] = (x * y) % 251;
      data[i + 2] = Math.round(127 + 120 * Math.sin(x / 5) * Math.cos(y / 7));
      data[i + 3] = alpha ? (x + y) % 256 : 255;
    }
  }
  return { width, height, data };
}

export function maxAbsDiff(a: Uint8ClampedArray, b: Uint8ClampedArray, channels = [0, 1, 2, 3]): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (!channels.includes(i % 4)) continue;
    max = Math.max(max, Math.abs(a[i] - b[i]));
  }
  return max;
}
