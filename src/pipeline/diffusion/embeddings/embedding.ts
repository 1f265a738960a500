/**
 * Textual-inversion embeddings: a file's vectors as float32 rows, and a set of them placed as new
 * token ids after the tokenizer's vocabulary (49408, 49409, … in load order).
 *
 * Why new ids rather than feeding `inputs_embeds`: the text encoders people import (optimum
 * exports, and the ones the studio builds from checkpoints) take only `input_ids`, so the vectors
 * become extra rows of the encoder's token-embedding table (src/registry/embedding/ writes them)
 * and a prompt names them by id. A1111 gets the same result by swapping the vectors in after its
 * embedding lookup.
 *
 * File layouts (A1111 loads them with `safetensors.torch.load_file` and looks at the keys):
 * - A1111: `emb_params` `[n, width]`, or the `.pt` layout flattened: `string_to_param.*` (one term;
 *   `string_to_token.*` beside it is ignored);
 * - diffusers `learned_embeds`: one tensor named by its token, `[width]` or `[n, width]`;
 * - SDXL: `clip_l` `[n, 768]` and `clip_g` `[n, 1280]`, one set per text encoder: a 768-wide
 *   encoder (SD 1.x, SDXL's first) takes `clip_l`, a 1280-wide one (SDXL's second) `clip_g`.
 * SD 2.x embeddings are the A1111/diffusers layouts at width 1024. A one-dimensional tensor is one
 * vector (A1111 unsqueezes it).
 */
import { float16BitsToFloat32 } from '../../float16';
import { CHUNK_TOKENS } from '../prompt/chunks';

/** One tensor of a `.safetensors` header (the registry's `SafetensorsTensor` fits). */
export interface EmbeddingTensor {
  name: string;
  dtype: string;
  shape: readonly number[];
  /** Byte offsets in the data section. */
  begin: number;
  end: number;
}

export interface Embedding {
  /** The word that calls it in a prompt (A1111: the file name without extension). */
  name: string;
  /** `count × width` floats, one row per token position. */
  vectors: Float32Array;
  count: number;
  width: number;
}

/** An embedding placed in a set: its vectors are the ids `firstId … firstId + count − 1`. */
export interface PlacedEmbedding extends Embedding {
  firstId: number;
}

export interface EmbeddingSet {
  /** The first new id: the tokenizer's vocabulary size (49408 for CLIP). */
  firstId: number;
  width: number;
  embeddings: readonly PlacedEmbedding[];
  /** Total vectors: the rows the token-embedding table grows by. */
  rows: number;
}

export class EmbeddingError extends Error {
  override name = 'EmbeddingError';
}

/** What a width means, for messages. */
export function describeWidth(width: number): string {
  const family: Record<number, string> = { 768: 'SD 1.x', 1024: 'SD 2.x', 1280: "SDXL's second text encoder" };
  return family[width] ? `${width} (${family[width]})` : String(width);
}

const ELEMENT_BYTES: Record<string, number> = { F16: 2, BF16: 2, F32: 4, F64: 8 };

export interface ReadEmbeddingOptions {
  name: string;
  /**
   * The text encoder's width. It picks `clip_l` or `clip_g` from an SDXL file, and any other
   * width is refused with both numbers. Without it an SDXL file gives `clip_l`.
   */
  width?: number;
}

/**
 * The vectors of an embedding file from its header's tensors and its data section (the bytes
 * after the header). F16, BF16, F32 and F64 become float32.
 */
export function readEmbedding(tensors: readonly EmbeddingTensor[], data: Uint8Array, options: ReadEmbeddingOptions): Embedding {
  const { name, width } = options;
  const tensor = pickTensor(tensors, name, width);
  const shape = tensor.shape;
  if (shape.length !== 1 && shape.length !== 2) {
    throw new EmbeddingError(`embedding "${name}": tensor '${tensor.name}' has shape [${shape.join(', ')}]; expected [vectors, width] or [width]`);
  }
  const count = shape.length === 1 ? 1 : shape[0];
  const rowWidth = shape[shape.length - 1];
  if (count < 1 || rowWidth < 1) throw new EmbeddingError(`embedding "${name}": tensor '${tensor.name}' is empty (shape [${shape.join(', ')}])`);
  if (width !== undefined && rowWidth !== width) {
    throw new EmbeddingError(
      `embedding "${name}" has ${describeWidth(rowWidth)}-wide vectors but the text encoder is ${describeWidth(width)} wide; use an embedding trained for this model's family`,
    );
  }
  const size = ELEMENT_BYTES[tensor.dtype];
  if (size === undefined) throw new EmbeddingError(`embedding "${name}": tensor '${tensor.name}' is ${tensor.dtype}; only F16, BF16, F32 and F64 are read`);
  const length = count * rowWidth;
  if (tensor.end - tensor.begin !== length * size || tensor.begin < 0 || tensor.end > data.byteLength) {
    throw new EmbeddingError(`embedding "${name}": tensor '${tensor.name}' spans bytes ${tensor.begin}–${tensor.end}, not the ${length} ${tensor.dtype} values of its shape within the ${data.byteLength}-byte data`);
  }
  const vectors = decodeFloats(data.subarray(tensor.begin, tensor.end), tensor.dtype, length);
  const bad = vectors.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new EmbeddingError(`embedding "${name}" holds ${vectors[bad]} (vector ${Math.floor(bad / rowWidth) + 1}); the file is broken`);
  return { name, vectors, count, width: rowWidth };
}

function pickTensor(tensors: readonly EmbeddingTensor[], name: string, width: number | undefined): EmbeddingTensor {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const clipL = byName.get('clip_l');
  const clipG = byName.get('clip_g');
  if (clipL && clipG) {
    const [l, g] = [clipL.shape[clipL.shape.length - 1], clipG.shape[clipG.shape.length - 1]];
    if (width === undefined || width === l) return clipL;
    if (width === g) return clipG;
    throw new EmbeddingError(
      `embedding "${name}" is an SDXL embedding (clip_l ${l} wide, clip_g ${g} wide); the text encoder is ${describeWidth(width)} wide and matches neither`,
    );
  }
  const emb = byName.get('emb_params');
  const terms = tensors.filter((t) => t.name === 'string_to_param' || t.name.startsWith('string_to_param.'));
  if (terms.length > 1) throw new EmbeddingError(`embedding "${name}" holds ${terms.length} terms (string_to_param); A1111 embeddings have one`);
  if (emb && tensors.length === 1) return emb;
  if (terms.length === 1 && tensors.every((t) => t.name.startsWith('string_to_'))) return terms[0];
  // diffusers `learned_embeds`: a single tensor named by its token.
  if (tensors.length === 1) return tensors[0];
  const keys = tensors.slice(0, 4).map((t) => `'${t.name}'`).join(', ');
  throw new EmbeddingError(`"${name}" is not a textual-inversion embedding: expected emb_params, string_to_param.*, clip_l/clip_g or one tensor; it has ${keys}${tensors.length > 4 ? ', …' : ''}`);
}

function decodeFloats(bytes: Uint8Array, dtype: string, length: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(length);
  const u32 = new Uint32Array(1);
  const f32 = new Float32Array(u32.buffer);
  for (let i = 0; i < length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F16') out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
    else if (dtype === 'F64') out[i] = view.getFloat64(i * 8, true);
    else {
      // bfloat16 is the top half of a float32.
      u32[0] = view.getUint16(i * 2, true) << 16;
      out[i] = f32[0];
    }
  }
  return out;
}

export interface PlaceOptions {
  /** The tokenizer's vocabulary size: the first new id. */
  firstId: number;
  /** The text encoder's width; every embedding must have it. */
  width: number;
}

/**
 * Gives each embedding its ids, in order, after the vocabulary. Refused: a width other than the
 * text encoder's, more vectors than a prompt chunk holds, and two embeddings of the same name.
 */
export function placeEmbeddings(embeddings: readonly Embedding[], options: PlaceOptions): EmbeddingSet {
  const { firstId, width } = options;
  if (!Number.isInteger(firstId) || firstId < 1) throw new EmbeddingError(`the first embedding id must be a positive integer, got ${firstId}`);
  const placed: PlacedEmbedding[] = [];
  const names = new Set<string>();
  let next = firstId;
  for (const e of embeddings) {
    if (e.width !== width) {
      throw new EmbeddingError(
        `embedding "${e.name}" has ${describeWidth(e.width)}-wide vectors but the text encoder is ${describeWidth(width)} wide; use an embedding trained for this model's family`,
      );
    }
    if (e.vectors.length !== e.count * e.width || e.count < 1) {
      throw new EmbeddingError(`embedding "${e.name}" has ${e.vectors.length} values, not ${e.count} vectors of ${e.width}`);
    }
    // A1111 places an embedding whole inside one 75-token chunk.
    if (e.count > CHUNK_TOKENS) throw new EmbeddingError(`embedding "${e.name}" has ${e.count} vectors; a prompt chunk holds ${CHUNK_TOKENS}`);
    if (names.has(e.name)) throw new EmbeddingError(`two embeddings are named "${e.name}"`);
    names.add(e.name);
    placed.push({ ...e, firstId: next });
    next += e.count;
  }
  return { firstId, width, embeddings: placed, rows: next - firstId };
}

/** The set's vectors as one `[rows, width]` block: the rows appended to the token-embedding table. */
export function embeddingRows(set: EmbeddingSet): Float32Array {
  const out = new Float32Array(set.rows * set.width);
  for (const e of set.embeddings) out.set(e.vectors, (e.firstId - set.firstId) * set.width);
  return out;
}
