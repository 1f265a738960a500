/**
 * Tiny CheckpointPlans with random weights named as diffusers names them (what the LDM reader
 * gives the builder), for the component builders' tests. Channel bookkeeping follows diffusers'
 * UNet2DConditionModel and AutoencoderKL constructors.
 */
import type { CheckpointPlan, TensorRef } from '../../src/registry/checkpoint/architecture';
import { FakeCheckpoint } from './fake-checkpoint';

export interface TinyPlanOptions {
  family?: 'sd1' | 'sd2';
  inpainting?: boolean;
  dtype?: 'F32' | 'F16';
  seed?: number;
}

export interface TinyCheckpoint {
  plan: CheckpointPlan;
  /** One FakeCheckpoint per component (its own stand-in file). */
  files: Record<keyof CheckpointPlan['weights'], FakeCheckpoint>;
}

/** What the weight enumerators write to: a FakeCheckpoint (random bytes) or a ShapesOnly. */
export interface WeightSink {
  add(name: string, dims: number[], scale?: number | ArrayLike<number>): this;
  linear(prefix: string, inp: number, out: number, bias?: boolean): this;
  conv(prefix: string, inp: number, out: number, k: number): this;
  norm(prefix: string, channels: number): this;
}

/** TensorRefs laid out back to back with no bytes behind them: full-size graphs without weights. */
export class ShapesOnly implements WeightSink {
  readonly refs = new Map<string, TensorRef>();
  private size = 0;
  constructor(readonly dtype: 'F32' | 'F16' = 'F16') {}
  add(name: string, dims: number[]): this {
    const bytes = dims.reduce((a, b) => a * b, 1) * (this.dtype === 'F32' ? 4 : 2);
    this.refs.set(name, { key: name, dtype: this.dtype, shape: dims, begin: this.size, end: this.size + bytes });
    this.size += bytes;
    return this;
  }
  linear(prefix: string, inp: number, out: number, bias = true): this {
    this.add(`${prefix}.weight`, [out, inp]);
    return bias ? this.add(`${prefix}.bias`, [out]) : this;
  }
  conv(prefix: string, inp: number, out: number, k: number): this {
    return this.add(`${prefix}.weight`, [out, inp, k, k]).add(`${prefix}.bias`, [out]);
  }
  norm(prefix: string, channels: number): this {
    return this.add(`${prefix}.weight`, [channels]).add(`${prefix}.bias`, [channels]);
  }
}

function unetWeights(ck: WeightSink, plan: CheckpointPlan): void {
  const a = plan.unet;
  const c = a.blockChannels;
  const n = c.length;
  const L = a.layersPerBlock;
  const temb = a.timeEmbedDim;
  const resnet = (pre: string, cin: number, cout: number) => {
    ck.norm(`${pre}.norm1`, cin).conv(`${pre}.conv1`, cin, cout, 3).linear(`${pre}.time_emb_proj`, temb, cout);
    ck.norm(`${pre}.norm2`, cout).conv(`${pre}.conv2`, cout, cout, 3);
    if (cin !== cout) ck.conv(`${pre}.conv_shortcut`, cin, cout, 1);
  };
  const attn = (pre: string, ch: number, kv: number) =>
    ck.linear(`${pre}.to_q`, ch, ch, false).linear(`${pre}.to_k`, kv, ch, false).linear(`${pre}.to_v`, kv, ch, false).linear(`${pre}.to_out.0`, ch, ch);
  const transformer = (pre: string, ch: number) => {
    ck.norm(`${pre}.norm`, ch);
    const proj = (name: string) => (a.linearProjection ? ck.linear(`${pre}.${name}`, ch, ch) : ck.conv(`${pre}.${name}`, ch, ch, 1));
    proj('proj_in');
    for (let d = 0; d < a.transformerDepth; d++) {
      const b = `${pre}.transformer_blocks.${d}`;
      ck.norm(`${b}.norm1`, ch).norm(`${b}.norm2`, ch).norm(`${b}.norm3`, ch);
      attn(`${b}.attn1`, ch, ch);
      attn(`${b}.attn2`, ch, a.contextDim);
      ck.linear(`${b}.ff.net.0.proj`, ch, 8 * ch).linear(`${b}.ff.net.2`, 4 * ch, ch);
    }
    proj('proj_out');
  };
  ck.linear('time_embedding.linear_1', c[0], temb).linear('time_embedding.linear_2', temb, temb);
  ck.conv('conv_in', a.inChannels, c[0], 3);
  for (let i = 0; i < n; i++) {
    const cin = i === 0 ? c[0] : c[i - 1];
    for (let j = 0; j < L; j++) {
      resnet(`down_blocks.${i}.resnets.${j}`, j === 0 ? cin : c[i], c[i]);
      if (a.attention[i]) transformer(`down_blocks.${i}.attentions.${j}`, c[i]);
    }
    if (i < n - 1) ck.conv(`down_blocks.${i}.downsamplers.0.conv`, c[i], c[i], 3);
  }
  resnet('mid_block.resnets.0', c[n - 1], c[n - 1]);
  transformer('mid_block.attentions.0', c[n - 1]);
  resnet('mid_block.resnets.1', c[n - 1], c[n - 1]);
  const rev = [...c].reverse();
  for (let i = 0; i < n; i++) {
    const prev = i === 0 ? rev[0] : rev[i - 1];
    const cin = rev[Math.min(i + 1, n - 1)];
    for (let j = 0; j <= L; j++) {
      const skip = j === L ? cin : rev[i];
      resnet(`up_blocks.${i}.resnets.${j}`, (j === 0 ? prev : rev[i]) + skip, rev[i]);
      if (a.attention[n - 1 - i]) transformer(`up_blocks.${i}.attentions.${j}`, rev[i]);
    }
    if (i < n - 1) ck.conv(`up_blocks.${i}.upsamplers.0.conv`, rev[i], rev[i], 3);
  }
  ck.norm('conv_norm_out', c[0]).conv('conv_out', c[0], a.outChannels, 3);
}

function vaeResnet(ck: WeightSink, pre: string, cin: number, cout: number): void {
  ck.norm(`${pre}.norm1`, cin).conv(`${pre}.conv1`, cin, cout, 3).norm(`${pre}.norm2`, cout).conv(`${pre}.conv2`, cout, cout, 3);
  if (cin !== cout) ck.conv(`${pre}.conv_shortcut`, cin, cout, 1);
}

function vaeMid(ck: WeightSink, pre: string, ch: number): void {
  vaeResnet(ck, `${pre}.mid_block.resnets.0`, ch, ch);
  ck.norm(`${pre}.mid_block.attentions.0.group_norm`, ch);
  for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) ck.linear(`${pre}.mid_block.attentions.0.${p}`, ch, ch);
  vaeResnet(ck, `${pre}.mid_block.resnets.1`, ch, ch);
}

function vaeEncoderWeights(ck: WeightSink, plan: CheckpointPlan): void {
  const { blockChannels: c, layersPerBlock: L, latentChannels, imageChannels } = plan.vae;
  const n = c.length;
  ck.conv('encoder.conv_in', imageChannels, c[0], 3);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) vaeResnet(ck, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? (i === 0 ? c[0] : c[i - 1]) : c[i], c[i]);
    if (i < n - 1) ck.conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, c[i], c[i], 3);
  }
  vaeMid(ck, 'encoder', c[n - 1]);
  ck.norm('encoder.conv_norm_out', c[n - 1]).conv('encoder.conv_out', c[n - 1], 2 * latentChannels, 3);
  ck.conv('quant_conv', 2 * latentChannels, 2 * latentChannels, 1);
}

function vaeDecoderWeights(ck: WeightSink, plan: CheckpointPlan): void {
  const { blockChannels: c, layersPerBlock: L, latentChannels, imageChannels } = plan.vae;
  const n = c.length;
  const rev = [...c].reverse();
  ck.conv('post_quant_conv', latentChannels, latentChannels, 1);
  ck.conv('decoder.conv_in', latentChannels, rev[0], 3);
  vaeMid(ck, 'decoder', rev[0]);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= L; j++) vaeResnet(ck, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? (i === 0 ? rev[0] : rev[i - 1]) : rev[i], rev[i]);
    if (i < n - 1) ck.conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, rev[i], rev[i], 3);
  }
  ck.norm('decoder.conv_norm_out', c[0]).conv('decoder.conv_out', c[0], imageChannels, 3);
}

function textWeights(ck: WeightSink, plan: CheckpointPlan): void {
  const t = plan.text;
  ck.add('text_model.embeddings.token_embedding.weight', [t.vocab, t.width], 1);
  ck.add('text_model.embeddings.position_embedding.weight', [t.positions, t.width], 0.5);
  for (let i = 0; i < t.layers; i++) {
    const pre = `text_model.encoder.layers.${i}`;
    ck.norm(`${pre}.layer_norm1`, t.width).norm(`${pre}.layer_norm2`, t.width);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) ck.linear(`${pre}.self_attn.${p}`, t.width, t.width);
    ck.linear(`${pre}.mlp.fc1`, t.width, t.intermediate).linear(`${pre}.mlp.fc2`, t.intermediate, t.width);
  }
  ck.norm('text_model.final_layer_norm', t.width);
}

/**
 * The brief's tiny configuration: UNet channels [32, 64] (attention at the first level only, as
 * SD's last level has none), 1 layer per block, heads 2; text width 32, 2 layers (open_clip runs
 * 1), heads 2; VAE channels [32, 32, 64, 64] so the decoder upsamples ×8 like SD's.
 */
export function tinyCheckpoint(options: TinyPlanOptions = {}): TinyCheckpoint {
  const { family = 'sd1', inpainting = false, dtype = 'F32', seed = 1 } = options;
  const sd2 = family === 'sd2';
  const plan: CheckpointPlan = {
    family,
    inpainting,
    prediction: sd2 ? 'v_prediction' : 'epsilon',
    text: {
      kind: sd2 ? 'open_clip' : 'clip',
      width: 32,
      heads: 2,
      layers: 2,
      layersUsed: sd2 ? 1 : 2,
      intermediate: 128,
      vocab: 49408,
      positions: 77,
      activation: sd2 ? 'gelu' : 'quick_gelu',
      eps: 1e-5,
    },
    unet: {
      inChannels: inpainting ? 9 : 4,
      outChannels: 4,
      blockChannels: [32, 64],
      layersPerBlock: 1,
      attention: [true, false],
      transformerDepth: 1,
      heads: [2, 2],
      contextDim: 32,
      linearProjection: sd2,
      timeEmbedDim: 128,
      groups: 32,
      resnetEps: 1e-5,
      transformerEps: 1e-6,
    },
    vae: { imageChannels: 3, latentChannels: 4, blockChannels: [32, 32, 64, 64], layersPerBlock: 1, groups: 32, eps: 1e-6, scalingFactor: 0.18215 },
    weights: { text_encoder: new Map(), unet: new Map(), vae_decoder: new Map(), vae_encoder: new Map() },
    ignored: 0,
  };
  const files = {
    text_encoder: new FakeCheckpoint(seed * 10 + 1, dtype),
    unet: new FakeCheckpoint(seed * 10 + 2, dtype),
    vae_decoder: new FakeCheckpoint(seed * 10 + 3, dtype),
    vae_encoder: new FakeCheckpoint(seed * 10 + 4, dtype),
  };
  textWeights(files.text_encoder, plan);
  unetWeights(files.unet, plan);
  vaeDecoderWeights(files.vae_decoder, plan);
  vaeEncoderWeights(files.vae_encoder, plan);
  plan.weights = {
    text_encoder: files.text_encoder.refs,
    unet: files.unet.refs,
    vae_decoder: files.vae_decoder.refs,
    vae_encoder: files.vae_encoder.refs,
  };
  return { plan, files };
}

/** SD 1.5's architecture (what the reader gives for v1-5-pruned), as a plan without weights. */
export function sd15Plan(): CheckpointPlan {
  return {
    family: 'sd1',
    inpainting: false,
    prediction: 'epsilon',
    text: { kind: 'clip', width: 768, heads: 12, layers: 12, layersUsed: 12, intermediate: 3072, vocab: 49408, positions: 77, activation: 'quick_gelu', eps: 1e-5 },
    unet: {
      inChannels: 4,
      outChannels: 4,
      blockChannels: [320, 640, 1280, 1280],
      layersPerBlock: 2,
      attention: [true, true, true, false],
      transformerDepth: 1,
      heads: [8, 8, 8, 8],
      contextDim: 768,
      linearProjection: false,
      timeEmbedDim: 1280,
      groups: 32,
      resnetEps: 1e-5,
      transformerEps: 1e-6,
    },
    vae: { imageChannels: 3, latentChannels: 4, blockChannels: [128, 256, 512, 512], layersPerBlock: 2, groups: 32, eps: 1e-6, scalingFactor: 0.18215 },
    weights: { text_encoder: new Map(), unet: new Map(), vae_decoder: new Map(), vae_encoder: new Map() },
    ignored: 0,
  };
}

/** Fills `plan.weights` with shape-only refs (one ShapesOnly per component), returned by component. */
export function withShapeOnlyWeights(plan: CheckpointPlan, dtype: 'F32' | 'F16' = 'F16'): Record<keyof CheckpointPlan['weights'], ShapesOnly> {
  const sinks = { text_encoder: new ShapesOnly(dtype), unet: new ShapesOnly(dtype), vae_decoder: new ShapesOnly(dtype), vae_encoder: new ShapesOnly(dtype) };
  textWeights(sinks.text_encoder, plan);
  unetWeights(sinks.unet, plan);
  vaeDecoderWeights(sinks.vae_decoder, plan);
  vaeEncoderWeights(sinks.vae_encoder, plan);
  plan.weights = { text_encoder: sinks.text_encoder.refs, unet: sinks.unet.refs, vae_decoder: sinks.vae_decoder.refs, vae_encoder: sinks.vae_encoder.refs };
  return sinks;
}
