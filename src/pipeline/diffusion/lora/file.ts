/**
 * A LoRA file's tensors → its adapted modules (down and up matrices, alpha, rank), in the three
 * layouts in use for SD 1.x/2.x:
 *
 * - kohya sd-scripts (and A1111): `lora_unet_<module>` / `lora_te_<module>` (SDXL: `lora_te1_`,
 *   `lora_te2_`) + `.lora_down.weight`, `.lora_up.weight`, `.alpha`; the module is a diffusers or
 *   LDM path with its dots written as underscores. LyCORIS LoCon uses the same keys on conv layers
 *   (down `[r, in, kh, kw]`, up `[out, r, 1, 1]`).
 * - peft / diffusers: `<path>.lora_A.weight` / `.lora_B.weight` (peft, optionally
 *   `.lora_A.<adapter>.weight`), `<path>.lora.down.weight` (diffusers LoRACompatible layers) or
 *   `<attn>.processor.to_q_lora.down.weight` (diffusers' old attention processors), the path with
 *   or without a `unet.` / `text_encoder.` prefix; alpha from `<path>.alpha` or the metadata.
 *
 * Other LyCORIS networks (LoHa, LoKr, OFT, …) are refused with their name. Pure: the caller hands
 * in the header's tensor list and a way to read one tensor's bytes.
 */
import { float16BitsToFloat32 } from '../../float16';

/** What this module needs of a safetensors header entry (the registry's SafetensorsTensor fits). */
export interface LoraTensorInfo {
  name: string;
  dtype: string;
  shape: readonly number[];
}

export interface LoraFileInput<T extends LoraTensorInfo> {
  tensors: readonly T[];
  metadata?: Record<string, string> | null;
  /** The tensor's bytes, little-endian, as stored. */
  read: (tensor: T) => Promise<Uint8Array>;
}

export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';

export interface LoraMatrix {
  data: Float32Array;
  shape: number[];
}

export interface LoraModule {
  component: LoraComponent;
  /**
   * The module's name as the file gives it, the component prefix removed: kohya's underscore
   * stem (`down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q`, or an LDM path such as
   * `input_blocks_1_1_transformer_blocks_0_attn1_to_q`) or peft's dotted path
   * (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`).
   */
  key: string;
  naming: 'kohya' | 'peft';
  /** `[r, in]` (linear) or `[r, in, kh, kw]` (conv). */
  down: LoraMatrix;
  /** `[out, r]` or `[out, r, 1, 1]`. */
  up: LoraMatrix;
  rank: number;
  /** The file's alpha, else the metadata's, else the rank (scale 1). */
  alpha: number;
  kind: 'linear' | 'conv';
}

export class LoraFormatError extends Error {
  override name = 'LoraFormatError';
}

/** Key endings of LyCORIS networks other than LoCon, and of LoRA variants the merge cannot take. */
const REFUSED: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.hada_w[12]_[ab]$|\.hada_t[12]$/, 'LyCORIS LoHa'],
  [/\.lokr_w[12](_[ab])?$|\.lokr_t2$/, 'LyCORIS LoKr'],
  [/\.oft_\w+$|\.oft_blocks$/, 'OFT'],
  [/\.lora_mid\.weight$/, 'LyCORIS LoCon with CP decomposition (lora_mid)'],
  [/\.dora_scale$/, 'DoRA'],
  [/\.(diff|diff_b)$/, 'LyCORIS full-weight difference'],
  [/\.(w_norm|b_norm)$/, 'LyCORIS norm'],
];

const KOHYA = /^lora_(unet|te|te1|te2)_(.+)\.(lora_down\.weight|lora_up\.weight|alpha)$/;
const PEFT: ReadonlyArray<RegExp> = [
  /^(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/,
  /^(.+)\.lora\.(down|up)\.weight$/,
  /^(.+\.processor\.to_(?:q|k|v|out)_lora)\.(down|up)\.weight$/,
];

interface Pending<T> {
  component: LoraComponent;
  key: string;
  naming: 'kohya' | 'peft';
  down?: T;
  up?: T;
  alpha?: T;
}

/**
 * The file's modules, in file order. Throws LoraFormatError for a network type the merge does not
 * take, a module missing its down or up half, mismatched shapes, or a non-float dtype.
 */
export async function readLoraModules<T extends LoraTensorInfo>(input: LoraFileInput<T>): Promise<LoraModule[]> {
  for (const t of input.tensors) {
    const refused = REFUSED.find(([re]) => re.test(t.name));
    if (refused) throw new LoraFormatError(`'${t.name}' belongs to a ${refused[1]} network; only LoRA and LoCon can be merged`);
  }
  const pending = new Map<string, Pending<T>>();
  const alphas = new Map<string, T>();
  for (const t of input.tensors) {
    const k = KOHYA.exec(t.name);
    if (k) {
      const [, prefix, stem, part] = k;
      const component: LoraComponent = prefix === 'unet' ? 'unet' : prefix === 'te2' ? 'text_encoder_2' : 'text_encoder';
      const id = `kohya:${prefix}:${stem}`;
      const mod = pending.get(id) ?? { component, key: stem, naming: 'kohya' as const };
      pending.set(id, mod);
      if (part === 'alpha') mod.alpha = t;
      else if (part === 'lora_down.weight') mod.down = t;
      else mod.up = t;
      continue;
    }
    if (t.name.endsWith('.alpha')) {
      alphas.set(t.name.slice(0, -'.alpha'.length), t);
      continue;
    }
    for (const re of PEFT) {
      const m = re.exec(t.name);
      if (!m) continue;
      const { component, path } = peftPath(m[1]);
      const id = `peft:${component}:${path}`;
      const mod = pending.get(id) ?? { component, key: path, naming: 'peft' as const };
      pending.set(id, mod);
      if (m[2] === 'A' || m[2] === 'down') mod.down = t;
      else mod.up = t;
      break;
    }
  }
  // peft alphas sit beside the matrices as `<module>.alpha`, anywhere in the file.
  for (const [prefix, alpha] of alphas) {
    const { component, path } = peftPath(prefix);
    const mod = pending.get(`peft:${component}:${path}`);
    if (mod) mod.alpha = alpha;
  }

  const fallbackAlpha = metadataAlpha(input.metadata ?? null);
  const out: LoraModule[] = [];
  for (const mod of pending.values()) {
    const where = mod.naming === 'kohya' ? `lora_*_${mod.key}` : mod.key;
    if (!mod.down || !mod.up) throw new LoraFormatError(`LoRA module '${where}' has no ${mod.down ? 'up' : 'down'} matrix: the file is incomplete`);
    const down = { data: await decode(mod.down, input.read), shape: [...mod.down.shape] };
    const up = { data: await decode(mod.up, input.read), shape: [...mod.up.shape] };
    const rank = down.shape[0];
    const conv = down.shape.length === 4;
    const upOk = up.shape[1] === rank && (up.shape.length === 2 || (up.shape.length === 4 && up.shape[2] === 1 && up.shape[3] === 1));
    if (!(down.shape.length === 2 || conv) || !upOk) {
      throw new LoraFormatError(`LoRA module '${where}': down [${down.shape}] and up [${up.shape}] do not form a rank-${rank} pair`);
    }
    const alphaValue = mod.alpha ? (await decode(mod.alpha, input.read))[0] : undefined;
    const alpha = alphaValue !== undefined && Number.isFinite(alphaValue) && alphaValue !== 0 ? alphaValue : fallbackAlpha ?? rank;
    out.push({ component: mod.component, key: mod.key, naming: mod.naming, down, up, rank, alpha, kind: conv ? 'conv' : 'linear' });
  }
  if (out.length === 0) throw new LoraFormatError('no LoRA modules (lora_down/lora_up or lora_A/lora_B pairs) in the file');
  return out;
}

/** A peft/diffusers module name → its component and module path in that component. */
function peftPath(name: string): { component: LoraComponent; path: string } {
  let path = name.replace(/^base_model\.model\./, '');
  // diffusers' attention processors name the projection `processor.to_q_lora`: the module is `to_q`
  // (`to_out_lora` is `to_out.0`).
  path = path.replace(/\.processor\.to_(q|k|v)_lora$/, '.to_$1').replace(/\.processor\.to_out_lora$/, '.to_out.0');
  for (const [prefix, component] of [['text_encoder_2.', 'text_encoder_2'], ['text_encoder.', 'text_encoder'], ['unet.', 'unet']] as const) {
    if (path.startsWith(prefix)) return { component, path: path.slice(prefix.length) };
  }
  return { component: path.startsWith('text_model.') ? 'text_encoder' : 'unet', path };
}

/** kohya writes `ss_network_alpha`, newer diffusers a JSON `lora_adapter_metadata`. */
function metadataAlpha(metadata: Record<string, string> | null): number | null {
  if (!metadata) return null;
  const kohya = Number.parseFloat(metadata.ss_network_alpha ?? '');
  if (Number.isFinite(kohya) && kohya !== 0) return kohya;
  try {
    const alpha = (JSON.parse(metadata.lora_adapter_metadata ?? 'null') as { lora_alpha?: unknown } | null)?.lora_alpha;
    if (typeof alpha === 'number' && Number.isFinite(alpha) && alpha !== 0) return alpha;
  } catch {
    // not JSON: no alpha from it
  }
  return null;
}

async function decode<T extends LoraTensorInfo>(t: T, read: (t: T) => Promise<Uint8Array>): Promise<Float32Array> {
  return decodeFloats(await read(t), t.dtype, t.name);
}

/** Little-endian F32 / F16 / BF16 / F64 bytes as float32 values. */
export function decodeFloats(bytes: Uint8Array, dtype: string, what = 'tensor'): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = dtype === 'F32' ? 4 : dtype === 'F16' || dtype === 'BF16' ? 2 : dtype === 'F64' ? 8 : 0;
  if (width === 0) throw new LoraFormatError(`'${what}' is ${dtype}; LoRA weights must be F32, F16 or BF16`);
  const out = new Float32Array(bytes.byteLength / width);
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F16') out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
    else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
    else {
      bits[0] = view.getUint16(i * 2, true) << 16;
      out[i] = asFloat[0];
    }
  }
  return out;
}
