/**
 * Float64 references of whole components (CLIPTextModel, UNet2DConditionModel, AutoencoderKL's
 * encoder and decoder), composed from block-reference's modules.
 */
import type { CheckpointPlan } from '../../src/registry/checkpoint/architecture';
import {
  clipLayerRef,
  concatChannels,
  conv,
  downsampleRef,
  gn,
  ln,
  resnetRef,
  spatialAttentionRef,
  timeEmbeddingRef,
  transformer2dRef,
  upsampleRef,
  type ParamMap,
} from './block-reference';
import { siluRef, type T64 } from './nn-reference';

/** last_hidden_state for `ids` [b, s]. */
export function textEncoderRef(p: ParamMap, arch: CheckpointPlan['text'], ids: number[], dims: [number, number]): T64 {
  const [b, s] = dims;
  const w = arch.width;
  const tok = p.get('text_model.embeddings.token_embedding.weight')!;
  const pos = p.get('text_model.embeddings.position_embedding.weight')!;
  const x = new Float64Array(b * s * w);
  for (let i = 0; i < b * s; i++) for (let c = 0; c < w; c++) x[i * w + c] = tok.data[ids[i] * w + c] + pos.data[(i % s) * w + c];
  let h: T64 = { data: x, dims: [b, s, w] };
  for (let l = 0; l < arch.layersUsed; l++) h = clipLayerRef(p, `text_model.encoder.layers.${l}.`, h, arch.heads, arch.activation, arch.eps);
  return ln(p, 'text_model.final_layer_norm.', h, arch.eps);
}

export function unetRef(p: ParamMap, arch: CheckpointPlan['unet'], sample: T64, timesteps: number[], context: T64): T64 {
  const n = arch.blockChannels.length;
  const temb = timeEmbeddingRef(p, timesteps, arch.blockChannels[0]);
  const resnet = (pre: string, x: T64) => resnetRef(p, pre, x, arch.groups, arch.resnetEps, temb);
  const transformer = (pre: string, x: T64, level: number) =>
    transformer2dRef(p, pre, x, context, arch.heads[level], arch.linearProjection, arch.transformerDepth, arch.groups);
  let h = conv(p, 'conv_in.', sample);
  const skips = [h];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < arch.layersPerBlock; j++) {
      h = resnet(`down_blocks.${i}.resnets.${j}.`, h);
      if (arch.attention[i]) h = transformer(`down_blocks.${i}.attentions.${j}.`, h, i);
      skips.push(h);
    }
    if (i < n - 1) skips.push((h = downsampleRef(p, `down_blocks.${i}.`, h, 'unet')));
  }
  h = resnet('mid_block.resnets.1.', transformer('mid_block.attentions.0.', resnet('mid_block.resnets.0.', h), n - 1));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= arch.layersPerBlock; j++) {
      h = resnet(`up_blocks.${i}.resnets.${j}.`, concatChannels(h, skips.pop()!));
      if (arch.attention[n - 1 - i]) h = transformer(`up_blocks.${i}.attentions.${j}.`, h, n - 1 - i);
    }
    if (i < n - 1) h = upsampleRef(p, `up_blocks.${i}.`, h);
  }
  return conv(p, 'conv_out.', siluRef(gn(p, 'conv_norm_out.', h, arch.groups, arch.resnetEps)));
}

function vaeMidRef(p: ParamMap, pre: string, x: T64, arch: CheckpointPlan['vae']): T64 {
  const r = (name: string, t: T64) => resnetRef(p, `${pre}mid_block.${name}.`, t, arch.groups, arch.eps);
  return r('resnets.1', spatialAttentionRef(p, `${pre}mid_block.attentions.0.`, r('resnets.0', x), arch.groups, arch.eps));
}

export function vaeDecoderRef(p: ParamMap, arch: CheckpointPlan['vae'], latent: T64): T64 {
  const n = arch.blockChannels.length;
  let h = conv(p, 'decoder.conv_in.', conv(p, 'post_quant_conv.', latent));
  h = vaeMidRef(p, 'decoder.', h, arch);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= arch.layersPerBlock; j++) h = resnetRef(p, `decoder.up_blocks.${i}.resnets.${j}.`, h, arch.groups, arch.eps);
    if (i < n - 1) h = upsampleRef(p, `decoder.up_blocks.${i}.`, h);
  }
  return conv(p, 'decoder.conv_out.', siluRef(gn(p, 'decoder.conv_norm_out.', h, arch.groups, arch.eps)));
}

export function vaeEncoderRef(p: ParamMap, arch: CheckpointPlan['vae'], image: T64): T64 {
  const n = arch.blockChannels.length;
  let h = conv(p, 'encoder.conv_in.', image);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < arch.layersPerBlock; j++) h = resnetRef(p, `encoder.down_blocks.${i}.resnets.${j}.`, h, arch.groups, arch.eps);
    if (i < n - 1) h = downsampleRef(p, `encoder.down_blocks.${i}.`, h, 'vae');
  }
  h = vaeMidRef(p, 'encoder.', h, arch);
  h = conv(p, 'encoder.conv_out.', siluRef(gn(p, 'encoder.conv_norm_out.', h, arch.groups, arch.eps)));
  return conv(p, 'quant_conv.', h);
}
