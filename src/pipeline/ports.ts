/**
 * Ports: the only way models and storage reach the pipeline. Implementations live in
 * workers/ort (onnxruntime-web) and the worker's storage glue; tests pass their own.
 */
import type { DetectorLayout } from '../protocol/models';
import type { ArtifactMetadata } from '../protocol/stage-results';
import type { Tensor } from './tensor';
import type { RgbaImage } from './image/rgba';
import type { PromptTokenizer } from './diffusion/prompt/chunks';

/** A super-resolution model: NCHW `[1, 3, h, w]` in → `[1, 3, h·scale, w·scale]` out. */
export interface UpscalerPort {
  /** Integer scale factor the model applies. */
  readonly scale: number;
  /** Value range of input and output pixels, e.g. [0, 255] or [0, 1]. */
  readonly valueRange: readonly [number, number];
  /** Largest tile edge (input pixels) the device can run in one go. */
  readonly maxTileSize: number;
  /** Pixels of context each side a tile needs so its centre matches a whole-image run. */
  readonly receptiveRadius: number;
  /** Short name for metadata, e.g. `esrgan-slim-x4`. */
  readonly id: string;
  /** Backend that runs it (`wasm`, `webgpu`, `node`), for metadata. */
  readonly backend: string;
  run(input: Tensor): Promise<Tensor>;
}

export interface UpscalerProvider {
  /** Load (or reuse) an upscaler by model name and factor; throws a clear error if unknown. */
  load(model: string | undefined, factor: number): Promise<UpscalerPort>;
  /** Model names known for a factor, for validation messages. */
  available(): Promise<Array<{ name: string; scale: number }>>;
}

/** How a detector's outputs are decoded (the protocol's DETECTOR_LAYOUTS). */
export type { DetectorLayout };

/** An object detector: a letterboxed square image in, the model's raw outputs out. */
export interface DetectorPort {
  /** Short name for messages and metadata, e.g. `blazeface-back`. */
  readonly id: string;
  readonly layout: DetectorLayout;
  /** Side of the square NCHW input `[1, 3, S, S]`. */
  readonly inputSize: number;
  /** Value range of input pixels, e.g. [-1, 1] or [0, 1]. */
  readonly valueRange: readonly [number, number];
  /** Class names by class index (`['face']`, `['hand']`, a YOLO model's names). */
  readonly classes: readonly string[];
  /** Every output of the model, as float32, in the session's output order. */
  run(input: Tensor): Promise<Tensor[]>;
}

/** The detectors a runtime has, by the class they find (the detailer's `targets`). */
export interface DetectorProvider {
  /** The detectors that find `target` (`face`, `hand`), opened; a clear error if none does. */
  load(target: string): Promise<DetectorPort[]>;
}

export interface ArtifactSink {
  /** Store an image under `name` (e.g. `<job>/generated_upscaled.png`); returns the artifact id. */
  save(name: string, image: RgbaImage, metadata: ArtifactMetadata): Promise<string>;
}

export interface ProgressEvent {
  stage: string;
  step: number;
  total: number;
  message?: string;
  preview?: RgbaImage;
}

/** What stages get from whoever runs the pipeline: models, storage, progress, cancellation. */
export interface StageServices {
  artifacts: ArtifactSink;
  upscalers?: UpscalerProvider;
  diffusion?: DiffusionProvider;
  /** Face and hand detectors for the detailer. */
  detectors?: DetectorProvider;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Monotonic clock in milliseconds (performance.now in browsers). */
  now?: () => number;
}

/**
 * Diffusion model components (DESIGN.md §4). Implementations adapt dtypes (float16, int64
 * timesteps, int32/int64 ids) from the session metadata; the pipeline only sees float32 Tensors.
 */
export interface TextEncoderPort {
  /** Token sequence length the model takes; null when dynamic. */
  readonly sequenceLength: number | null;
  /** Width of `last_hidden_state` (768 for SD 1.x, 1024 for SD 2.x). */
  readonly hiddenSize: number;
  /** `ids` is `[batch, seq]` row-major; returns `last_hidden_state` `[batch, seq, hidden]`. */
  run(ids: Int32Array, dims: readonly [number, number]): Promise<Tensor>;
}

export interface UNetPort {
  /** 4 for text-to-image UNets, 9 for inpainting UNets (latents, mask, masked-image latents). */
  readonly inChannels: 4 | 9;
  /** Largest batch one call accepts (1 for exports with a fixed batch); null when dynamic. */
  readonly maxBatch: number | null;
  /** Encoder sequence length the UNet takes; null when dynamic (longer prompts then fit). */
  readonly sequenceLength: number | null;
  /** Latent height and width when the export fixes them; null when dynamic. */
  readonly latentSize: readonly [number, number] | null;
  /** `sample` `[b, c, h, w]`, one timestep for the whole batch, `encoderHiddenStates` `[b, seq, dim]`. */
  run(sample: Tensor, timestep: number, encoderHiddenStates: Tensor): Promise<Tensor>;
}

export interface VaeDecoderPort {
  /** `latent_sample` `[b, 4, h, w]` (already divided by the scale factor) → `[b, 3, 8h, 8w]` in [−1, 1]. */
  run(latents: Tensor): Promise<Tensor>;
}

export interface VaeEncoderPort {
  /** `sample` `[b, 3, H, W]` in [−1, 1] → latent mean `[b, 4, H/8, W/8]` (not yet scaled). */
  run(image: Tensor): Promise<Tensor>;
}

/** The components of one Stable Diffusion checkpoint, as the denoising loop runs them. */
export interface DiffusionModels {
  textEncoder: TextEncoderPort;
  unet: UNetPort;
  vaeDecoder: VaeDecoderPort;
  vaeEncoder?: VaeEncoderPort;
  tokenizer: PromptTokenizer;
  /** The model folder's `scheduler/scheduler_config.json`, if any. */
  schedulerConfig?: Record<string, unknown>;
  family?: FamilyDefaults;
}

/** What a model family implies when its folder says nothing (DESIGN.md §4). */
export interface FamilyDefaults {
  /** Token after the end token: 49407 for SD 1.x, 0 for SD 2.x / Turbo. */
  padTokenId?: number;
  /** VAE latent scale: 0.18215 for SD 1.x/2.x. */
  vaeScale?: number;
  /** Scheduler config keys the family needs (e.g. Turbo: `timestep_spacing: 'trailing'`). */
  schedulerConfig?: Record<string, unknown>;
}

/** A Stable Diffusion checkpoint opened for the denoising loop, with its registry name and defaults. */
export interface DiffusionModelHandle {
  name: string;
  models: DiffusionModels;
  /** Family sampling defaults (from the registry's family settings). */
  defaults: { steps: number; guidance_scale: number; scheduler: string; width?: number; height?: number };
  /** SHA-256 of each component file (role → hex), recorded with what the model made. */
  hashes?: Record<string, string>;
  /** The LoRAs merged and the embeddings loaded for this request (absent when none were asked for). */
  networks?: AppliedNetworks;
}

/** A LoRA to merge: A1111's tag values (`weight` for the text encoder and, unless `unet` is given, the UNet). */
export interface LoraRequest {
  name: string;
  weight: number;
  unet?: number;
}

/** What a provider merged and loaded, for metadata and the status line. */
export interface AppliedNetworks {
  loras: Array<{ name: string; weight: number; unet?: number; matched: number; total: number; hash?: string }>;
  embeddings: Array<{ name: string; vectors: number; hash?: string }>;
  /** The largest copy of a weights file merging held (0 when nothing was merged in this load). */
  mergePeakBytes: number;
}

export interface DiffusionLoadOptions {
  /** Hears what a long load is doing (building a single-file checkpoint's graphs, merging LoRAs). */
  onStatus?: (message: string) => void;
  /** LoRAs merged into the UNet and text encoder (the prompt's tags and the `loras` parameter, summed by name). */
  loras?: readonly LoraRequest[];
  /**
   * The prompts the model will encode (LoRA tags removed): the textual-inversion embeddings whose
   * names they use are added to the text encoder, and the handle's tokenizer knows them.
   */
  prompts?: readonly string[];
}

/**
 * A1111's short "Model hash" (AutoV2: the first 10 hex digits of the checkpoint file's SHA-256);
 * an ONNX checkpoint is a folder, so its UNet file stands for it.
 */
export function shortModelHash(hashes: Record<string, string> | undefined): string | undefined {
  const unet = hashes?.unet;
  return unet ? unet.slice(0, 10) : undefined;
}

export interface DiffusionProvider {
  /**
   * Opens (or reuses) a registered checkpoint; without a name, the default one. Clear error if none.
   * `onStatus` hears what a long load is doing (e.g. building a single-file checkpoint's graphs);
   * `loras` and `prompts` choose the LoRAs merged and the embeddings added.
   */
  load(model: string | undefined, options?: DiffusionLoadOptions): Promise<DiffusionModelHandle>;
}
