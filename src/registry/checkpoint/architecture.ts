/**
 * What a single-file Stable Diffusion checkpoint (original LDM key names) is, as the graph
 * builder needs it: the family from key names, every size from tensor shapes, and each weight
 * the builder asks for by its diffusers module path, pointing at bytes in the file.
 *
 * The contract between the reader (ldm-keys.ts: header → CheckpointPlan) and the builder
 * (build/*.ts: plan → ONNX graphs). Types only.
 */
import type { SafetensorsDtype } from '../safetensors-header';

/** The families the builder can build (SDXL and others are refused by name). */
export type CheckpointFamily = 'sd1' | 'sd2';

/** The text encoder: OpenAI CLIP (SD 1.x) or OpenCLIP ViT-H (SD 2.x), both as transformers' CLIPTextModel. */
export interface TextEncoderArch {
  /** 'clip': quick_gelu, the last layer's output; 'open_clip': gelu, the penultimate layer's. */
  kind: 'clip' | 'open_clip';
  /** Hidden width (768 SD 1.x, 1024 SD 2.x). */
  width: number;
  /** width / 64 (one head for a tiny test model narrower than 64). */
  heads: number;
  /** Encoder layers in the file. */
  layers: number;
  /** Layers run: `layers` for clip, `layers − 1` for open_clip; `final_layer_norm` follows them. */
  layersUsed: number;
  /** MLP width (4 × width). */
  intermediate: number;
  vocab: number;
  /** Positions (77). */
  positions: number;
  activation: 'quick_gelu' | 'gelu';
  /** LayerNorm epsilon (1e-5). */
  eps: number;
}

export interface UnetArch {
  /** 4, or 9 for inpainting (latents, mask, masked-image latents). */
  inChannels: number;
  outChannels: number;
  /** Channels per level (diffusers' block_out_channels), e.g. [320, 640, 1280, 1280]. */
  blockChannels: number[];
  /** ResNet blocks per down level (the up levels have one more). */
  layersPerBlock: number;
  /** Whether each level (down i / up n−1−i) has transformers; the mid block always has one. */
  attention: boolean[];
  /** Transformer blocks per attention (1 in SD 1.x/2.x). */
  transformerDepth: number;
  /**
   * Attention heads per level: 8 at every level in SD 1.x, channels / 64 in SD 2.x (one head for
   * a tiny level narrower than 64). The mid block uses the last level's.
   */
  heads: number[];
  /** encoder_hidden_states width. */
  contextDim: number;
  /** SD 2.x: Linear proj_in/proj_out; SD 1.x: 1×1 conv (the same bytes, [c, c, 1, 1]). */
  linearProjection: boolean;
  /** 4 × blockChannels[0]. */
  timeEmbedDim: number;
  groups: number;
  /** GroupNorm eps: 1e-5 in ResBlocks, 1e-6 in SpatialTransformers. */
  resnetEps: number;
  transformerEps: number;
}

export interface VaeArch {
  /** 3 (RGB). */
  imageChannels: number;
  /** 4. */
  latentChannels: number;
  /** Channels per level, e.g. [128, 256, 512, 512]. */
  blockChannels: number[];
  /** ResNet blocks per encoder level (the decoder has one more). */
  layersPerBlock: number;
  groups: number;
  /** GroupNorm eps everywhere in the VAE: 1e-6. */
  eps: number;
  /** 0.18215 for SD 1.x/2.x (applied by the pipeline, not the graphs). */
  scalingFactor: number;
}

/**
 * A weight the builder uses: bytes in the checkpoint's data section, read as `shape` (which may
 * differ from the file's shape when only the view changes: a 1×1 conv `[o, i, 1, 1]` read as a
 * Linear `[o, i]`, or rows `[start, end)` of a fused `in_proj_weight`).
 */
export interface TensorRef {
  /** The LDM key in the file. */
  key: string;
  /**
   * F16, F32 or BF16 (the reader refuses float8 and integer weights). BF16 is passed through: the
   * builder or converter turns it into F16/F32, since ONNX Runtime's web kernels do not take it.
   */
  dtype: SafetensorsDtype;
  /** The shape the builder sees (the same element count as [begin, end)). */
  shape: number[];
  /** Byte range in the file's data section (after the 8 + header bytes). */
  begin: number;
  end: number;
}

/** One component's weights by diffusers parameter name, e.g. `down_blocks.0.resnets.0.conv1.weight`. */
export type ComponentWeights = ReadonlyMap<string, TensorRef>;

export const CHECKPOINT_COMPONENTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
export type CheckpointComponent = (typeof CHECKPOINT_COMPONENTS)[number];

export interface CheckpointPlan {
  family: CheckpointFamily;
  /** 9-channel UNet input. */
  inpainting: boolean;
  /**
   * Assumed from the family (SD 2.x: v_prediction, except its inpainting model, trained from the
   * epsilon 512-base), editable by the user as for any checkpoint.
   */
  prediction: 'epsilon' | 'v_prediction';
  text: TextEncoderArch;
  unet: UnetArch;
  vae: VaeArch;
  /**
   * Weights by component, named as diffusers names them: text_encoder as transformers'
   * CLIPTextModel (`text_model.encoder.layers.0.self_attn.q_proj.weight`), unet as
   * UNet2DConditionModel, vae_decoder as AutoencoderKL's `decoder.*` and `post_quant_conv.*`,
   * vae_encoder as its `encoder.*` and `quant_conv.*`.
   */
  weights: Record<CheckpointComponent, ComponentWeights>;
  /** Keys in the file no component uses (EMA, DDPM buffers, …), for the record. */
  ignored: number;
}
