/**
 * The UNet's SpatialTransformer as diffusers names it: Transformer2DModel around
 * BasicTransformerBlocks (self-attention, cross-attention to the text, GEGLU feed-forward).
 */
import { attention } from './attention';
import type { GraphBuilder } from './graph-builder';
import { conv2d, gelu, groupNorm, layerNorm, linear } from './layers';

/** diffusers' BasicTransformerBlock LayerNorms (norm_eps default). */
export const TRANSFORMER_BLOCK_EPS = 1e-5;

/** FeedForward with GEGLU (`ff.net.0.proj` → value · gelu(gate) → `ff.net.2`), in the current scope. */
export function gegluFeedForward(g: GraphBuilder, x: string): string {
  return g.scope('ff', () => {
    const [value, gate] = g.scope('net.0', () => {
      const proj = g.scope('proj', () => linear(g, x));
      return g.nodeN('Split', [proj], { axis: -1 }, 2);
    });
    const gated = g.scope('net.0', () => g.node('Mul', [value, gelu(g, gate)]));
    return g.scope('net.2', () => linear(g, gated));
  });
}

/** Pre-LN: x + attn1(norm1(x)); + attn2(norm2(x), context); + ff(norm3(x)). */
export function basicTransformerBlock(g: GraphBuilder, x: string, context: string, heads: number): string {
  let h = x;
  const n1 = g.scope('norm1', () => layerNorm(g, h, TRANSFORMER_BLOCK_EPS));
  h = g.node('Add', [g.scope('attn1', () => attention(g, n1, heads)), h]);
  const n2 = g.scope('norm2', () => layerNorm(g, h, TRANSFORMER_BLOCK_EPS));
  h = g.node('Add', [g.scope('attn2', () => attention(g, n2, heads, { context })), h]);
  const n3 = g.scope('norm3', () => layerNorm(g, h, TRANSFORMER_BLOCK_EPS));
  return g.node('Add', [gegluFeedForward(g, n3), h]);
}

export interface Transformer2DOptions {
  heads: number;
  depth: number;
  groups: number;
  /** The GroupNorm's eps (1e-6). */
  eps: number;
  /** SD 2.x: Linear proj_in/proj_out on tokens; SD 1.x: 1×1 convs on the map. */
  linearProjection: boolean;
}

/** Transformer2DModel on NCHW `x`: norm → proj_in → blocks → proj_out, plus the input. */
export function transformer2d(g: GraphBuilder, x: string, context: string, o: Transformer2DOptions): string {
  const normed = g.scope('norm', () => groupNorm(g, x, o.groups, o.eps));
  const toTokens = (t: string) => g.node('Transpose', [g.node('Reshape', [t, g.int64([0, 0, -1])])], { perm: [0, 2, 1] });
  const toMap = (t: string) => g.node('Reshape', [g.node('Transpose', [t], { perm: [0, 2, 1] }), g.node('Shape', [x])]);
  let h = o.linearProjection ? g.scope('proj_in', () => linear(g, toTokens(normed))) : toTokens(g.scope('proj_in', () => conv2d(g, normed)));
  for (let i = 0; i < o.depth; i++) {
    const input = h;
    h = g.scope(`transformer_blocks.${i}`, () => basicTransformerBlock(g, input, context, o.heads));
  }
  const out = o.linearProjection ? toMap(g.scope('proj_out', () => linear(g, h))) : g.scope('proj_out', () => conv2d(g, toMap(h)));
  return g.node('Add', [out, x]);
}
