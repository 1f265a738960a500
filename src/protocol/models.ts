/**
 * The model registry's records (the seed's ModelInfo, made real for the browser): what the worker
 * stores, lists and shows. Shared by storage (validation of IndexedDB rows) and the UI.
 */
import { z } from 'zod';
import { GuidanceScale, SCHEDULER_NAMES } from './pipeline-config';

export const MODEL_TYPES = ['checkpoint', 'lora', 'embedding', 'upscaler', 'detector'] as const;
export const ModelType = z.enum(MODEL_TYPES);

/** How a detector's outputs are decoded: MediaPipe SSD (BlazeFace face, palm) or YOLOv8-style. */
export const DETECTOR_LAYOUTS = ['blazeface', 'palm', 'yolo'] as const;
export type DetectorLayout = (typeof DETECTOR_LAYOUTS)[number];
export type ModelType = z.infer<typeof ModelType>;

/** What a file is inside a model, decided from its content (ONNX signature, safetensors keys). */
export const ComponentRole = z.enum([
  'text_encoder',
  'unet',
  'vae_decoder',
  'vae_encoder',
  'upscaler',
  'detector',
  'external_data',
  'tokenizer',
  'scheduler_config',
  'config',
  'lora_weights',
  'embedding_weights',
  /** A single-file checkpoint (.safetensors, LDM keys): the model's graphs are built from it. */
  'checkpoint_weights',
]);
export type ComponentRole = z.infer<typeof ComponentRole>;

export const TensorSignature = z.object({
  name: z.string(),
  /** ONNX element type name: float32, float16, int64, int32, … */
  type: z.string(),
  /** Fixed sizes as numbers, symbolic ones as their names. */
  shape: z.array(z.union([z.number(), z.string()])),
});
export type TensorSignature = z.infer<typeof TensorSignature>;

export const ModelComponent = z.object({
  /** Path inside the model (`unet/model.onnx`), as picked from the user's folder. */
  path: z.string(),
  role: ComponentRole,
  bytes: z.number().int().nonnegative(),
  /** Hex SHA-256 of the file, computed while it streamed in. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Weight dtype: float16, float32, mixed, or the safetensors dtype. */
  dtype: z.string().optional(),
  inputs: z.array(TensorSignature).optional(),
  outputs: z.array(TensorSignature).optional(),
  /** ONNX: external data files this component references (paths relative to the model). */
  external_data: z.array(z.string()).optional(),
  /** Id of the stored file (its chunks), set once stored. */
  file_id: z.string(),
});
export type ModelComponent = z.infer<typeof ModelComponent>;

export const FAMILIES = ['sd1', 'sd2', 'sd-turbo', 'lcm'] as const;
/** A family's default step count stays in A1111's range (a run may still ask for up to LIMITS.steps.max). */
export const FAMILY_MAX_DEFAULT_STEPS = 150;

/** How each family is named to a person (import summaries, the Models view). */
export const FAMILY_LABELS: Record<(typeof FAMILIES)[number], string> = {
  sd1: 'Stable Diffusion 1.x',
  sd2: 'Stable Diffusion 2.x',
  'sd-turbo': 'SD-Turbo',
  lcm: 'Latent Consistency (LCM)',
};

/** CLIP ViT-L's tokenizer (SD 1.x, width 768) pads with <|endoftext|>; OpenCLIP's (SD 2.x, width 1024) with 0. */
export function padTokenForTextEncoderWidth(hidden: number): number {
  return hidden === 1024 ? 0 : 49407;
}

export const FamilySettings = z.object({
  family: z.enum(FAMILIES),
  prediction_type: z.enum(['epsilon', 'v_prediction']),
  default_steps: z.number().int().min(1).max(FAMILY_MAX_DEFAULT_STEPS),
  default_cfg: GuidanceScale,
  default_scheduler: z.enum(SCHEDULER_NAMES),
  /** 49407 (SD 1.x) or 0 (SD 2.x / Turbo). */
  pad_token_id: z.number().int().nonnegative(),
  timestep_spacing: z.enum(['linspace', 'leading', 'trailing']).optional(),
  /** Where each value came from, for the UI ("from scheduler_config.json", "from the name", …). */
  sources: z.record(z.string(), z.string()).default({}),
});
export type FamilySettings = z.infer<typeof FamilySettings>;

/** The components the studio builds from a single-file checkpoint (ONNX graphs over its bytes). */
export const BUILT_COMPONENTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
export type BuiltComponent = (typeof BUILT_COMPONENTS)[number];

/**
 * How a single-file checkpoint's float32 weights are held when its graphs run: `checkpoint` as
 * the file stores them (no copy), `float16` as converted copies (half the memory), `auto` as the
 * backend needs (workers/checkpoint-reader.ts `checkpointWeightsFor` decides, with its reason).
 */
export const CHECKPOINT_WEIGHTS = ['auto', 'checkpoint', 'float16'] as const;
export type CheckpointWeightsChoice = (typeof CHECKPOINT_WEIGHTS)[number];

/**
 * Where a checkpoint's ONNX graphs come from when they are not files of it: built by the studio
 * from one stored single-file checkpoint (`checkpoint_weights`), on first use, then cached.
 */
export const ModelSource = z.object({
  format: z.literal('ldm-safetensors'),
  /** The components built from the file, in the order they load. */
  built: z.array(z.enum(BUILT_COMPONENTS)),
  /**
   * Milliseconds each graph took to build, keyed `<component>/<compute type>` (`unet/float32`),
   * recorded at its first build; a later load from the cache leaves it as it is.
   */
  build_ms: z.record(z.string(), z.number().nonnegative()).default({}),
  /** The person's choice for float32 weights (the Models view); absent in rows before it existed. */
  weights: z.enum(CHECKPOINT_WEIGHTS).default('auto'),
});
export type ModelSource = z.infer<typeof ModelSource>;

/** Whether a model has a component (`vae_encoder`, …), stored or built from its single-file checkpoint. */
export function hasComponent(model: Pick<ModelInfo, 'components' | 'source'>, role: string): boolean {
  return model.components.some((c) => c.role === role) || (model.source?.built as readonly string[] | undefined)?.includes(role) === true;
}

export const ModelStatus = z.enum(['importing', 'verified', 'error']);
export type ModelStatus = z.infer<typeof ModelStatus>;

export const ModelInfo = z.object({
  /** Unique, user-visible identifier (renamable). */
  name: z.string().min(1),
  model_type: ModelType,
  /** The path of the model in the user's folder (its file or folder), as picked. */
  file_path: z.string(),
  file_size_bytes: z.number().int().nonnegative().nullable(),
  /** ISO 8601 time of import. */
  discovered_at: z.string(),
  description: z.string().nullable().default(null),
  tags: z.array(z.string()).default([]),
  metadata: z.record(z.string(), z.unknown()).default({}),
  status: ModelStatus,
  /** Why it is in error, or what the probe said. */
  status_message: z.string().nullable().default(null),
  components: z.array(ModelComponent),
  family: FamilySettings.optional(),
  /** Upscalers: from static shapes or the probe. */
  upscaler: z.object({ scale: z.number().int().positive(), value_range: z.tuple([z.number(), z.number()]) }).optional(),
  /** A detector: how its outputs are decoded, what it finds, its square input side (from the probe). */
  detector: z.object({ layout: z.enum(DETECTOR_LAYOUTS), classes: z.array(z.string()), input_size: z.number().int().positive() }).optional(),
  /** Bundled models ship with the app and cannot be renamed or removed. */
  read_only: z.boolean().default(false),
  /** Set for a checkpoint built from a single-file .safetensors rather than imported as ONNX. */
  source: ModelSource.optional(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;
export type ModelInfoInput = z.input<typeof ModelInfo>;

/** A model found by a scan, before it is imported: what it looks like and whether it can be. */
export interface ScannedModel {
  /** Index in the scan, used to pick it for import. */
  index: number;
  /** Proposed registry name (unique among the scan and the registry). */
  name: string;
  /** Proposed type from the files' content; null when nothing fits. */
  model_type: ModelType | null;
  /** Path in the user's folder. */
  file_path: string;
  file_size_bytes: number;
  /** What was found, e.g. "Stable Diffusion 1.x ONNX folder (float16)", "LoRA rank 16 (kohya)". */
  summary: string;
  /** `built`: a graph the studio builds from the file (a single-file checkpoint), not a file of it. */
  components: Array<{ path: string; role: ComponentRole; bytes: number; dtype?: string; built?: boolean }>;
  family?: FamilySettings;
  /** Why it cannot be imported as it is (refused), with what to do. */
  problem: string | null;
}

export interface ScanReport {
  scan_id: string;
  models: ScannedModel[];
  /** Pickles and other refused files, with the reason. */
  refused: Array<{ path: string; bytes: number; reason: string }>;
  ignored: number;
}

/** One model to import from a scan, with the user's choices. */
export interface ImportSelection {
  index: number;
  name?: string;
  model_type?: ModelType;
  description?: string;
  tags?: string[];
  family?: FamilySettings;
}

export interface ImportProgress {
  import_id: string;
  model: string;
  phase: 'storing' | 'verifying' | 'done' | 'failed' | 'cancelled';
  file?: string;
  file_bytes_done?: number;
  file_bytes?: number;
  bytes_done: number;
  bytes_total: number;
  message?: string;
}

export interface ImportOutcome {
  name: string;
  ok: boolean;
  model?: ModelInfo;
  error?: string;
}

export interface StorageSummary {
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

export type ModelPatchInput = Partial<Pick<ModelInfo, 'description' | 'tags' | 'family' | 'metadata'>> & {
  /** A single-file checkpoint's weights choice (ModelSource.weights); refused for other models. */
  checkpoint_weights?: CheckpointWeightsChoice;
};
