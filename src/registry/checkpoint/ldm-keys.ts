/**
 * The reader: a single-file Stable Diffusion checkpoint's safetensors header (original LDM key
 * names) → a CheckpointPlan. The family comes from key names (safetensors-classify.ts decides it),
 * every size from tensor shapes, and each weight gets its diffusers parameter name, so the builder
 * names nodes as optimum's exports do.
 *
 * The key mapping follows the facts of diffusers' single-file conversion (`convert_from_ckpt.py`,
 * `single_file_utils.py`): LDM's UNet numbers its blocks flat (`input_blocks.k`, `output_blocks.k`),
 * diffusers by level and layer; LDM's VAE decoder numbers levels bottom-up (`up.i` is diffusers'
 * `up_blocks.(n−1−i)`); OpenCLIP fuses q/k/v into `in_proj_weight`.
 *
 * Every key is accounted for: a weight of a component (mapped once, shape checked), a known extra
 * (EMA copies, DDPM buffers, …: counted in `ignored`), or an error, because a weight the builder
 * silently skipped would make a model that runs and draws noise.
 */
import { classifySafetensorsHeader } from '../safetensors-classify';
import type { SafetensorsHeader, SafetensorsTensor } from '../safetensors-header';
import type {
  CheckpointFamily,
  CheckpointPlan,
  TensorRef,
  TextEncoderArch,
  UnetArch,
  VaeArch,
} from './architecture';

/** A checkpoint the builder cannot take; the message says what the file is or which key is wrong. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const UNET = 'model.diffusion_model.';
const VAE = 'first_stage_model.';
const CLIP = 'cond_stage_model.transformer.text_model.';
const OPEN_CLIP = 'cond_stage_model.model.';

/** Head width where a width is a multiple of it (text encoders; SD 2.x UNet levels). */
const HEAD_DIM = 64;
/** SD 1.x's UNet has 8 heads at every level (LDM config `num_heads: 8`). */
const SD1_UNET_HEADS = 8;

/** Weight dtypes the builder takes; BF16 is converted while building (see TensorRef.dtype). */
const WEIGHT_DTYPES = new Set(['F16', 'F32', 'BF16']);

/**
 * Keys that belong to no component. The DDPM schedule buffers (LatentDiffusion registers them at
 * the top level) are recomputed from the scheduler config; EMA copies duplicate the UNet;
 * `position_ids` is arange(77); `text_projection`/`logit_scale`/`visual.*` are CLIP's image side
 * and contrastive head, which a text encoder's last_hidden_state never uses; `loss.*` is the VAE's
 * training discriminator in some unpruned files.
 */
const IGNORED: readonly RegExp[] = [
  /^model_ema\./,
  /^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_alphas_cumprod|sqrt_one_minus_alphas_cumprod|log_one_minus_alphas_cumprod|sqrt_recip_alphas_cumprod|sqrt_recipm1_alphas_cumprod|posterior_variance|posterior_log_variance_clipped|posterior_mean_coef1|posterior_mean_coef2|logvar|lvlb_weights)$/,
  /^cond_stage_model\.transformer\.text_model\.embeddings\.position_ids$/,
  /^cond_stage_model\.model\.(text_projection|logit_scale|visual\..*)$/,
  /^first_stage_model\.loss\./,
];

/**
 * Older SD 1.x files (saved with transformers < 4.x) lack CLIPTextModel's `text_model.` level;
 * the weights are the same.
 */
const SD1_OLD_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['cond_stage_model.transformer.embeddings.', `${CLIP}embeddings.`],
  ['cond_stage_model.transformer.encoder.', `${CLIP}encoder.`],
  ['cond_stage_model.transformer.final_layer_norm.', `${CLIP}final_layer_norm.`],
];

/**
 * Reads a checkpoint's header into the plan the builder needs. Throws CheckpointError when the file
 * is not an SD 1.x/2.x checkpoint (saying what it is), or a weight is missing, mis-shaped or stored
 * in a type the builder cannot take.
 */
export function planCheckpoint(header: SafetensorsHeader, fileName = 'checkpoint.safetensors'): CheckpointPlan {
  const family = familyOf(header, fileName);
  const keys = new KeySet(header.tensors);
  if (keys.under(VAE).length === 0) {
    throw new CheckpointError(
      `${baseName(fileName)} has no VAE (no first_stage_model.* tensors): it was saved without one, and building needs the VAE inside the checkpoint; use a version of it with the VAE baked in`,
    );
  }
  const text = family === 'sd1' ? planClip(keys) : planOpenClip(keys);
  const unet = planUnet(keys, family);
  const vae = planVae(keys);
  const ignored = keys.finish();
  return {
    family,
    inpainting: unet.arch.inChannels === 9,
    // SD 2.x's 768 models predict v; its 512-base and inpainting models (trained from 512-base)
    // predict noise. The 768/512 split cannot be read from the file; inpainting can.
    prediction: family === 'sd2' && unet.arch.inChannels !== 9 ? 'v_prediction' : 'epsilon',
    text: text.arch,
    unet: unet.arch,
    vae: vae.arch,
    weights: { text_encoder: text.weights, unet: unet.weights, vae_decoder: vae.decoder, vae_encoder: vae.encoder },
    ignored,
  };
}

// ---------------------------------------------------------------------------------------------
// What the file is

function familyOf(header: SafetensorsHeader, fileName: string): CheckpointFamily {
  const c = classifySafetensorsHeader(header, fileName);
  const name = baseName(fileName);
  switch (c.kind) {
    case 'lora':
      throw new CheckpointError(`${name} is a LoRA (${c.modules} adapted layers, rank ${c.rank}), not a checkpoint: import it as a LoRA and use it with a checkpoint`);
    case 'embedding':
      throw new CheckpointError(
        `${name} is a textual-inversion embedding (${c.tokens} vector${c.tokens === 1 ? '' : 's'}), not a checkpoint: import it as an embedding and use it with a checkpoint`,
      );
    case 'unknown':
      throw new CheckpointError(`${name} is not a Stable Diffusion checkpoint: it is ${c.reason}`);
    case 'checkpoint':
      if (c.family === 'sd1' || c.family === 'sd2') return c.family;
      throw new CheckpointError(`${name} is ${unsupportedArchitecture(header.tensors, c.family)}; only SD 1.x and SD 2.x checkpoints can be built here`);
  }
}

function baseName(fileName: string): string {
  return fileName.replace(/^.*[\\/]/, '');
}

function unsupportedArchitecture(tensors: readonly SafetensorsTensor[], family: string): string {
  const has = (prefix: string) => tensors.some((t) => t.name.startsWith(prefix));
  if (family === 'sdxl') return 'an SDXL checkpoint (two text encoders under conditioner.embedders)';
  if (has(`${UNET}joint_blocks.`)) return 'a Stable Diffusion 3 checkpoint (an MMDiT, not a UNet)';
  if (has(`${UNET}double_blocks.`)) return 'a Flux checkpoint (a transformer, not a UNet)';
  return 'a diffusion model without an SD 1.x (cond_stage_model.transformer) or SD 2.x (cond_stage_model.model) text encoder';
}

// ---------------------------------------------------------------------------------------------
// Keys: lookup, shape checks, bookkeeping

class KeySet {
  private readonly byKey = new Map<string, SafetensorsTensor>();
  private readonly taken = new Set<string>();
  private readonly skipped = new Set<string>();

  constructor(tensors: readonly SafetensorsTensor[]) {
    for (const t of tensors) {
      const old = SD1_OLD_PREFIXES.find(([from]) => t.name.startsWith(from));
      this.byKey.set(old ? old[1] + t.name.slice(old[0].length) : t.name, t);
    }
  }

  /** Keys under `prefix` (normalised names). */
  under(prefix: string): string[] {
    return [...this.byKey.keys()].filter((k) => k.startsWith(prefix));
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** A tensor's shape, for reading the architecture; not yet a weight of any component. */
  shape(key: string, rank?: number): number[] {
    const t = this.tensor(key);
    if (rank !== undefined && t.shape.length !== rank) {
      throw new CheckpointError(`tensor '${t.name}' has shape [${t.shape.join(', ')}]; expected ${rank} dimensions`);
    }
    return t.shape;
  }

  /**
   * The weight at `key`, checked against `expected` (or one of several shapes that hold the same
   * bytes), seen as `view` (same element count).
   */
  take(key: string, expected: readonly number[] | ReadonlyArray<readonly number[]>, view?: readonly number[]): TensorRef {
    const t = this.tensor(key);
    const shapes = (Array.isArray(expected[0]) ? expected : [expected]) as ReadonlyArray<readonly number[]>;
    if (!shapes.some((s) => sameShape(t.shape, s))) {
      const wanted = shapes.map((s) => `[${s.join(', ')}]`).join(' or ');
      throw new CheckpointError(`tensor '${t.name}' has shape [${t.shape.join(', ')}]; expected ${wanted}`);
    }
    this.checkDtype(t);
    this.markTaken(key);
    return { key: t.name, dtype: t.dtype, shape: [...(view ?? shapes[0])], begin: t.begin, end: t.end };
  }

  /**
   * A row-major tensor cut into `parts` equal row blocks (OpenCLIP's fused q/k/v): each block is a
   * contiguous byte range, so each is a TensorRef of its own over the same key.
   */
  takeRowBlocks(key: string, expected: readonly number[], parts: number): TensorRef[] {
    const whole = this.take(key, expected);
    const rows = expected[0] / parts;
    const bytes = (whole.end - whole.begin) / parts;
    return Array.from({ length: parts }, (_, i) => ({
      ...whole,
      shape: [rows, ...expected.slice(1)],
      begin: whole.begin + i * bytes,
      end: whole.begin + (i + 1) * bytes,
    }));
  }

  /** Keys that are real weights the plan deliberately leaves out (SD 2.x's last text layer). */
  skip(prefix: string): void {
    for (const k of this.under(prefix)) this.skipped.add(k);
  }

  /** Every remaining key must be a known extra; returns how many keys no component uses. */
  finish(): number {
    let ignored = 0;
    for (const [key, t] of this.byKey) {
      if (this.taken.has(key)) continue;
      if (this.skipped.has(key) || IGNORED.some((re) => re.test(key))) {
        ignored++;
        continue;
      }
      const part = key.startsWith(UNET) ? 'UNet' : key.startsWith(VAE) ? 'VAE' : key.startsWith('cond_stage_model.') ? 'text encoder' : null;
      // Keys outside the three components (a trainer's bookkeeping) cannot change what is built.
      if (part === null) {
        ignored++;
        continue;
      }
      throw new CheckpointError(
        `unexpected tensor '${t.name}' in the ${part}: an SD 1.x/2.x ${part} has no such weight, so this checkpoint's architecture differs (a depth, unCLIP, upscaler or otherwise modified model?)`,
      );
    }
    return ignored;
  }

  private tensor(key: string): SafetensorsTensor {
    const t = this.byKey.get(key);
    if (!t) throw new CheckpointError(`tensor '${key}' is missing: the checkpoint is incomplete or not a standard SD 1.x/2.x model`);
    return t;
  }

  private markTaken(key: string): void {
    if (this.taken.has(key)) throw new Error(`checkpoint reader bug: '${key}' mapped twice`);
    this.taken.add(key);
  }

  private checkDtype(t: SafetensorsTensor): void {
    if (WEIGHT_DTYPES.has(t.dtype)) return;
    if (t.dtype.startsWith('F8_')) {
      throw new CheckpointError(`tensor '${t.name}' is float8 (${t.dtype}), which the studio cannot build from; use an fp16 or fp32 version of this checkpoint`);
    }
    throw new CheckpointError(`tensor '${t.name}' is ${t.dtype}; weights must be F16, BF16 or F32 (a quantised checkpoint? use an fp16 or fp32 version)`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Distinct `N`s of `<prefix>N.` in the keys, which must run 0..count−1. */
function indices(keys: KeySet, prefix: string, what: string): number {
  const seen = new Set<number>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}(\\d+)\\.`);
  for (const k of keys.under(prefix)) {
    const m = re.exec(k);
    if (m) seen.add(Number(m[1]));
  }
  for (let i = 0; i < seen.size; i++) {
    if (!seen.has(i)) throw new CheckpointError(`no '${prefix}${i}.*' tensors although ${what} up to ${Math.max(...seen)} are there: the checkpoint is incomplete`);
  }
  if (seen.size === 0) throw new CheckpointError(`no '${prefix}N.*' tensors (${what}): the checkpoint is incomplete or not a standard SD 1.x/2.x model`);
  return seen.size;
}

/** Heads of an attention `width` wide: 64-wide heads; a tiny test model narrower than one head gets one. */
function headsFor(width: number, where: string): number {
  if (width % HEAD_DIM === 0) return width / HEAD_DIM;
  if (width < HEAD_DIM) return 1;
  throw new CheckpointError(`${where} is ${width} wide, not a multiple of the ${HEAD_DIM}-wide heads it is built from`);
}

/** Collects one component's weights under diffusers names. */
class Weights {
  readonly map = new Map<string, TensorRef>();
  constructor(private readonly keys: KeySet) {}

  add(name: string, key: string, expected: readonly number[] | ReadonlyArray<readonly number[]>, view?: readonly number[]): void {
    this.map.set(name, this.keys.take(key, expected, view));
  }

  /** `weight` and `bias` of a module (Linear, conv, norm). */
  module(name: string, key: string, weight: readonly number[] | ReadonlyArray<readonly number[]>, bias: number | null, view?: readonly number[]): void {
    this.add(`${name}.weight`, `${key}.weight`, weight, view);
    if (bias !== null) this.add(`${name}.bias`, `${key}.bias`, [bias]);
  }

  norm(name: string, key: string, width: number): void {
    this.module(name, key, [width], width);
  }
}

// ---------------------------------------------------------------------------------------------
// Text encoders

interface Planned<A> {
  arch: A;
  weights: ReadonlyMap<string, TensorRef>;
}

function textArch(kind: TextEncoderArch['kind'], embedding: number[], positions: number[], layers: number, intermediate: number): TextEncoderArch {
  const [vocab, width] = embedding;
  return {
    kind,
    width,
    heads: headsFor(width, 'the text encoder'),
    layers,
    // SD 2.x conditions on the penultimate layer (LDM's FrozenOpenCLIPEmbedder, layer "penultimate").
    layersUsed: kind === 'clip' ? layers : layers - 1,
    intermediate,
    vocab,
    positions: positions[0],
    activation: kind === 'clip' ? 'quick_gelu' : 'gelu',
    eps: 1e-5,
  };
}

/** SD 1.x: OpenAI CLIP, stored as transformers' CLIPTextModel, so diffusers names are the keys less the prefix. */
function planClip(keys: KeySet): Planned<TextEncoderArch> {
  const embedding = keys.shape(`${CLIP}embeddings.token_embedding.weight`, 2);
  const positions = keys.shape(`${CLIP}embeddings.position_embedding.weight`, 2);
  const layers = indices(keys, `${CLIP}encoder.layers.`, 'text encoder layers');
  const intermediate = keys.shape(`${CLIP}encoder.layers.0.mlp.fc1.weight`, 2)[0];
  const arch = textArch('clip', embedding, positions, layers, intermediate);
  const w = new Weights(keys);
  const d = arch.width;
  w.add('text_model.embeddings.token_embedding.weight', `${CLIP}embeddings.token_embedding.weight`, [arch.vocab, d]);
  w.add('text_model.embeddings.position_embedding.weight', `${CLIP}embeddings.position_embedding.weight`, [arch.positions, d]);
  for (let i = 0; i < layers; i++) {
    const l = `text_model.encoder.layers.${i}`;
    const k = `${CLIP}encoder.layers.${i}`;
    w.norm(`${l}.layer_norm1`, `${k}.layer_norm1`, d);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) w.module(`${l}.self_attn.${p}`, `${k}.self_attn.${p}`, [d, d], d);
    w.norm(`${l}.layer_norm2`, `${k}.layer_norm2`, d);
    w.module(`${l}.mlp.fc1`, `${k}.mlp.fc1`, [intermediate, d], intermediate);
    w.module(`${l}.mlp.fc2`, `${k}.mlp.fc2`, [d, intermediate], d);
  }
  w.norm('text_model.final_layer_norm', `${CLIP}final_layer_norm`, d);
  return { arch, weights: w.map };
}

/**
 * SD 2.x: OpenCLIP ViT-H's text tower, renamed to CLIPTextModel's names (as diffusers converts
 * it): resblocks → encoder.layers, fused in_proj → q/k/v rows, ln_final → final_layer_norm. Only
 * the layers used are mapped (diffusers' SD 2.x text encoder has 23 of OpenCLIP's 24).
 */
function planOpenClip(keys: KeySet): Planned<TextEncoderArch> {
  const embedding = keys.shape(`${OPEN_CLIP}token_embedding.weight`, 2);
  const positions = keys.shape(`${OPEN_CLIP}positional_embedding`, 2);
  const layers = indices(keys, `${OPEN_CLIP}transformer.resblocks.`, 'text encoder layers');
  const intermediate = keys.shape(`${OPEN_CLIP}transformer.resblocks.0.mlp.c_fc.weight`, 2)[0];
  if (layers < 2) throw new CheckpointError(`the SD 2.x text encoder has ${layers} layer; it needs at least 2 (its penultimate layer's output is used)`);
  const arch = textArch('open_clip', embedding, positions, layers, intermediate);
  const w = new Weights(keys);
  const d = arch.width;
  w.add('text_model.embeddings.token_embedding.weight', `${OPEN_CLIP}token_embedding.weight`, [arch.vocab, d]);
  w.add('text_model.embeddings.position_embedding.weight', `${OPEN_CLIP}positional_embedding`, [arch.positions, d]);
  for (let i = 0; i < arch.layersUsed; i++) {
    const l = `text_model.encoder.layers.${i}`;
    const k = `${OPEN_CLIP}transformer.resblocks.${i}`;
    w.norm(`${l}.layer_norm1`, `${k}.ln_1`, d);
    const weights = keys.takeRowBlocks(`${k}.attn.in_proj_weight`, [3 * d, d], 3);
    const biases = keys.takeRowBlocks(`${k}.attn.in_proj_bias`, [3 * d], 3);
    ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => {
      w.map.set(`${l}.self_attn.${p}.weight`, weights[i]);
      w.map.set(`${l}.self_attn.${p}.bias`, biases[i]);
    });
    w.module(`${l}.self_attn.out_proj`, `${k}.attn.out_proj`, [d, d], d);
    w.norm(`${l}.layer_norm2`, `${k}.ln_2`, d);
    w.module(`${l}.mlp.fc1`, `${k}.mlp.c_fc`, [intermediate, d], intermediate);
    w.module(`${l}.mlp.fc2`, `${k}.mlp.c_proj`, [d, intermediate], d);
  }
  keys.skip(`${OPEN_CLIP}transformer.resblocks.${layers - 1}.`);
  w.norm('text_model.final_layer_norm', `${OPEN_CLIP}ln_final`, d);
  return { arch, weights: w.map };
}

// ---------------------------------------------------------------------------------------------
// UNet

function planUnet(keys: KeySet, family: CheckpointFamily): Planned<UnetArch> {
  const [c0, inChannels] = keys.shape(`${UNET}input_blocks.0.0.weight`, 4);
  if (inChannels !== 4 && inChannels !== 9) {
    throw new CheckpointError(
      `the UNet takes ${inChannels} input channels; only 4 (text to image) and 9 (inpainting) are supported (${inChannels === 8 ? 'an InstructPix2Pix model?' : inChannels === 5 ? 'a depth-to-image model?' : 'an unusual variant'})`,
    );
  }
  const timeEmbedDim = keys.shape(`${UNET}time_embed.0.weight`, 2)[0];
  const outChannels = keys.shape(`${UNET}out.2.weight`, 4)[0];

  // input_blocks: 0 is conv_in, then per level `layers` ResBlocks (+ attention) and a
  // downsampler (`.0.op`) except after the last level.
  const inputBlocks = indices(keys, `${UNET}input_blocks.`, 'UNet input blocks');
  const firstDown = Array.from({ length: inputBlocks }, (_, k) => k).find((k) => keys.has(`${UNET}input_blocks.${k}.0.op.weight`));
  const layers = firstDown === undefined ? inputBlocks - 1 : firstDown - 1;
  const levels = inputBlocks / (layers + 1);
  if (layers < 1 || !Number.isInteger(levels)) {
    throw new CheckpointError(`the UNet's ${inputBlocks} input blocks do not form levels of ResBlocks and downsamplers; the checkpoint is incomplete or not a standard SD UNet`);
  }
  const first = (i: number) => `${UNET}input_blocks.${i * (layers + 1) + 1}`;
  const blockChannels = Array.from({ length: levels }, (_, i) => keys.shape(`${first(i)}.0.in_layers.2.weight`, 4)[0]);
  const attention = Array.from({ length: levels }, (_, i) => keys.has(`${first(i)}.1.proj_in.weight`));

  const mid = `${UNET}middle_block.1`;
  const transformerDepth = indices(keys, `${mid}.transformer_blocks.`, 'mid-block transformer blocks');
  const contextDim = keys.shape(`${mid}.transformer_blocks.0.attn2.to_k.weight`, 2)[1];
  const linearProjection = keys.shape(`${mid}.proj_in.weight`).length === 2;
  const heads = blockChannels.map((c, i) => (family === 'sd1' ? SD1_UNET_HEADS : headsFor(c, `UNet level ${i}`)));

  const arch: UnetArch = {
    inChannels,
    outChannels,
    blockChannels,
    layersPerBlock: layers,
    attention,
    transformerDepth,
    heads,
    contextDim,
    linearProjection,
    timeEmbedDim,
    groups: 32,
    resnetEps: 1e-5,
    transformerEps: 1e-6,
  };

  const w = new Weights(keys);
  const resnet = (name: string, key: string, cin: number, cout: number) => {
    w.norm(`${name}.norm1`, `${key}.in_layers.0`, cin);
    w.module(`${name}.conv1`, `${key}.in_layers.2`, [cout, cin, 3, 3], cout);
    w.module(`${name}.time_emb_proj`, `${key}.emb_layers.1`, [cout, timeEmbedDim], cout);
    w.norm(`${name}.norm2`, `${key}.out_layers.0`, cout);
    w.module(`${name}.conv2`, `${key}.out_layers.3`, [cout, cout, 3, 3], cout);
    if (cin !== cout) w.module(`${name}.conv_shortcut`, `${key}.skip_connection`, [cout, cin, 1, 1], cout);
  };
  const transformer = (name: string, key: string, c: number) => {
    const proj = linearProjection ? [c, c] : [c, c, 1, 1];
    w.norm(`${name}.norm`, `${key}.norm`, c);
    w.module(`${name}.proj_in`, `${key}.proj_in`, proj, c);
    for (let d = 0; d < transformerDepth; d++) {
      const n = `${name}.transformer_blocks.${d}`;
      const k = `${key}.transformer_blocks.${d}`;
      for (const [attn, kvWidth] of [['attn1', c], ['attn2', contextDim]] as const) {
        w.module(`${n}.${attn}.to_q`, `${k}.${attn}.to_q`, [c, c], null);
        w.module(`${n}.${attn}.to_k`, `${k}.${attn}.to_k`, [c, kvWidth], null);
        w.module(`${n}.${attn}.to_v`, `${k}.${attn}.to_v`, [c, kvWidth], null);
        w.module(`${n}.${attn}.to_out.0`, `${k}.${attn}.to_out.0`, [c, c], c);
      }
      for (const norm of ['norm1', 'norm2', 'norm3']) w.norm(`${n}.${norm}`, `${k}.${norm}`, c);
      // GEGLU: one projection to 2 × 4c (value and gate halves), then 4c → c.
      w.module(`${n}.ff.net.0.proj`, `${k}.ff.net.0.proj`, [8 * c, c], 8 * c);
      w.module(`${n}.ff.net.2`, `${k}.ff.net.2`, [c, 4 * c], c);
    }
    w.module(`${name}.proj_out`, `${key}.proj_out`, proj, c);
  };

  w.module('conv_in', `${UNET}input_blocks.0.0`, [c0, inChannels, 3, 3], c0);
  w.module('time_embedding.linear_1', `${UNET}time_embed.0`, [timeEmbedDim, c0], timeEmbedDim);
  w.module('time_embedding.linear_2', `${UNET}time_embed.2`, [timeEmbedDim, timeEmbedDim], timeEmbedDim);

  // The skip connections the up path concatenates, in the order the down path makes them.
  const skips = [c0];
  let h = c0;
  for (let i = 0; i < levels; i++) {
    const c = blockChannels[i];
    for (let j = 0; j < layers; j++) {
      const k = `${UNET}input_blocks.${i * (layers + 1) + 1 + j}`;
      resnet(`down_blocks.${i}.resnets.${j}`, `${k}.0`, h, c);
      if (attention[i]) transformer(`down_blocks.${i}.attentions.${j}`, `${k}.1`, c);
      h = c;
      skips.push(c);
    }
    if (i < levels - 1) {
      w.module(`down_blocks.${i}.downsamplers.0.conv`, `${UNET}input_blocks.${(i + 1) * (layers + 1)}.0.op`, [c, c, 3, 3], c);
      skips.push(c);
    }
  }

  resnet('mid_block.resnets.0', `${UNET}middle_block.0`, h, h);
  transformer('mid_block.attentions.0', mid, h);
  resnet('mid_block.resnets.1', `${UNET}middle_block.2`, h, h);

  for (let u = 0; u < levels; u++) {
    const level = levels - 1 - u;
    const c = blockChannels[level];
    for (let j = 0; j <= layers; j++) {
      const k = `${UNET}output_blocks.${u * (layers + 1) + j}`;
      resnet(`up_blocks.${u}.resnets.${j}`, `${k}.0`, h + skips.pop()!, c);
      if (attention[level]) transformer(`up_blocks.${u}.attentions.${j}`, `${k}.1`, c);
      h = c;
      if (j === layers && u < levels - 1) {
        w.module(`up_blocks.${u}.upsamplers.0.conv`, `${k}.${attention[level] ? 2 : 1}.conv`, [c, c, 3, 3], c);
      }
    }
  }

  w.norm('conv_norm_out', `${UNET}out.0`, h);
  w.module('conv_out', `${UNET}out.2`, [outChannels, h, 3, 3], outChannels);
  return { arch, weights: w.map };
}

// ---------------------------------------------------------------------------------------------
// VAE

function planVae(keys: KeySet): { arch: VaeArch; encoder: ReadonlyMap<string, TensorRef>; decoder: ReadonlyMap<string, TensorRef> } {
  const E = `${VAE}encoder.`;
  const D = `${VAE}decoder.`;
  const [c0, imageChannels] = keys.shape(`${E}conv_in.weight`, 4);
  const latentChannels = keys.shape(`${VAE}post_quant_conv.weight`, 4)[0];
  const levels = indices(keys, `${E}down.`, 'VAE encoder levels');
  const layers = indices(keys, `${E}down.0.block.`, 'VAE encoder ResNet blocks');
  const blockChannels = Array.from({ length: levels }, (_, i) => keys.shape(`${E}down.${i}.block.0.conv1.weight`, 4)[0]);
  const last = blockChannels[levels - 1];
  const arch: VaeArch = { imageChannels, latentChannels, blockChannels, layersPerBlock: layers, groups: 32, eps: 1e-6, scalingFactor: 0.18215 };

  const resnet = (w: Weights, name: string, key: string, cin: number, cout: number) => {
    w.norm(`${name}.norm1`, `${key}.norm1`, cin);
    w.module(`${name}.conv1`, `${key}.conv1`, [cout, cin, 3, 3], cout);
    w.norm(`${name}.norm2`, `${key}.norm2`, cout);
    w.module(`${name}.conv2`, `${key}.conv2`, [cout, cout, 3, 3], cout);
    if (cin !== cout) w.module(`${name}.conv_shortcut`, `${key}.nin_shortcut`, [cout, cin, 1, 1], cout);
  };
  // The mid block: ResNet, single-head self-attention whose q/k/v/proj_out are 1×1 convs in LDM,
  // read here as Linear [c, c] (the same bytes), as diffusers' Attention has them; ResNet.
  const midBlock = (w: Weights, name: string, key: string) => {
    resnet(w, `${name}.resnets.0`, `${key}.block_1`, last, last);
    w.norm(`${name}.attentions.0.group_norm`, `${key}.attn_1.norm`, last);
    // Files written back from diffusers by some tools keep them as [c, c]: the same bytes.
    for (const [to, from] of [['to_q', 'q'], ['to_k', 'k'], ['to_v', 'v'], ['to_out.0', 'proj_out']]) {
      w.module(`${name}.attentions.0.${to}`, `${key}.attn_1.${from}`, [[last, last, 1, 1], [last, last]], last, [last, last]);
    }
    resnet(w, `${name}.resnets.1`, `${key}.block_2`, last, last);
  };

  const enc = new Weights(keys);
  enc.module('encoder.conv_in', `${E}conv_in`, [c0, imageChannels, 3, 3], c0);
  let h = c0;
  for (let i = 0; i < levels; i++) {
    const c = blockChannels[i];
    for (let j = 0; j < layers; j++) {
      resnet(enc, `encoder.down_blocks.${i}.resnets.${j}`, `${E}down.${i}.block.${j}`, h, c);
      h = c;
    }
    // Downsampling pads right and bottom only (the builder's concern; the weight is a plain conv).
    if (i < levels - 1) enc.module(`encoder.down_blocks.${i}.downsamplers.0.conv`, `${E}down.${i}.downsample.conv`, [c, c, 3, 3], c);
  }
  midBlock(enc, 'encoder.mid_block', `${E}mid`);
  enc.norm('encoder.conv_norm_out', `${E}norm_out`, last);
  enc.module('encoder.conv_out', `${E}conv_out`, [2 * latentChannels, last, 3, 3], 2 * latentChannels);
  enc.module('quant_conv', `${VAE}quant_conv`, [2 * latentChannels, 2 * latentChannels, 1, 1], 2 * latentChannels);

  const dec = new Weights(keys);
  dec.module('post_quant_conv', `${VAE}post_quant_conv`, [latentChannels, latentChannels, 1, 1], latentChannels);
  dec.module('decoder.conv_in', `${D}conv_in`, [last, latentChannels, 3, 3], last);
  midBlock(dec, 'decoder.mid_block', `${D}mid`);
  h = last;
  // LDM numbers the decoder's levels as the encoder's (up.0 is the full-resolution one) and runs
  // them from up.(n−1); diffusers numbers them in running order.
  for (let i = levels - 1; i >= 0; i--) {
    const u = levels - 1 - i;
    const c = blockChannels[i];
    for (let j = 0; j <= layers; j++) {
      resnet(dec, `decoder.up_blocks.${u}.resnets.${j}`, `${D}up.${i}.block.${j}`, h, c);
      h = c;
    }
    if (i > 0) dec.module(`decoder.up_blocks.${u}.upsamplers.0.conv`, `${D}up.${i}.upsample.conv`, [c, c, 3, 3], c);
  }
  dec.norm('decoder.conv_norm_out', `${D}norm_out`, h);
  dec.module('decoder.conv_out', `${D}conv_out`, [imageChannels, h, 3, 3], imageChannels);
  return { arch, encoder: enc.map, decoder: dec.map };
}
