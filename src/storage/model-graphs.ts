/**
 * The cache of ONNX graphs built from stored single-file checkpoints (`model_graphs`). Building a
 * full-size UNet's graph takes seconds; reading it back takes milliseconds. A cache only: a row
 * that is missing, from another builder version or damaged reads as absent, and the caller builds
 * again. The rows of a file go when its model is removed (ModelRepository.removeModel).
 */
import { createSHA256 } from 'hash-wasm';
import { runWrite } from './errors';
import { ModelGraphRecordSchema } from './records';
import type { StudioDb } from './schema';

export interface GraphKey {
  /** The stored checkpoint file the graph was built from. */
  fileId: string;
  component: string;
  compute: string;
  /** Whether the graph reads the file's weights or float16 copies (their external-data layout differs). */
  weights: 'checkpoint' | 'float16';
  builder: number;
}

/** The store's key: the weights choice rides in its `compute` part (`float32+float16-weights`), so the schema stays as it is. */
const computeOf = (k: GraphKey) => (k.weights === 'float16' ? `${k.compute}+float16-weights` : k.compute);
const keyOf = (k: GraphKey): [string, string, string, number] => [k.fileId, k.component, computeOf(k), k.builder];

async function sha256(bytes: Uint8Array): Promise<string> {
  const hasher = await createSHA256();
  hasher.init();
  hasher.update(bytes);
  return hasher.digest('hex');
}

export class ModelGraphCache {
  constructor(private readonly db: Promise<StudioDb>) {}

  /** The cached graph's bytes, or undefined when there is none or it does not match its hash. */
  async get(key: GraphKey): Promise<Uint8Array | undefined> {
    const row: unknown = await (await this.db).get('model_graphs', keyOf(key));
    if (row === undefined) return undefined;
    const parsed = ModelGraphRecordSchema.safeParse(row);
    if (parsed.success && parsed.data.blob.size === parsed.data.bytes) {
      const bytes = new Uint8Array(await parsed.data.blob.arrayBuffer());
      if ((await sha256(bytes)) === parsed.data.sha256) return bytes;
    }
    // Damaged: drop it, so the rebuilt graph takes its place.
    await this.delete(key).catch(() => undefined);
    return undefined;
  }

  async put(key: GraphKey, bytes: Uint8Array, buildMs: number): Promise<void> {
    const record = ModelGraphRecordSchema.parse({
      file_id: key.fileId,
      component: key.component,
      compute: computeOf(key),
      builder: key.builder,
      blob: new Blob([bytes as Uint8Array<ArrayBuffer>]),
      bytes: bytes.byteLength,
      sha256: await sha256(bytes),
      build_ms: buildMs,
      created_at: Date.now(),
    });
    const tx = (await this.db).transaction('model_graphs', 'readwrite');
    await runWrite(tx, async () => {
      await tx.store.put(record);
    });
  }

  async delete(key: GraphKey): Promise<void> {
    const tx = (await this.db).transaction('model_graphs', 'readwrite');
    await runWrite(tx, async () => {
      await tx.store.delete(keyOf(key));
    });
  }

  /** How many graphs are cached for a file (every component, compute type and builder). */
  async count(fileId: string): Promise<number> {
    return (await this.db).countFromIndex('model_graphs', 'by_file', fileId);
  }
}
