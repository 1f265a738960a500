/**
 * diffusers' ResnetBlock2D, Downsample2D and Upsample2D, shared by the UNet and the VAE.
 */
import type { GraphBuilder } from './graph-builder';
import { conv2d, groupNorm, linear, silu } from './layers';

export interface ResnetOptions {
  groups: number;
  eps: number;
  /** The UNet's time embedding `[b, 4·c0]`, before the SiLU the block applies. */
  temb?: string;
}

/**
 * norm1 → SiLU → conv1 (+ time_emb_proj(SiLU(temb)) per channel) → norm2 → SiLU → conv2, added to
 * the input, through a 1×1 `conv_shortcut` when the channel count changes.
 */
export function resnetBlock(g: GraphBuilder, x: string, o: ResnetOptions): string {
  let h = g.scope('norm1', () => groupNorm(g, x, o.groups, o.eps));
  h = silu(g, h);
  h = g.scope('conv1', () => conv2d(g, h));
  if (o.temb) {
    const t = g.scope('time_emb_proj', () => linear(g, silu(g, o.temb!)));
    h = g.node('Add', [h, g.node('Unsqueeze', [t, g.int64([2, 3])])]);
  }
  h = g.scope('norm2', () => groupNorm(g, h, o.groups, o.eps));
  h = silu(g, h);
  h = g.scope('conv2', () => conv2d(g, h));
  const shortcut = g.has('conv_shortcut.weight') ? g.scope('conv_shortcut', () => conv2d(g, x)) : x;
  return g.node('Add', [shortcut, h]);
}

/**
 * Downsample2D (`downsamplers.0`): a stride-2 3×3 conv. The UNet pads 1 on every side; the VAE
 * pads only right and bottom (LDM's asymmetric padding), which is this conv with pads [0, 0, 1, 1].
 */
export function downsample(g: GraphBuilder, x: string, kind: 'unet' | 'vae'): string {
  return g.scope('downsamplers.0', () =>
    g.scope('conv', () => conv2d(g, x, { stride: 2, pads: kind === 'unet' ? [1, 1, 1, 1] : [0, 0, 1, 1] })),
  );
}

/**
 * Upsample2D (`upsamplers.0`): nearest-neighbour ×2, then a 3×3 conv. With `sizeOf`, the map is
 * resized to that tensor's height and width instead (diffusers' `upsample_size`: the UNet's skip
 * is odd-sized when the latent size is not a multiple of 2^levels).
 */
export function upsample(g: GraphBuilder, x: string, sizeOf?: string): string {
  return g.scope('upsamplers.0', () => {
    const nearest = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    let up: string;
    if (sizeOf) {
      const slice = (t: string, from: number, to: number) => g.node('Slice', [g.node('Shape', [t]), g.int64([from]), g.int64([to])]);
      const sizes = g.node('Concat', [slice(x, 0, 2), slice(sizeOf, 2, 4)], { axis: 0 });
      up = g.node('Resize', [x, '', '', sizes], nearest);
    } else {
      up = g.node('Resize', [x, '', g.float32Const('upsample_scales', [4], [1, 1, 2, 2])], nearest);
    }
    return g.scope('conv', () => conv2d(g, up));
  });
}
