/**
 * Words for the registry's enums, shared by the scan panel and the table.
 *
 * The lists are the keys of `Record<Enum, string>` maps, so the compiler keeps them complete and
 * exact against the protocol's types. They are not imported as values from `protocol/models.ts`:
 * that module builds zod schemas at load, which would put zod in the main bundle (+135 kB).
 */
import type { ComponentRole, ModelStatus, ModelType } from '../../../protocol/models';

export const TYPE_LABELS: Record<ModelType, string> = {
  checkpoint: 'Checkpoint',
  lora: 'LoRA',
  embedding: 'Embedding',
  upscaler: 'Upscaler',
  detector: 'Detector',
};

/** MODEL_TYPES, in the protocol's order. */
export const MODEL_TYPE_LIST = Object.keys(TYPE_LABELS) as ModelType[];

export const ROLE_LABELS: Record<ComponentRole, string> = {
  text_encoder: 'text encoder',
  unet: 'UNet',
  vae_decoder: 'VAE decoder',
  vae_encoder: 'VAE encoder',
  upscaler: 'upscaler',
  detector: 'detector',
  external_data: 'external weights',
  tokenizer: 'tokenizer',
  scheduler_config: 'scheduler config',
  config: 'config',
  lora_weights: 'LoRA weights',
  embedding_weights: 'embedding weights',
  checkpoint_weights: 'single-file checkpoint',
};

export const STATUS_LABELS: Record<ModelStatus, string> = {
  importing: 'Importing…',
  verified: 'Verified',
  error: 'Error',
};

export function typeLabel(type: ModelType | null | undefined): string {
  return type ? (TYPE_LABELS[type] ?? type) : 'Unknown';
}

export function roleLabel(role: ComponentRole): string {
  return ROLE_LABELS[role] ?? role;
}

/** "a, b , ,c" → ["a", "b", "c"], without duplicates. */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}
