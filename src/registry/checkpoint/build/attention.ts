/**
 * Multi-head attention as diffusers' `Attention` and transformers' `CLIPAttention` compute it:
 * softmax(q·kᵀ / √head_dim [+ mask]) · v per head, then the output projection.
 */
import type { GraphBuilder } from './graph-builder';
import { groupNorm, linear } from './layers';

/** The projections' module names: diffusers' (`to_q` … `to_out.0`) or CLIP's (`q_proj` … `out_proj`). */
export interface AttentionNames {
  q: string;
  k: string;
  v: string;
  out: string;
}

export const DIFFUSERS_ATTENTION: AttentionNames = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
export const CLIP_ATTENTION: AttentionNames = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' };

/**
 * Scaled dot-product attention over `[b, s, heads·d]` projections; `mask` (additive, broadcast
 * to `[b, heads, s, s']`) is CLIP's causal mask.
 */
export function scaledDotProductAttention(g: GraphBuilder, q: string, k: string, v: string, heads: number, headDim: number, mask?: string): string {
  const split = (t: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [t, g.int64([0, 0, heads, headDim])])], { perm });
  const qh = split(q, [0, 2, 1, 3]); // [b, h, s, d]
  const kh = split(k, [0, 2, 3, 1]); // [b, h, d, s']
  const vh = split(v, [0, 2, 1, 3]); // [b, h, s', d]
  let scores = g.node('Mul', [g.node('MatMul', [qh, kh]), g.floatConst(`attention_scale_${headDim}`, [], [1 / Math.sqrt(headDim)])]);
  if (mask) scores = g.node('Add', [scores, mask]);
  const weights = g.node('Softmax', [scores], { axis: -1 });
  const out = g.node('MatMul', [weights, vh]); // [b, h, s, d]
  return g.node('Reshape', [g.node('Transpose', [out], { perm: [0, 2, 1, 3] }), g.int64([0, 0, heads * headDim])]);
}

/**
 * Attention in the current scope: self-attention over `x` `[b, s, c]`, or cross-attention to
 * `context` `[b, s', c']` (keys and values from the context).
 */
export function attention(
  g: GraphBuilder,
  x: string,
  heads: number,
  options: { context?: string; names?: AttentionNames; mask?: string } = {},
): string {
  const names = options.names ?? DIFFUSERS_ATTENTION;
  const kv = options.context ?? x;
  const inner = g.shape(`${names.q}.weight`)[0];
  if (inner % heads !== 0) throw new Error(`attention ${g.prefix}: width ${inner} is not divisible by ${heads} heads`);
  const q = g.scope(names.q, () => linear(g, x));
  const k = g.scope(names.k, () => linear(g, kv));
  const v = g.scope(names.v, () => linear(g, kv));
  const out = scaledDotProductAttention(g, q, k, v, heads, inner / heads, options.mask);
  // `to_out.0` is one scope, as torch names it (`/attn1/to_out.0/MatMul`).
  return g.scope(names.out, () => linear(g, out));
}

/**
 * The VAE mid block's attention: one head over the h·w positions of a GroupNorm'd NCHW map,
 * with biases on every projection and the input added back.
 */
export function spatialSelfAttention(g: GraphBuilder, x: string, groups: number, eps: number): string {
  const normed = g.scope('group_norm', () => groupNorm(g, x, groups, eps));
  const tokens = g.node('Transpose', [g.node('Reshape', [normed, g.int64([0, 0, -1])])], { perm: [0, 2, 1] }); // [b, hw, c]
  const attended = attention(g, tokens, 1);
  const back = g.node('Reshape', [g.node('Transpose', [attended], { perm: [0, 2, 1] }), g.node('Shape', [x])]);
  return g.node('Add', [back, x]);
}
