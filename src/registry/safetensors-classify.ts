/**
 * What a checked `.safetensors` header holds, decided from its tensor names and shapes: a LoRA
 * (kohya or diffusers/peft keys), a textual-inversion embedding, a single-file Stable Diffusion
 * checkpoint (SD 1.x / 2.x ones are built into ONNX graphs by checkpoint/; for other architectures
 * the user is told how to convert), or something else, refused with the reason.
 *
 * Only the header is needed, except for LoRA alphas: their values live in the data buffer, so a
 * `readTensor` callback fetches those few bytes (a scalar each).
 */
import { float16BitsToFloat32 } from '../pipeline/float16';
import type { SafetensorsHeader, SafetensorsTensor } from './safetensors-header';

export type SdFamily = 'sd1' | 'sd2' | 'sdxl' | 'unknown';

export interface LoraTargets {
  unet: number;
  text_encoder: number;
  /** Present for SDXL LoRAs (kohya `lora_te1_`/`lora_te2_`, diffusers `text_encoder_2.`). */
  text_encoder_2?: number;
}

export type SafetensorsClassification =
  | {
      kind: 'lora';
      format: 'kohya' | 'peft';
      /** The down (A) matrices' first dimension, the most common one when layers differ. */
      rank: number;
      /** Most common `.alpha` value, else the training metadata's, else null (then alpha = rank). */
      alpha: number | null;
      alpha_source: 'tensors' | 'metadata' | null;
      targets: LoraTargets;
      /** Adapted layers (down/up pairs). */
      modules: number;
      /** Base model family guessed from the adapted layers' widths. */
      family: SdFamily;
    }
  | {
      kind: 'embedding';
      format: 'a1111' | 'sdxl' | 'diffusers';
      /** Vectors the embedding stands for (prompt tokens it takes). */
      tokens: number;
      /** Width per text encoder: [768], [1024], or [768, 1280] for SDXL's clip_l + clip_g. */
      dims: number[];
      /** What to type in a prompt: the file name (A1111 convention) or the diffusers `<token>`. */
      trigger: string;
      family: SdFamily;
    }
  | { kind: 'checkpoint'; family: SdFamily; /** 9-channel UNet input. */ inpainting: boolean }
  | { kind: 'unknown'; reason: string };

/** Reads one tensor's bytes (from the file, or wherever the caller holds it). */
export type ReadTensor = (tensor: SafetensorsTensor) => Promise<Uint8Array>;

/**
 * Shown with a single-file checkpoint the studio cannot build (SDXL, SD3, Flux, …): SD 1.x and
 * 2.x files are built in the browser; these must be exported to ONNX first.
 */
export const CHECKPOINT_ADVICE = [
  'To use it here, export it to ONNX first (Python, once):',
  '1. To a diffusers folder: pip install diffusers transformers accelerate safetensors, then in Python',
  '   StableDiffusionPipeline.from_single_file("model.safetensors").save_pretrained("model-diffusers")',
  '   (StableDiffusionXLPipeline for SDXL), or diffusers\' scripts/convert_original_stable_diffusion_to_diffusers.py',
  '   --checkpoint_path model.safetensors --from_safetensors --dump_path model-diffusers.',
  '2. To ONNX: pip install "optimum[onnxruntime]", then optimum-cli export onnx --model model-diffusers model-onnx/',
  '   (add --device cuda --dtype fp16 for half-size fp16 weights; needs an NVIDIA GPU), or diffusers\'',
  '   scripts/convert_stable_diffusion_checkpoint_to_onnx.py --model_path model-diffusers --output_path model-onnx.',
  '3. Import the model-onnx folder here.',
].join('\n');

export async function classifySafetensors(
  header: SafetensorsHeader,
  fileName: string,
  readTensor?: ReadTensor,
): Promise<SafetensorsClassification> {
  const found = classifyHeader(header, fileName);
  if (found.classification.kind !== 'lora' || !readTensor || found.alphaTensors.length === 0) return found.classification;
  // Alpha scalars in the file win over the training metadata's value.
  const values = await Promise.all(found.alphaTensors.map(async (t) => decodeScalar(t, await readTensor(t))));
  const alpha = mode(values.filter((v): v is number => v !== null && Number.isFinite(v)));
  return alpha === null ? found.classification : { ...found.classification, alpha, alpha_source: 'tensors' };
}

/**
 * The same decision from the header alone (no data bytes): a LoRA's alpha then comes from its
 * training metadata only. For callers that need an answer synchronously, e.g. the checkpoint reader.
 */
export function classifySafetensorsHeader(header: SafetensorsHeader, fileName: string): SafetensorsClassification {
  return classifyHeader(header, fileName).classification;
}

function classifyHeader(header: SafetensorsHeader, fileName: string): { classification: SafetensorsClassification; alphaTensors: SafetensorsTensor[] } {
  const tensors = header.tensors;
  const only = (classification: SafetensorsClassification) => ({ classification, alphaTensors: [] });
  if (tensors.length === 0) return only({ kind: 'unknown', reason: 'a safetensors file with no tensors in it' });
  const names = tensors.map((t) => t.name);

  if (names.some((n) => /^lora_(unet|te[12]?)_.+\.(hada_w[12]_[ab]|lokr_w[12](_[ab])?|oft_\w+)$/.test(n))) {
    return only({ kind: 'unknown', reason: 'a LyCORIS network (LoHa/LoKr/OFT), not a plain LoRA; only LoRA is supported' });
  }
  const lora = classifyLora(header);
  if (lora) return lora;
  const embedding = classifyEmbedding(tensors, fileName);
  if (embedding) return only(embedding);
  if (names.some((n) => n.startsWith('model.diffusion_model.'))) return only(classifyCheckpoint(tensors));
  return only({ kind: 'unknown', reason: unknownReason(tensors) });
}

// ---------------------------------------------------------------------------------------------
// LoRA

interface LoraModule {
  target: 'unet' | 'text_encoder' | 'text_encoder_2';
  down?: SafetensorsTensor;
  up?: SafetensorsTensor;
  alpha?: SafetensorsTensor;
}

const KOHYA = /^lora_(unet|te|te1|te2)_(.+)\.(lora_down\.weight|lora_up\.weight|alpha)$/;
// diffusers/peft spellings of one adapted layer's down and up matrices:
//   x.lora_A.weight / x.lora_A.<adapter>.weight (peft), x.lora.down.weight (diffusers LoRACompatible
//   layers), x.processor.to_k_lora.down.weight (diffusers attention processors).
const PEFT = [/^(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/, /^(.+)\.lora\.(down|up)\.weight$/, /^(.+_lora)\.(down|up)\.weight$/];

/** A LoRA's classification (alpha from metadata) and the alpha scalars whose values would override it. */
function classifyLora(header: SafetensorsHeader): { classification: SafetensorsClassification; alphaTensors: SafetensorsTensor[] } | null {
  const kohya = new Map<string, LoraModule>();
  const peft = new Map<string, LoraModule>();
  const alphas = new Map<string, SafetensorsTensor>(); // non-kohya `x.alpha`, matched to peft modules below
  let sdxlNaming = false;

  for (const t of header.tensors) {
    const k = KOHYA.exec(t.name);
    if (k) {
      const [, prefix, layer, part] = k;
      if (prefix === 'te1' || prefix === 'te2') sdxlNaming = true;
      const target = prefix === 'unet' ? 'unet' : prefix === 'te2' ? 'text_encoder_2' : 'text_encoder';
      const key = `${prefix}_${layer}`;
      const mod = kohya.get(key) ?? { target };
      kohya.set(key, mod);
      if (part === 'alpha') mod.alpha = t;
      else if (part === 'lora_down.weight') mod.down = t;
      else mod.up = t;
      continue;
    }
    for (const re of PEFT) {
      const m = re.exec(t.name);
      if (!m) continue;
      const mod = peft.get(m[1]) ?? { target: peftTarget(m[1]) };
      peft.set(m[1], mod);
      if (m[2] === 'A' || m[2] === 'down') mod.down = t;
      else mod.up = t;
      break;
    }
    if (t.name.endsWith('.alpha')) alphas.set(t.name.slice(0, -'.alpha'.length), t);
  }
  for (const [name, mod] of peft) {
    const alpha = alphas.get(name);
    if (alpha) mod.alpha = alpha;
  }

  // A LoRA needs whole pairs; a stray key that happens to match is not enough.
  const isKohya = countPairs(kohya) >= countPairs(peft);
  const modules = [...(isKohya ? kohya : peft).values()].filter((m) => m.down && m.up);
  if (modules.length === 0) return null;

  const targets: LoraTargets = { unet: 0, text_encoder: 0 };
  for (const m of modules) targets[m.target] = (targets[m.target] ?? 0) + 1;
  if (sdxlNaming && isKohya) targets.text_encoder_2 ??= 0;

  const rank = mode(modules.map((m) => m.down!.shape[0] ?? 0)) ?? 0;
  const alpha = metadataAlpha(header.metadata);
  const alphaTensors = modules.flatMap((m) => (m.alpha && isScalar(m.alpha) ? [m.alpha] : []));

  return {
    classification: {
      kind: 'lora',
      format: isKohya ? 'kohya' : 'peft',
      rank,
      alpha,
      alpha_source: alpha === null ? null : 'metadata',
      targets,
      modules: modules.length,
      family: loraFamily(modules, targets),
    },
    alphaTensors,
  };
}

function countPairs(mods: Map<string, LoraModule>): number {
  let n = 0;
  for (const m of mods.values()) if (m.down && m.up) n++;
  return n;
}

function peftTarget(module: string): LoraModule['target'] {
  const name = module.replace(/^base_model\.model\./, '');
  if (name.startsWith('text_encoder_2.')) return 'text_encoder_2';
  if (name.startsWith('text_encoder.') || name.includes('text_model.')) return 'text_encoder';
  return 'unet';
}

/**
 * Family from widths the LoRA adapts: cross-attention keys read the text encoder's output (768
 * SD 1.x, 1024 SD 2.x, 2048 SDXL), and text-encoder layers have its width (1280 = SDXL's second).
 */
function loraFamily(modules: LoraModule[], targets: LoraTargets): SdFamily {
  if (targets.text_encoder_2 !== undefined) return 'sdxl';
  const widths = new Set<number>();
  for (const m of modules) {
    const name = m.down!.name;
    const inWidth = m.down!.shape[1];
    if (m.target === 'unet' && /attn2[._](processor\.)?to_k/.test(name)) widths.add(inWidth);
    if (m.target === 'text_encoder' && /self_attn[._]q_proj/.test(name)) widths.add(inWidth);
  }
  if (widths.has(2048) || widths.has(1280)) return 'sdxl';
  if (widths.has(1024)) return 'sd2';
  if (widths.has(768)) return 'sd1';
  return 'unknown';
}

function isScalar(t: SafetensorsTensor): boolean {
  return t.shape.reduce((p, d) => p * d, 1) === 1;
}

/** One element, little-endian, as a number; null for dtypes an alpha is never stored in. */
function decodeScalar(t: SafetensorsTensor, bytes: Uint8Array): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1 };
  if (!(t.dtype in need) || bytes.byteLength < need[t.dtype]) return null;
  switch (t.dtype) {
    case 'F64': return view.getFloat64(0, true);
    case 'F32': return view.getFloat32(0, true);
    case 'F16': return float16BitsToFloat32(view.getUint16(0, true));
    case 'BF16': return new Float32Array(new Uint32Array([view.getUint16(0, true) << 16]).buffer)[0];
    case 'I64': return Number(view.getBigInt64(0, true));
    case 'I32': return view.getInt32(0, true);
    case 'I16': return view.getInt16(0, true);
    case 'I8': return view.getInt8(0);
    default: return view.getUint8(0);
  }
}

/** kohya's sd-scripts write `ss_network_alpha`; newer diffusers a JSON `lora_adapter_metadata`. */
function metadataAlpha(metadata: Record<string, string> | null): number | null {
  if (!metadata) return null;
  const kohya = Number.parseFloat(metadata.ss_network_alpha ?? '');
  if (Number.isFinite(kohya)) return kohya;
  try {
    const parsed: unknown = JSON.parse(metadata.lora_adapter_metadata ?? 'null');
    const alpha = (parsed as { lora_alpha?: unknown } | null)?.lora_alpha;
    if (typeof alpha === 'number' && Number.isFinite(alpha)) return alpha;
  } catch {
    // not JSON: no alpha from it
  }
  return null;
}

/** Most common value; ties go to the larger (a rank or alpha most layers share). */
function mode(values: number[]): number | null {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | null = null;
  let bestCount = 0;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && best !== null && v > best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Textual inversion

function classifyEmbedding(tensors: SafetensorsTensor[], fileName: string): SafetensorsClassification | null {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const stem = fileName.replace(/^.*[\\/]/, '').replace(/\.safetensors$/i, '');
  const vectors = (t: SafetensorsTensor) => (t.shape.length === 1 ? 1 : t.shape[0]);
  const width = (t: SafetensorsTensor) => t.shape[t.shape.length - 1];
  const isEmbeddingShape = (t: SafetensorsTensor) => t.shape.length === 1 || t.shape.length === 2;
  const familyOf = (w: number): SdFamily => (w === 768 ? 'sd1' : w === 1024 ? 'sd2' : 'unknown');

  // SDXL: one set of vectors per text encoder, clip_l (768) and clip_g (1280).
  const clipL = byName.get('clip_l');
  const clipG = byName.get('clip_g');
  if (clipL && clipG && tensors.length === 2 && isEmbeddingShape(clipL) && isEmbeddingShape(clipG)) {
    if (vectors(clipL) !== vectors(clipG)) {
      return { kind: 'unknown', reason: `an SDXL embedding whose clip_l has ${vectors(clipL)} vectors but clip_g ${vectors(clipG)}` };
    }
    return { kind: 'embedding', format: 'sdxl', tokens: vectors(clipL), dims: [width(clipL), width(clipG)], trigger: stem, family: 'sdxl' };
  }

  // A1111: `emb_params`, or the .pt layout's `string_to_param.*` flattened into keys.
  // Nothing else may sit beside them (the .pt layout's other entries are string_to_token.*).
  const emb = byName.get('emb_params');
  const stringToParam = tensors.find((t) => t.name === 'string_to_param' || t.name.startsWith('string_to_param.'));
  const a1111 = emb && tensors.length === 1 ? emb : stringToParam && tensors.every((t) => t.name.startsWith('string_to_')) ? stringToParam : undefined;
  if (a1111 && isEmbeddingShape(a1111)) {
    return { kind: 'embedding', format: 'a1111', tokens: vectors(a1111), dims: [width(a1111)], trigger: stem, family: familyOf(width(a1111)) };
  }

  // diffusers `learned_embeds`: one tensor keyed by its token, usually `<token>`.
  if (tensors.length === 1) {
    const t = tensors[0];
    const plausible = isEmbeddingShape(t) && [768, 1024].includes(width(t)) && vectors(t) >= 1 && vectors(t) <= 75;
    if (plausible || (/^<.+>$/.test(t.name) && isEmbeddingShape(t))) {
      return { kind: 'embedding', format: 'diffusers', tokens: vectors(t), dims: [width(t)], trigger: t.name, family: familyOf(width(t)) };
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Single-file checkpoints (CompVis/A1111 key layout)

function classifyCheckpoint(tensors: SafetensorsTensor[]): SafetensorsClassification {
  const inputConv = tensors.find((t) => t.name === 'model.diffusion_model.input_blocks.0.0.weight');
  return { kind: 'checkpoint', family: checkpointFamily(tensors.map((t) => t.name)), inpainting: inputConv?.shape[1] === 9 };
}

/**
 * A single-file checkpoint's family from its text encoders' key names, never from a width (pruned
 * or tiny variants change widths, not names): SD 1.x keeps OpenAI CLIP as transformers'
 * CLIPTextModel, SD 2.x OpenCLIP's own module tree, SDXL both under `conditioner.embedders`.
 */
export function checkpointFamily(names: readonly string[]): SdFamily {
  const has = (prefix: string) => names.some((n) => n.startsWith(prefix));
  if (has('conditioner.embedders.')) return 'sdxl';
  if (has('cond_stage_model.model.')) return 'sd2';
  if (has('cond_stage_model.transformer.')) return 'sd1';
  return 'unknown';
}

function unknownReason(tensors: SafetensorsTensor[]): string {
  const has = (re: RegExp) => tensors.some((t) => re.test(t.name));
  const examples = tensors.slice(0, 2).map((t) => `'${t.name}'`).join(', ');
  const n = `${tensors.length} tensor${tensors.length === 1 ? '' : 's'}`;
  if (has(/^control_model\./)) return `a ControlNet (${n}, keys like ${examples}); the studio does not run ControlNets`;
  if (has(/^(first_stage_model\.)?(encoder|decoder)\.conv_in\./) && !has(/^cond_stage_model\.|^conditioner\./)) {
    return `a standalone VAE (${n}, keys like ${examples}), not a whole model; import an ONNX model folder instead`;
  }
  if (has(/^(down_blocks|up_blocks|mid_block)\./)) {
    return `one component (a diffusers UNet or VAE, ${n}, keys like ${examples}) of a diffusers folder; convert the whole folder to ONNX and import that`;
  }
  if (has(/^text_model\./)) return `a CLIP text encoder on its own (${n}, keys like ${examples}); convert its whole model folder to ONNX and import that`;
  return `a safetensors file with ${n} that is neither a LoRA, an embedding nor a Stable Diffusion checkpoint (keys like ${examples}…)`;
}
