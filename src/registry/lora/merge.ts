/**
 * LoRAs merged into a model folder's weights: `W' = W + weight · (alpha / rank) · up · down`,
 * computed in float32 and written back in each initializer's own dtype and layout, so shapes and
 * byte lengths never change and model.onnx is never re-encoded. The result is the folder seen
 * through a FolderReader that hands out patched copies of the files holding adapted weights
 * (model.onnx for inline weights, the external-data file or part otherwise) and the originals of
 * every other file.
 *
 * Matching happens up front (the report, and the errors a user must see before anything runs);
 * patching happens when a file is read, one file's copy at a time, nothing kept: the loader reads
 * each file once, so peak memory is one file's copy beside the original.
 */
import {
  addDelta,
  deltaFits,
  loraDelta,
  loraScale,
  moduleIndex,
  resolveModule,
  type LoraComponent,
  type LoraDelta,
  type LoraModule,
} from '../../pipeline/diffusion/lora';
import { fromFloat16Array, toFloat16Array } from '../../pipeline/float16';
import { findWeightTargets, MODEL_FILE, type WeightTarget, type WeightType } from './onnx-weights';

/** Reads a file of the folder by its path inside it (`unet/model.onnx`); undefined if absent. */
export type FolderReader = (path: string) => Promise<Uint8Array | undefined>;

export interface LoraToApply {
  /** What the user calls it (the tag's name). */
  name: string;
  modules: readonly LoraModule[];
  /** Text encoder multiplier, and the UNet's unless `unet` is given. */
  weight: number;
  unet?: number;
  /** The classifier's guess of the base model (for the error when nothing matches). */
  family?: 'sd1' | 'sd2' | 'sdxl' | 'unknown';
}

export interface LoraReport {
  name: string;
  /** Modules merged (or, at weight 0, that would be). */
  matched: number;
  total: number;
  /** The modules that found no weight, each with why. */
  unmatched: string[];
}

export interface LoraFolder {
  read: FolderReader;
  report: LoraReport[];
  /** The files handed out patched (`unet/model.onnx_data`, …). */
  patchedFiles: string[];
  /**
   * The most extra memory a read has held while patching (0 before any): its copy of the file
   * (none when patched in place) plus the float32 buffers of the largest weight it adapted.
   */
  readonly largestCopyBytes: number;
}

/**
 * `a [rows, inner] · b [inner, cols]` → `[rows, cols]`, row-major float32: a faster product for the
 * deltas (the worker hands in onnxruntime's MatMul, many times the JS loop's speed on a full-size
 * UNet); without one, loraDelta's JS loop computes them.
 */
export type MatrixProduct = (a: Float32Array, rows: number, inner: number, b: Float32Array, cols: number) => Promise<Float32Array>;

export interface LoraFolderOptions {
  multiply?: MatrixProduct;
  /**
   * The reader hands out a new buffer on every read, nobody else holds: external-data files are
   * then patched in that buffer instead of a copy (half the peak memory of a full-size UNet's
   * merge). `model.onnx` is always copied (a reader may cache the graph it built).
   */
  freshReads?: boolean;
}

export class LoraApplyError extends Error {
  override name = 'LoraApplyError';
}

/** The components a LoRA adapts, as the folder names them. */
const FOLDERS: Partial<Record<LoraComponent, string>> = { unet: 'unet', text_encoder: 'text_encoder' };

const FAMILY_NAMES = { sd1: 'SD 1.x', sd2: 'SD 2.x', sdxl: 'SDXL' } as const;

interface Patch {
  target: WeightTarget;
  module: LoraModule;
  weight: number;
}

/**
 * Matches every LoRA's modules to the folder's UNet and text-encoder weights and returns the
 * patched folder. Throws LoraApplyError when a component's graph has no module-path node names,
 * or when none of a LoRA's modules match (a LoRA for another base model).
 */
export async function loraFolder(read: FolderReader, loras: readonly LoraToApply[], options: LoraFolderOptions = {}): Promise<LoraFolder> {
  const reports = loras.map((l) => ({ name: l.name, matched: 0, total: l.modules.length, unmatched: [] as string[] }));
  const patches = new Map<string, Patch[]>(); // file path → patches in it

  for (const [component, dir] of Object.entries(FOLDERS) as Array<[LoraComponent, string]>) {
    if (!loras.some((l) => l.modules.some((m) => m.component === component))) continue;
    const model = await read(`${dir}/${MODEL_FILE}`);
    if (!model) {
      loras.forEach((l, i) => l.modules.filter((m) => m.component === component).forEach((m) => reports[i].unmatched.push(`${m.key}: the model has no ${dir}`)));
      continue;
    }
    const { targets, problems } = findWeightTargets(model);
    if (targets.size === 0) {
      throw new LoraApplyError(
        `this export's layer names are missing; LoRA cannot be applied (the ${dir} graph's nodes are not named by module paths such as /down_blocks.0/…/to_q/MatMul)`,
      );
    }
    const index = moduleIndex([...targets.keys(), ...problems.keys()]);
    loras.forEach((lora, i) => {
      const weight = component === 'unet' ? lora.unet ?? lora.weight : lora.weight;
      for (const module of lora.modules) {
        if (module.component !== component) continue;
        const path = resolveModule(module, index);
        const target = path ? targets.get(path) : undefined;
        if (!path || !target) {
          reports[i].unmatched.push(`${module.key}: ${path ? `${path} ${problems.get(path) ?? 'has no weight'}` : `no such module in the ${dir}`}`);
          continue;
        }
        const shape = deltaShape(module);
        if (!deltaFits(shape, target.dims, target.layout)) {
          reports[i].unmatched.push(`${module.key}: the LoRA's [${shape.shape}] does not fit ${path}'s weight [${target.dims}]`);
          continue;
        }
        reports[i].matched++;
        if (weight === 0) continue;
        const file = `${dir}/${target.file}`;
        const list = patches.get(file) ?? [];
        list.push({ target, module, weight });
        patches.set(file, list);
      }
    });
  }
  loras.forEach((lora, i) => {
    for (const m of lora.modules) if (!FOLDERS[m.component]) reports[i].unmatched.push(`${m.key}: ${m.component} (SDXL's second text encoder) is not part of this model`);
    if (reports[i].matched === 0 && reports[i].total > 0) throw new LoraApplyError(noMatch(lora, reports[i]));
  });

  let largest = 0;
  return {
    read: async (path) => {
      const original = await read(path);
      const list = patches.get(path);
      if (!original || !list) return original;
      const inPlace = options.freshReads === true && !path.endsWith(`/${MODEL_FILE}`);
      const copy = inPlace ? original : original.slice();
      const working = await applyPatches(copy, list, path, options.multiply);
      largest = Math.max(largest, (inPlace ? 0 : copy.byteLength) + working);
      return copy;
    },
    report: reports,
    patchedFiles: [...patches.keys()],
    get largestCopyBytes() {
      return largest;
    },
  };
}

function noMatch(lora: LoraToApply, report: LoraReport): string {
  const family = lora.family && lora.family !== 'unknown' ? FAMILY_NAMES[lora.family] : null;
  const cause = family ? `it was made for ${family}; use it with an ${family} model` : 'it was probably made for another base model (e.g. an SDXL LoRA on SD 1.5)';
  const example = report.unmatched[0] ? ` (e.g. ${report.unmatched[0]})` : '';
  return `LoRA \`${lora.name}\`: none of its ${report.total} modules match this model's layers${example}: ${cause}`;
}

/** The torch weight shape a module's delta has, without computing it. */
function deltaShape(module: LoraModule): Pick<LoraDelta, 'out' | 'cols' | 'shape'> {
  const out = module.up.shape[0];
  return { out, cols: module.down.data.length / module.rank, shape: [out, ...module.down.shape.slice(1)] };
}

/** Adds every patch's delta to its weight in `bytes` (one file), each weight decoded and encoded once. */
/** Returns the bytes of the largest weight's float32 working buffers (its values and a delta). */
async function applyPatches(bytes: Uint8Array, list: readonly Patch[], path: string, multiply?: MatrixProduct): Promise<number> {
  const byWeight = new Map<number, Patch[]>();
  let working = 0;
  for (const p of list) {
    if (p.target.offset + p.target.length > bytes.byteLength) {
      throw new LoraApplyError(`${path} is ${bytes.byteLength} bytes; the weight of ${p.target.path} lies at ${p.target.offset}–${p.target.offset + p.target.length}`);
    }
    byWeight.set(p.target.offset, [...(byWeight.get(p.target.offset) ?? []), p]);
  }
  for (const [offset, group] of byWeight) {
    const { type, length, layout } = group[0].target;
    const region = bytes.subarray(offset, offset + length);
    const values = decodeWeight(region, type);
    working = Math.max(working, values.byteLength * 2);
    for (const p of group) addDelta(values, multiply ? await productDelta(p.module, p.weight, multiply) : loraDelta(p.module, p.weight), layout);
    encodeWeight(values, type, region);
  }
  return working;
}

/** loraDelta's result through `multiply`: the scale folded into `up` (out × rank values), then up · down. */
async function productDelta(module: LoraModule, weight: number, multiply: MatrixProduct): Promise<LoraDelta> {
  const { down, up, rank } = module;
  const out = up.shape[0];
  const cols = down.data.length / rank;
  const scale = loraScale(module, weight);
  const data = await multiply(up.data.map((v) => v * scale), out, rank, down.data, cols);
  if (data.length !== out * cols) throw new LoraApplyError(`the LoRA delta of ${module.key} came back with ${data.length} values, not ${out * cols}`);
  return { data, out, cols, shape: [out, ...down.shape.slice(1)] };
}

function decodeWeight(bytes: Uint8Array, type: WeightType): Float32Array {
  // float16 (the common download) through the whole-array paths: a table lookup per value, not
  // a function call (measured: the per-value decode was a third of a full-size UNet's merge).
  if (type === 'float16') return fromFloat16Array(aligned16(bytes));
  if (type === 'float32' && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / (type === 'float32' ? 4 : 2);
  const out = new Float32Array(n);
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    if (type === 'float32') out[i] = view.getFloat32(i * 4, true);
    else {
      bits[0] = view.getUint16(i * 2, true) << 16;
      out[i] = asFloat[0];
    }
  }
  return out;
}

/** The bytes as little-endian uint16s: a view when aligned, else a copy (typed arrays need alignment). */
function aligned16(bytes: Uint8Array): Uint16Array {
  const source = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(source.buffer, source.byteOffset, source.byteLength / 2);
}

function encodeWeight(values: Float32Array, type: WeightType, into: Uint8Array): void {
  if (type === 'float16') {
    const bits = toFloat16Array(values);
    into.set(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
    return;
  }
  if (type === 'float32') {
    into.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return;
  }
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let i = 0; i < values.length; i++) {
    asFloat[0] = values[i];
    const x = bits[0];
    // Round to nearest even on the dropped 16 bits; NaN stays a (quiet) NaN.
    const rounded = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    view.setUint16(i * 2, rounded & 0xffff, true);
  }
}
