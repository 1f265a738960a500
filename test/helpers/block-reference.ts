/**
 * Float64 references of diffusers' / transformers' modules, composed from nn-reference's layers
 * and reading parameters by their diffusers names (`prefix` ends in a dot, or is empty).
 */
import type { Param } from './fake-checkpoint';
import {
  add,
  attentionRef,
  concatChannels,
  conv2dRef,
  geluRef,
  groupNormRef,
  layerNormRef,
  linearRef,
  quickGeluRef,
  siluRef,
  timestepEmbeddingRef,
  toMap,
  toTokens,
  upsampleNearest2,
  type T64,
} from './nn-reference';

export type ParamMap = ReadonlyMap<string, Param>;

function get(p: ParamMap, name: string): Param {
  const v = p.get(name);
  if (!v) throw new Error(`reference: no parameter ${name}`);
  return v;
}
const lin = (p: ParamMap, pre: string, x: T64) => linearRef(x, get(p, `${pre}weight`), p.get(`${pre}bias`));
const conv = (p: ParamMap, pre: string, x: T64, stride = 1, pads?: number[]) => conv2dRef(x, get(p, `${pre}weight`), p.get(`${pre}bias`), stride, pads);
const gn = (p: ParamMap, pre: string, x: T64, groups: number, eps: number) => groupNormRef(x, groups, eps, get(p, `${pre}weight`), get(p, `${pre}bias`));
const ln = (p: ParamMap, pre: string, x: T64, eps: number) => layerNormRef(x, eps, get(p, `${pre}weight`), get(p, `${pre}bias`));

/** ResnetBlock2D; `temb` [b, t] is the raw time embedding (SiLU applied here). */
export function resnetRef(p: ParamMap, pre: string, x: T64, groups: number, eps: number, temb?: T64): T64 {
  let h = conv(p, `${pre}conv1.`, siluRef(gn(p, `${pre}norm1.`, x, groups, eps)));
  if (temb) {
    const t = lin(p, `${pre}time_emb_proj.`, siluRef(temb));
    const [, c, hh, ww] = h.dims;
    // t [b, c] added at every position of channel c of batch item b.
    h = { data: h.data.map((v, i) => v + t.data[Math.floor(i / (c * hh * ww)) * c + (Math.floor(i / (hh * ww)) % c)]), dims: h.dims };
  }
  h = conv(p, `${pre}conv2.`, siluRef(gn(p, `${pre}norm2.`, h, groups, eps)));
  const shortcut = p.has(`${pre}conv_shortcut.weight`) ? conv(p, `${pre}conv_shortcut.`, x) : x;
  return add(shortcut, h);
}

export const downsampleRef = (p: ParamMap, pre: string, x: T64, kind: 'unet' | 'vae') =>
  conv(p, `${pre}downsamplers.0.conv.`, x, 2, kind === 'unet' ? [1, 1, 1, 1] : [0, 0, 1, 1]);
export const upsampleRef = (p: ParamMap, pre: string, x: T64) => conv(p, `${pre}upsamplers.0.conv.`, upsampleNearest2(x));

export interface AttnNames {
  q: string;
  k: string;
  v: string;
  out: string;
}
const DIFFUSERS: AttnNames = { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' };
const CLIP: AttnNames = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' };

export function attentionModuleRef(p: ParamMap, pre: string, x: T64, heads: number, context?: T64, names = DIFFUSERS, causal = false): T64 {
  const kv = context ?? x;
  const q = lin(p, `${pre}${names.q}.`, x);
  const k = lin(p, `${pre}${names.k}.`, kv);
  const v = lin(p, `${pre}${names.v}.`, kv);
  return lin(p, `${pre}${names.out}.`, attentionRef(q, k, v, heads, causal));
}

export function gegluRef(p: ParamMap, pre: string, x: T64): T64 {
  const proj = lin(p, `${pre}net.0.proj.`, x);
  const inner = proj.dims[proj.dims.length - 1] / 2;
  const rows = proj.data.length / (2 * inner);
  const value = new Float64Array(rows * inner);
  const gate = new Float64Array(rows * inner);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < inner; i++) {
      value[r * inner + i] = proj.data[r * 2 * inner + i];
      gate[r * inner + i] = proj.data[r * 2 * inner + inner + i];
    }
  const dims = [...proj.dims.slice(0, -1), inner];
  const g = geluRef({ data: gate, dims });
  return lin(p, `${pre}net.2.`, { data: value.map((v, i) => v * g.data[i]), dims });
}

export function basicTransformerBlockRef(p: ParamMap, pre: string, x: T64, context: T64, heads: number): T64 {
  let h = add(x, attentionModuleRef(p, `${pre}attn1.`, ln(p, `${pre}norm1.`, x, 1e-5), heads));
  h = add(h, attentionModuleRef(p, `${pre}attn2.`, ln(p, `${pre}norm2.`, h, 1e-5), heads, context));
  return add(h, gegluRef(p, `${pre}ff.`, ln(p, `${pre}norm3.`, h, 1e-5)));
}

export function transformer2dRef(p: ParamMap, pre: string, x: T64, context: T64, heads: number, linearProjection: boolean, depth = 1, groups = 32): T64 {
  const [, , hh, ww] = x.dims;
  const normed = gn(p, `${pre}norm.`, x, groups, 1e-6);
  let h = linearProjection ? lin(p, `${pre}proj_in.`, toTokens(normed)) : toTokens(conv(p, `${pre}proj_in.`, normed));
  for (let i = 0; i < depth; i++) h = basicTransformerBlockRef(p, `${pre}transformer_blocks.${i}.`, h, context, heads);
  const out = linearProjection ? toMap(lin(p, `${pre}proj_out.`, h), hh, ww) : conv(p, `${pre}proj_out.`, toMap(h, hh, ww));
  return add(out, x);
}

/** The VAE's mid attention: one head over positions, GroupNorm first, input added back. */
export function spatialAttentionRef(p: ParamMap, pre: string, x: T64, groups: number, eps: number): T64 {
  const [, , hh, ww] = x.dims;
  const tokens = toTokens(gn(p, `${pre}group_norm.`, x, groups, eps));
  return add(toMap(attentionModuleRef(p, pre, tokens, 1), hh, ww), x);
}

/** CLIPEncoderLayer: pre-LN causal self-attention and MLP. */
export function clipLayerRef(p: ParamMap, pre: string, x: T64, heads: number, activation: 'quick_gelu' | 'gelu', eps = 1e-5): T64 {
  const h = add(x, attentionModuleRef(p, `${pre}self_attn.`, ln(p, `${pre}layer_norm1.`, x, eps), heads, undefined, CLIP, true));
  const act = activation === 'gelu' ? geluRef : quickGeluRef;
  return add(h, lin(p, `${pre}mlp.fc2.`, act(lin(p, `${pre}mlp.fc1.`, ln(p, `${pre}layer_norm2.`, h, eps)))));
}

/** time_proj → time_embedding (linear_1, SiLU, linear_2). */
export function timeEmbeddingRef(p: ParamMap, timesteps: number[], dim: number): T64 {
  return lin(p, 'time_embedding.linear_2.', siluRef(lin(p, 'time_embedding.linear_1.', timestepEmbeddingRef(timesteps, dim))));
}

export { concatChannels, conv, gn, lin, ln };
