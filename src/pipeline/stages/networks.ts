/**
 * LoRAs and embeddings for the stages that run a UNet (text_to_image, refiner, detailer): the
 * positive prompt's `<lora:name:weight>` tags and the `loras` parameter become one list (summed
 * by name, as A1111 adds a network named twice), the tags are cut from the text the model encodes,
 * and what the provider applied becomes the stage's metadata. The negative prompt keeps its tags
 * as text (A1111 parses extra networks in the positive prompt only).
 */
import { Loras, type LoraParameter } from '../../protocol/pipeline-config';
import type { AppliedLora, UsedEmbedding } from '../../protocol/stage-results';
import { parseLoraTags, type LoraTag } from '../../protocol/lora-tags';
import type { AppliedNetworks, LoraRequest } from '../ports';

export interface StagePrompt {
  /** What the text encoder sees: the prompt without LoRA tags. */
  text: string;
  /** The tags' LoRAs and the parameter's, in order of first appearance, weights summed by name. */
  loras: LoraRequest[];
}

/** The prompt's tags plus `loras` (tags first). Throws LoraTagError for a malformed tag. */
export function stagePrompt(prompt: string, loras: readonly LoraParameter[] = []): StagePrompt {
  const parsed = parseLoraTags(prompt);
  return { text: parsed.text, loras: addLoras(parsed.loras, loras.map(fromParameter)) };
}

function fromParameter(p: LoraParameter): LoraTag {
  return p.unet_weight === undefined || p.unet_weight === p.weight ? { name: p.name, weight: p.weight } : { name: p.name, weight: p.weight, unet: p.unet_weight };
}

/** Two lists as one: a name in both gets the sum of its text-encoder and of its UNet weights. */
export function addLoras(a: readonly LoraRequest[], b: readonly LoraRequest[]): LoraRequest[] {
  const byName = new Map<string, LoraRequest>();
  for (const l of [...a, ...b]) {
    const known = byName.get(l.name);
    if (!known) {
      byName.set(l.name, { ...l });
      continue;
    }
    const unet = (known.unet ?? known.weight) + (l.unet ?? l.weight);
    known.weight += l.weight;
    if (known.unet !== undefined || l.unet !== undefined) known.unet = unet;
    if (known.unet === known.weight) delete known.unet;
  }
  return [...byName.values()];
}

/**
 * The context key a stage leaves its `loras` parameter under: a refiner or detailer without its
 * own takes it, as it takes the prompt (whose tags come with it), so a hires pass keeps the LoRAs.
 */
export const LORAS_PARAMETER = 'loras_parameter';

/** The `loras` parameter an earlier stage ran with (none when there was none). */
export function inheritedLoras(context: { get(key: string): unknown }): LoraParameter[] {
  const parsed = Loras.safeParse(context.get(LORAS_PARAMETER));
  return parsed.success ? parsed.data : [];
}

export interface NetworksMetadata {
  loras?: AppliedLora[];
  lora_hashes?: Record<string, string>;
  embeddings?: UsedEmbedding[];
  ti_hashes?: Record<string, string>;
  networks?: string[];
  lora_merge_peak_bytes?: number;
}

/** "LoRA `x`: 192 of 192 modules", one line per LoRA, then the embeddings used. */
export function networksReport(networks: AppliedNetworks): string[] {
  const lines = networks.loras.map((l) => `LoRA \`${l.name}\`: ${l.matched} of ${l.total} modules`);
  if (networks.embeddings.length > 0) {
    const names = networks.embeddings.map((e) => `\`${e.name}\` (${e.vectors} vector${e.vectors === 1 ? '' : 's'})`);
    lines.push(`Embeddings: ${names.join(', ')}`);
  }
  return lines;
}

/** The stage metadata keys for what was applied; nothing when no LoRA and no embedding was used. */
export function networksMetadata(networks: AppliedNetworks | undefined): NetworksMetadata {
  if (!networks || (networks.loras.length === 0 && networks.embeddings.length === 0)) return {};
  const hashes = (list: ReadonlyArray<{ name: string; hash?: string }>) =>
    Object.fromEntries(list.filter((x) => x.hash).map((x) => [x.name, x.hash!]));
  const out: NetworksMetadata = { networks: networksReport(networks) };
  if (networks.loras.length > 0) {
    out.loras = networks.loras.map((l) => ({
      name: l.name,
      weight: l.weight,
      ...(l.unet !== undefined ? { unet_weight: l.unet } : {}),
      matched: l.matched,
      total: l.total,
      ...(l.hash ? { hash: l.hash } : {}),
    }));
    out.lora_hashes = hashes(networks.loras);
    out.lora_merge_peak_bytes = networks.mergePeakBytes;
  }
  if (networks.embeddings.length > 0) {
    out.embeddings = networks.embeddings.map((e) => ({ name: e.name, vectors: e.vectors, ...(e.hash ? { hash: e.hash } : {}) }));
    out.ti_hashes = hashes(networks.embeddings);
  }
  return out;
}
