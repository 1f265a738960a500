/**
 * TF.js weight shards, shared by the layers and the graph converters: the `weightsManifest`
 * schema and the reader that slices the shards into named tensors, dequantizing what the TF.js
 * converter quantized (float16, or uint8/uint16 with min and scale) exactly as TF.js does when it
 * loads the model, so a converted model computes with the same float32 values as TF.js.
 *
 * Pure TypeScript (no node:fs, no DOM): it takes the shard bytes.
 */
import { z } from 'zod';
import { float16BitsToFloat32 } from '../../pipeline/float16';

const quantizationSchema = z.object({
  dtype: z.string(),
  min: z.number().optional(),
  scale: z.number().optional(),
  original_dtype: z.string().optional(),
});

const weightEntrySchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.string(),
  quantization: quantizationSchema.optional(),
});

/** `weightsManifest`: groups of shards, each group one byte stream split into files. */
export const weightsManifestSchema = z.array(z.object({ paths: z.array(z.string()), weights: z.array(weightEntrySchema) }));
export type WeightsManifest = z.infer<typeof weightsManifestSchema>;
export type WeightEntry = z.infer<typeof weightEntrySchema>;

export type WeightTensor =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array };

/** The shard file names, in manifest order, that `readWeights` expects bytes for. */
export function manifestShardPaths(manifest: WeightsManifest): string[] {
  return manifest.flatMap((group) => group.paths);
}

/** Bytes per stored value of a quantized weight, by quantization dtype (else 4: float32, int32). */
const QUANTIZED_BYTES: Readonly<Record<string, number>> = { float16: 2, uint16: 2, uint8: 1 };

/**
 * Slices the shards into named tensors. `context` prefixes every error (the converter's name).
 * Weights lie back to back in manifest order, little-endian whatever the host's byte order.
 */
export function readWeights(manifest: WeightsManifest, shards: Readonly<Record<string, ArrayBuffer>>, context: string): Map<string, WeightTensor> {
  const weights = new Map<string, WeightTensor>();
  for (const group of manifest) {
    const parts = group.paths.map((path) => {
      const buffer = shards[path];
      if (!buffer) throw new Error(`${context}: missing weight shard "${path}"`);
      return new Uint8Array(buffer);
    });
    const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
    const stream = new Uint8Array(total);
    parts.reduce((offset, part) => (stream.set(part, offset), offset + part.byteLength), 0);
    const view = new DataView(stream.buffer);

    let offset = 0;
    for (const entry of group.weights) {
      const size = entry.quantization ? QUANTIZED_BYTES[entry.quantization.dtype] : 4;
      if (size === undefined || (entry.dtype !== 'float32' && entry.dtype !== 'int32')) {
        const quantized = entry.quantization ? ` quantized as ${entry.quantization.dtype}` : '';
        throw new Error(`${context}: weight "${entry.name}" has dtype ${entry.dtype}${quantized}; supported: float32 and int32, unquantized or quantized as float16, uint8, uint16`);
      }
      const count = entry.shape.reduce((a, b) => a * b, 1);
      if (offset + count * size > total) {
        throw new Error(`${context}: weight "${entry.name}" runs past the end of its shards (${total} bytes)`);
      }
      if (weights.has(entry.name)) throw new Error(`${context}: duplicate weight "${entry.name}"`);
      weights.set(entry.name, decodeWeight(entry, view, offset, count, context));
      offset += count * size;
    }
    if (offset !== total) {
      throw new Error(`${context}: shards ${group.paths.join(', ')} hold ${total} bytes but the manifest describes ${offset}`);
    }
  }
  return weights;
}

function decodeWeight(entry: WeightEntry, view: DataView, offset: number, count: number, context: string): WeightTensor {
  const shape = entry.shape;
  const q = entry.quantization;
  if (!q) {
    if (entry.dtype === 'int32') {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(offset + i * 4, true);
      return { dtype: 'int32', shape, data };
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(offset + i * 4, true);
    return { dtype: 'float32', shape, data };
  }
  if (q.dtype === 'float16') {
    if (entry.dtype !== 'float32') throw new Error(`${context}: weight "${entry.name}" is float16-quantized but has dtype ${entry.dtype} (TF.js allows float32 only)`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = float16BitsToFloat32(view.getUint16(offset + i * 2, true));
    return { dtype: 'float32', shape, data };
  }
  // Affine uint8/uint16: value = q · scale + min, computed in double as TF.js does, then stored
  // (float32) or rounded (int32).
  if (q.min === undefined || q.scale === undefined) throw new Error(`${context}: weight "${entry.name}" is ${q.dtype}-quantized without min and scale`);
  const read = q.dtype === 'uint8' ? (i: number) => view.getUint8(offset + i) : (i: number) => view.getUint16(offset + i * 2, true);
  if (entry.dtype === 'int32') {
    const data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = Math.round(read(i) * q.scale + q.min);
    return { dtype: 'int32', shape, data };
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(i) * q.scale + q.min;
  return { dtype: 'float32', shape, data };
}
