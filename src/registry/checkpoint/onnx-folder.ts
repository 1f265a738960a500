/**
 * A single-file checkpoint written out as a self-contained diffusers / optimum ONNX folder:
 * model_index.json, text_encoder/, unet/, vae_decoder/, vae_encoder/ (each `model.onnx` with its
 * weights in `model.onnx_data` beside it), tokenizer/ and scheduler/. onnxruntime opens each
 * component from its path alone, and the studio's own folder import reads it like any export.
 *
 * Weights are streamed tensor by tensor from the checkpoint into the data files (converted when a
 * dtype is asked for), so memory stays near one tensor whatever the model's size.
 */
import { ClipTokenizer } from '../../pipeline/diffusion/tokenizer/clip';
import { SD_SCHEDULER_CONFIG } from '../../pipeline/diffusion/text-to-image';
import { fromFloat16Array, toFloat16Array } from '../../pipeline/float16';
import { encodeModel } from '../convert/onnx-build';
import type { SafetensorsDtype } from '../safetensors-header';
import { CHECKPOINT_COMPONENTS, type CheckpointComponent, type CheckpointPlan, type TensorRef } from './architecture';
import {
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  fileLocation,
  PACK_ALIGNMENT,
  type BuildOptions,
  type BuiltComponent,
  type ComputeType,
} from './build';

/** Where the checkpoint's bytes come from: absolute byte ranges of the file. */
export interface CheckpointBytes {
  /** Where the data section starts (8 + the header's length): TensorRef offsets are relative to it. */
  dataOffset: number;
  read(begin: number, end: number): Promise<Uint8Array>;
}

/** Where the folder goes: one call per file, its bytes whole or as a stream of chunks. */
export interface FolderWriter {
  write(path: string, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void>;
}

export interface FolderOptions {
  /**
   * The weights' type in the folder: float16 (WebGPU, half the size) or float32; absent keeps
   * each tensor's own (bfloat16 becomes float32: onnxruntime-web computes in neither).
   */
  dtype?: ComputeType;
  /** After each component's weights are written: what is done, in bytes of weights. */
  onProgress?: (progress: { component: CheckpointComponent; written: number; total: number }) => void;
}

/** The name every component's weights file has beside its model.onnx (optimum's). */
export const DATA_FILE = 'model.onnx_data';

/** Each component's graph builder (the converted folder and the virtual one build alike). */
export const BUILDERS: Record<CheckpointComponent, (plan: CheckpointPlan, options: BuildOptions) => BuiltComponent> = {
  text_encoder: buildTextEncoder,
  unet: buildUnet,
  vae_decoder: buildVaeDecoder,
  vae_encoder: buildVaeEncoder,
};

export type FloatDtype = 'F16' | 'F32' | 'BF16';
const BYTES: Record<FloatDtype, number> = { F16: 2, F32: 4, BF16: 2 };

/** The dtype a tensor is written in. */
function outputDtype(dtype: SafetensorsDtype, asked: ComputeType | undefined): FloatDtype {
  if (dtype !== 'F16' && dtype !== 'F32' && dtype !== 'BF16') throw new Error(`a ${dtype} weight cannot be written to an ONNX folder`);
  if (asked === 'float16') return 'F16';
  if (asked === 'float32') return 'F32';
  return dtype === 'BF16' ? 'F32' : dtype;
}

/**
 * Little-endian tensor bytes from one float dtype to another. Typed arrays over an aligned copy
 * rather than a DataView: a full-size UNet is 860 M values, and this is several times faster
 * (every platform a browser runs on is little-endian, as the file is).
 */
export function convertFloats(bytes: Uint8Array, from: FloatDtype, to: FloatDtype): Uint8Array {
  if (from === to) return bytes;
  const count = bytes.byteLength / BYTES[from];
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const source = from === 'F32' ? new Float32Array(aligned.buffer, aligned.byteOffset, count) : new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  // F16/BF16 → float32 first (bfloat16 is the top half of a float32's bits).
  let values: Float32Array;
  if (from === 'F32') values = source as Float32Array;
  else if (from === 'F16') values = fromFloat16Array(source as Uint16Array);
  else {
    const bits = new Uint32Array(count);
    for (let i = 0; i < count; i++) bits[i] = (source as Uint16Array)[i]! << 16;
    values = new Float32Array(bits.buffer);
  }
  return new Uint8Array((to === 'F32' ? (values === source ? values.slice() : values) : toFloat16Array(values)).buffer);
}

/**
 * Each tensor of a component placed one after another in its data file (at PACK_ALIGNMENT
 * boundaries, for aligned reads), in the dtype it is written in: the plan the builder sees.
 */
export function folderLayout(plan: CheckpointPlan, component: CheckpointComponent, asked: ComputeType | undefined) {
  const placed = new Map<string, TensorRef>();
  const copies: Array<{ from: TensorRef; to: TensorRef }> = [];
  let offset = 0;
  for (const [name, ref] of plan.weights[component]) {
    offset = Math.ceil(offset / PACK_ALIGNMENT) * PACK_ALIGNMENT;
    const dtype = outputDtype(ref.dtype, asked);
    const bytes = ((ref.end - ref.begin) / BYTES[ref.dtype as FloatDtype]) * BYTES[dtype];
    const to: TensorRef = { ...ref, dtype, begin: offset, end: offset + bytes };
    placed.set(name, to);
    copies.push({ from: ref, to });
    offset += bytes;
  }
  return { weights: placed as ReadonlyMap<string, TensorRef>, copies, total: offset };
}

/** diffusers' PNDMScheduler config for SD 1.x / 2.x, with the plan's prediction type. */
export function schedulerConfig(plan: CheckpointPlan): Record<string, unknown> {
  return {
    _class_name: 'PNDMScheduler',
    ...SD_SCHEDULER_CONFIG,
    clip_sample: false,
    prediction_type: plan.prediction,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
  };
}

/** model_index.json as optimum writes it for an SD export (the components' source classes). */
export function modelIndex(plan: CheckpointPlan): Record<string, unknown> {
  return {
    _class_name: plan.inpainting ? 'ORTStableDiffusionInpaintPipeline' : 'ORTStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae_decoder: ['diffusers', 'AutoencoderKL'],
    vae_encoder: ['diffusers', 'AutoencoderKL'],
  };
}

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

/** Writes the whole folder; returns the paths written, in order. */
export async function writeCheckpointFolder(plan: CheckpointPlan, source: CheckpointBytes, writer: FolderWriter, options: FolderOptions = {}): Promise<string[]> {
  const written: string[] = [];
  const write = async (path: string, data: Uint8Array | AsyncIterable<Uint8Array>) => {
    await writer.write(path, data);
    written.push(path);
  };
  for (const component of CHECKPOINT_COMPONENTS) {
    const layout = folderLayout(plan, component, options.dtype);
    const built = BUILDERS[component](
      { ...plan, weights: { ...plan.weights, [component]: layout.weights } },
      { locate: fileLocation(DATA_FILE, 0), compute: options.dtype ?? 'float32' },
    );
    await write(`${component}/model.onnx`, encodeModel(built.model));
    let done = 0;
    const data = async function* () {
      let at = 0;
      for (const { from, to } of layout.copies) {
        if (to.begin > at) yield new Uint8Array(to.begin - at); // alignment padding
        const bytes = await source.read(source.dataOffset + from.begin, source.dataOffset + from.end);
        yield convertFloats(bytes, from.dtype as FloatDtype, to.dtype as FloatDtype);
        done += to.end - to.begin;
        at = to.end;
      }
    };
    await write(`${component}/${DATA_FILE}`, data());
    options.onProgress?.({ component, written: done, total: layout.total });
  }
  for (const file of folderConfigFiles(plan)) await write(file.path, await file.data());
  return written;
}

/**
 * The folder's files besides the components (tokenizer, scheduler config, model_index.json), in
 * writing order; the contents are made when asked (the tokenizer's vocabulary loads once).
 */
export function folderConfigFiles(plan: CheckpointPlan): Array<{ path: string; data: () => Promise<Uint8Array> }> {
  let tokenizer: Promise<ReturnType<ClipTokenizer['toFiles']>> | undefined;
  const tokenizerFiles = () => (tokenizer ??= ClipTokenizer.default().then((t) => t.toFiles()));
  const special = { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: plan.family === 'sd2' ? '!' : '<|endoftext|>', unk_token: '<|endoftext|>' };
  const text = (value: string) => new TextEncoder().encode(value);
  return [
    { path: 'tokenizer/vocab.json', data: async () => text((await tokenizerFiles()).vocabJson) },
    { path: 'tokenizer/merges.txt', data: async () => text((await tokenizerFiles()).mergesTxt) },
    { path: 'tokenizer/special_tokens_map.json', data: async () => json(special) },
    { path: 'tokenizer/tokenizer_config.json', data: async () => json({ ...special, do_lower_case: true, model_max_length: 77, tokenizer_class: 'CLIPTokenizer' }) },
    { path: 'scheduler/scheduler_config.json', data: async () => json(schedulerConfig(plan)) },
    { path: 'model_index.json', data: async () => json(modelIndex(plan)) },
  ];
}
