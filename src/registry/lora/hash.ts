/**
 * A1111's short hashes of extra networks, as its infotext writes them: a LoRA's "addnet" hash
 * (`Lora hashes`: sha256 of the file's bytes after the 8-byte length and the JSON header, first 12
 * hex digits; kohya's sd-scripts and A1111's `hashes.addnet_hash_safetensors`) and an embedding's
 * (`TI hashes`: sha256 of the whole file, first 12 — src/registry/embedding `embeddingHash`).
 * Streamed in slices, so a 200 MB LoRA is never in memory at once.
 */
import { createSHA256 } from 'hash-wasm';
import { SafetensorsError, type BlobLike } from '../safetensors';

/** Characters of the hex digest A1111 keeps. */
export const SHORT_HASH_LENGTH = 12;
const SLICE_BYTES = 16 * 1024 * 1024;

export async function loraAddnetHash(file: BlobLike): Promise<string> {
  if (file.size < 8) throw new SafetensorsError(`the file is ${file.size} bytes long: not a safetensors file`);
  const n = new DataView(await file.slice(0, 8).arrayBuffer()).getBigUint64(0, true);
  const start = 8 + Number(n);
  if (n > BigInt(file.size - 8)) throw new SafetensorsError(`header length ${n} runs past the end of the ${file.size}-byte file`);
  const hasher = await createSHA256();
  hasher.init();
  for (let at = start; at < file.size; at += SLICE_BYTES) {
    hasher.update(new Uint8Array(await file.slice(at, Math.min(file.size, at + SLICE_BYTES)).arrayBuffer()));
  }
  return hasher.digest('hex').slice(0, SHORT_HASH_LENGTH);
}

/** The short hash of a full-file SHA-256 (an embedding's `TI hashes` entry, from the stored sha256). */
export function shortHash(sha256: string): string {
  return sha256.slice(0, SHORT_HASH_LENGTH);
}
