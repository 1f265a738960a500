/**
 * An embedding file (`.safetensors`, kilobytes) → its vectors, named as A1111 names it: the file
 * name without extension, or the name given at import. (A diffusers file's `<token>` key is not
 * its name here, as in A1111.) Pickles (`.pt`/`.bin`) are never read.
 */
import { readEmbedding, type Embedding } from '../../pipeline/diffusion/embeddings/embedding';
import { classifySafetensorsHeader, parseSafetensorsHeader, SafetensorsError } from '../safetensors';

export interface LoadEmbeddingOptions {
  /** The prompt word; default the file name's stem. */
  name?: string;
  /** The text encoder's width: picks clip_l/clip_g of an SDXL file and refuses any other width. */
  width?: number;
}

/** The file name without folders and `.safetensors`: A1111's embedding name. */
export function embeddingNameOf(fileName: string): string {
  return fileName.replace(/^.*[\\/]/, '').replace(/\.safetensors$/i, '');
}

export function loadEmbedding(bytes: Uint8Array, fileName: string, options: LoadEmbeddingOptions = {}): Embedding {
  if (bytes.byteLength < 8) throw new SafetensorsError(`${fileName} is ${bytes.byteLength} bytes long: not a safetensors file`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.byteLength - 8)) throw new SafetensorsError(`${fileName}: header length ${n} runs past the end of the ${bytes.byteLength}-byte file`);
  const headerBytes = Number(n);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerBytes), bytes.byteLength - 8 - headerBytes);
  const kind = classifySafetensorsHeader(header, fileName);
  if (kind.kind !== 'embedding') {
    throw new SafetensorsError(`${fileName} is not a textual-inversion embedding: ${kind.kind === 'unknown' ? kind.reason : `it is a ${kind.kind}`}`);
  }
  return readEmbedding(header.tensors, bytes.subarray(8 + headerBytes), { name: options.name ?? embeddingNameOf(fileName), width: options.width });
}

/** A1111's `TI hashes` entry: sha256 of the whole file, first 12 hex digits. */
export async function embeddingHash(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join('');
}
