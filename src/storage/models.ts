/**
 * The model registry's storage: model files as Blob chunks in `model_chunks`, and one small
 * ModelInfo row per model in `models`.
 *
 * Crash safety comes from the order of writes: an import first streams every file into chunks
 * (each chunk its own short transaction), and only then commitModel writes the row, in one
 * strict-durability transaction. A model is usable only through its row, so a tab closed
 * mid-import leaves chunks that no row names; deleteOrphanChunks removes them at the next start.
 */
import { createSHA256 } from 'hash-wasm';
import { ModelInfo, type ModelInfoInput } from '../protocol/models';
import { ImportCancelledError, isQuotaExceeded, runWrite, StorageFullError } from './errors';
import { ModelChunkRecordSchema, parseFetchedRow, parseListedRow, parseNewRecord } from './records';
import type { IDBPObjectStore } from 'idb';
import type { StudioDb, StudioDbSchema } from './schema';

const MiB = 1024 * 1024;

/**
 * Largest chunk stored as one record. Big enough that a 2 GB UNet is ~32 records, small enough
 * that each write transaction stays short and a failure loses little work.
 */
export const MAX_CHUNK_BYTES = 64 * MiB;

/**
 * How much of the file is read into memory at a time to hash it. The chunk itself is stored
 * as a Blob slice without being read, so this is what bounds the import's JS memory.
 */
export const HASH_SLICE_BYTES = 8 * MiB;

export type StorageEstimator = () => Promise<{ usage?: number; quota?: number }>;

export interface WriteFileOptions {
  /** Groups the files of one import, so an abandoned import's chunks can be found. */
  importId: string;
  /** Called after each hashed sub-slice; bytesDone reaches total at the end. */
  onProgress?: (bytesDone: number, total: number) => void;
  /** Checked between sub-slices; when aborted, this file's chunks are deleted. */
  signal?: AbortSignal;
  /** At most MAX_CHUNK_BYTES (the default); tests use small ones to get many chunks. */
  chunkBytes?: number;
  /** Size of the sub-slices read for hashing (default HASH_SLICE_BYTES, at most chunkBytes). */
  hashSliceBytes?: number;
  /** For the storage-full message; defaults to navigator.storage.estimate when present. */
  estimate?: StorageEstimator;
}

export interface StoredFile {
  file_id: string;
  /** hex SHA-256 of the whole file */
  sha256: string;
  bytes: number;
}

export interface StorageInfo {
  usage: number | null;
  quota: number | null;
  /** Whether the browser promised not to evict this app's data; null when it cannot say. */
  persisted: boolean | null;
}

/**
 * The fields updateModel may change (what the user edits, and what a probe finds out later:
 * status, upscaler scale, detector layout, a built checkpoint's build times); name (renameModel) and components (a new import) may not.
 */
export const MODEL_PATCH_KEYS = ['description', 'tags', 'family', 'status', 'status_message', 'metadata', 'upscaler', 'detector', 'source'] as const;
export type ModelPatch = Partial<Pick<ModelInfoInput, (typeof MODEL_PATCH_KEYS)[number]>>;

export class ModelExistsError extends Error {
  override readonly name = 'ModelExistsError';
  constructor(modelName: string) {
    super(`a model named "${modelName}" already exists; choose another name or remove that model first`);
  }
}

export class ModelNotFoundError extends Error {
  override readonly name = 'ModelNotFoundError';
  constructor(modelName: string) {
    super(`there is no model named "${modelName}"`);
  }
}

/** A file's chunks are missing or incomplete: the model must be imported again. */
export class MissingModelFileError extends Error {
  override readonly name = 'MissingModelFileError';
}

type ChunkKey = [string, number];

/** Every key of one file's chunks, in index order. */
const fileRange = (fileId: string) => IDBKeyRange.bound([fileId, 0], [fileId, Infinity]);

/**
 * The file ids a stored model row names, read without validating the row: a damaged row must
 * still protect its chunks from orphan cleanup (it may be repairable; its chunks are not).
 */
function fileIdsOf(row: unknown): string[] {
  const components = (row as { components?: unknown } | null)?.components;
  if (!Array.isArray(components)) return [];
  return components
    .map((c) => (c as { file_id?: unknown } | null)?.file_id)
    .filter((id): id is string => typeof id === 'string');
}

type GraphStore = IDBPObjectStore<StudioDbSchema, ('models' | 'model_chunks' | 'model_graphs')[], 'model_graphs', 'readwrite'>;

/** Deletes the graphs built from one file (keys only: the graph blobs are never read). */
async function deleteGraphsOf(graphs: GraphStore, fileId: string): Promise<void> {
  for (const key of await graphs.index('by_file').getAllKeys(fileId)) await graphs.delete(key);
}

/** Index numbers of a file's chunk keys must run 0, 1, 2, … ; returns the first missing one. */
function firstGap(keys: readonly ChunkKey[]): number | undefined {
  const gap = keys.findIndex(([, index], i) => index !== i);
  return gap === -1 ? undefined : gap;
}

/** Decimal units, as operating systems show disk sizes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
  return `${Math.ceil(bytes / 1e3)} KB`;
}

function browserStorage(): StorageManager | undefined {
  return (globalThis as { navigator?: Navigator }).navigator?.storage;
}

/** navigator.storage.estimate (or the one given), with nulls when the browser cannot tell. */
async function readEstimate(estimate?: StorageEstimator): Promise<{ usage: number | null; quota: number | null }> {
  const storage = browserStorage();
  const fn = estimate ?? (storage?.estimate ? () => storage.estimate() : undefined);
  if (!fn) return { usage: null, quota: null };
  try {
    const { usage, quota } = await fn();
    return { usage: usage ?? null, quota: quota ?? null };
  } catch {
    return { usage: null, quota: null };
  }
}

async function storageFullError(file: Blob, cause: unknown, estimate?: StorageEstimator): Promise<StorageFullError> {
  const { usage, quota } = await readEstimate(estimate);
  const fileName = (file as Partial<File>).name; // a picked File has one, a plain Blob does not
  const label = fileName ? `"${fileName}" ` : '';
  let room = 'The browser did not say how much space it allows this app.';
  if (usage !== null && quota !== null) {
    room =
      `This app already uses ${formatBytes(usage)} of the ${formatBytes(quota)} the browser allows it ` +
      `(${formatBytes(Math.max(0, quota - usage))} free).`;
  }
  const message =
    `the browser's storage for this app is full: the model file ${label}(${formatBytes(file.size)}) did not fit. ` +
    `${room} Nothing of this import was kept. Free space by removing models or images you no longer use, ` +
    'or free disk space on this device (the browser allows more when the disk has more room), then import again.';
  return new StorageFullError({ message, cause, neededBytes: file.size, usage, quota });
}

function cleanupFailed(what: string) {
  return (error: unknown) =>
    console.warn(`could not delete ${what} (they will be removed at the next start):`, error);
}

export class ModelRepository {
  private persistRequest: Promise<boolean | null> | undefined;

  constructor(private readonly db: Promise<StudioDb>) {}

  /**
   * Streams a file into `model_chunks` and hashes it on the way. Each chunk is a Blob slice of
   * the file, stored without reading it (the browser copies it into its blob store); the bytes
   * are read only for hashing, one sub-slice at a time, so memory stays near one sub-slice
   * however large the file. The result's file_id goes into a ModelComponent; the file becomes
   * part of a model only when commitModel writes the row.
   *
   * Cancelled: this file's chunks are deleted and ImportCancelledError is thrown (the caller
   * discards the import's other files with discardImport). Storage full: every uncommitted
   * chunk of this import is deleted, since the import cannot finish, and StorageFullError says
   * how big the file is and how much room there is.
   */
  async writeFile(file: Blob, options: WriteFileOptions): Promise<StoredFile> {
    const { importId, onProgress, signal, chunkBytes = MAX_CHUNK_BYTES, estimate } = options;
    if (!importId) throw new TypeError('writeFile needs an importId');
    if (!Number.isInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes > MAX_CHUNK_BYTES) {
      throw new RangeError(`chunkBytes must be a whole number from 1 to ${MAX_CHUNK_BYTES}, not ${chunkBytes}`);
    }
    const sliceBytes = Math.min(options.hashSliceBytes ?? HASH_SLICE_BYTES, chunkBytes);
    if (!Number.isInteger(sliceBytes) || sliceBytes <= 0) {
      throw new RangeError(`hashSliceBytes must be a positive whole number, not ${options.hashSliceBytes}`);
    }

    const db = await this.db;
    const fileId = crypto.randomUUID();
    const total = file.size;
    const hasher = await createSHA256();
    hasher.init();
    const throwIfCancelled = () => {
      if (signal?.aborted) throw new ImportCancelledError({ cause: signal.reason });
    };

    try {
      // An empty file still gets one (empty) chunk, so for every file "has chunks" means "stored".
      const chunkCount = Math.max(1, Math.ceil(total / chunkBytes));
      let done = 0;
      for (let index = 0; index < chunkCount; index++) {
        throwIfCancelled();
        const start = index * chunkBytes;
        const end = Math.min(start + chunkBytes, total);
        // One short transaction per chunk: a long one would hold the store locked for the whole
        // import and, on failure, roll back gigabytes at once.
        const tx = db.transaction('model_chunks', 'readwrite');
        await runWrite(tx, async () => {
          await tx.store.add({
            file_id: fileId,
            index,
            import_id: importId,
            bytes: end - start,
            blob: file.slice(start, end),
            created_at: Date.now(),
          });
        });
        // Hash what was just stored. Only this sub-slice's bytes are in memory; the buffer is
        // dropped at the end of each iteration.
        for (let at = start; at < end; at += sliceBytes) {
          throwIfCancelled();
          const bytes = new Uint8Array(await file.slice(at, Math.min(at + sliceBytes, end)).arrayBuffer());
          hasher.update(bytes);
          done += bytes.byteLength;
          onProgress?.(done, total);
        }
      }
      if (total === 0) onProgress?.(0, 0);
      // A cancel that came during the last read still wins: the caller asked for no file.
      throwIfCancelled();
      return { file_id: fileId, sha256: hasher.digest('hex'), bytes: total };
    } catch (error) {
      if (error instanceof StorageFullError || isQuotaExceeded(error)) {
        await this.discardImport(importId).catch(cleanupFailed(`the chunks of import ${importId}`));
        // runWrite already wrapped the browser's error; keep that one as the cause, not the wrapper.
        const cause = error instanceof StorageFullError ? error.cause : error;
        throw await storageFullError(file, cause, estimate);
      }
      await this.deleteFileChunks(fileId).catch(cleanupFailed(`the chunks of file ${fileId}`));
      throw error;
    }
  }

  /**
   * Makes a model usable: writes its row, after checking that every component's file is fully
   * stored. One strict-durability transaction, so once this resolves the row (and, written
   * before it, the chunks) survive a crash or power loss; the check and the write share the
   * transaction, so a concurrent orphan cleanup cannot delete chunks in between.
   */
  async commitModel(info: ModelInfoInput): Promise<ModelInfo> {
    const record = parseNewRecord(ModelInfo, 'model', info);
    const tx = (await this.db).transaction(['models', 'model_chunks'], 'readwrite', { durability: 'strict' });
    return runWrite(tx, async () => {
      const models = tx.objectStore('models');
      if ((await models.getKey(record.name)) !== undefined) throw new ModelExistsError(record.name);
      const byFile = tx.objectStore('model_chunks').index('by_file');
      for (const component of record.components) {
        const keys = await byFile.getAllKeys(component.file_id);
        const gap = firstGap(keys);
        if (keys.length === 0 || gap !== undefined) {
          throw new MissingModelFileError(
            `cannot save model "${record.name}": the file of its component "${component.path}" ` +
              `(${component.file_id}) is ${keys.length === 0 ? 'not stored' : `incomplete (chunk ${gap} is missing)`}; ` +
              'import the model again',
          );
        }
      }
      await models.add(record);
      return record;
    });
  }

  /**
   * The stored file as one Blob. The chunk blobs are referenced, not read: the browser reads
   * the bytes only when the caller does (e.g. onnxruntime streaming the model).
   */
  async readFile(fileId: string): Promise<Blob> {
    const rows = await (await this.db).transaction('model_chunks', 'readonly').store.getAll(fileRange(fileId));
    if (rows.length === 0) {
      throw new MissingModelFileError(`the model file ${fileId} is not stored; import the model again`);
    }
    const chunks = rows.map((row) => parseFetchedRow(ModelChunkRecordSchema, 'model chunk', row));
    const gap = firstGap(chunks.map((c) => [c.file_id, c.index] as ChunkKey));
    if (gap !== undefined) {
      throw new MissingModelFileError(
        `the model file ${fileId} is incomplete (chunk ${gap} of at least ${chunks.length + 1} is missing); import the model again`,
      );
    }
    const bad = chunks.find((c) => c.blob.size !== c.bytes);
    if (bad) {
      throw new MissingModelFileError(
        `the model file ${fileId} is damaged (chunk ${bad.index} holds ${bad.blob.size} bytes, not ${bad.bytes}); import the model again`,
      );
    }
    return new Blob(chunks.map((c) => c.blob));
  }

  async getModel(name: string): Promise<ModelInfo | undefined> {
    const row = await (await this.db).transaction('models', 'readonly').store.get(name);
    return row === undefined ? undefined : parseFetchedRow(ModelInfo, 'model', row);
  }

  /** All models by name. Reads only `models`: never touches a chunk. Damaged rows are skipped. */
  async listModels(): Promise<ModelInfo[]> {
    const rows = await (await this.db).transaction('models', 'readonly').store.getAll();
    return rows.flatMap((row) => parseListedRow(ModelInfo, 'model', row) ?? []);
  }

  /** Read-modify-write in one transaction, so concurrent updates cannot lose each other's fields. */
  async updateModel(name: string, patch: ModelPatch): Promise<ModelInfo> {
    const refused = Object.keys(patch).filter((key) => !(MODEL_PATCH_KEYS as readonly string[]).includes(key));
    if (refused.length > 0) {
      throw new TypeError(
        `updateModel cannot change ${refused.join(', ')} (only ${MODEL_PATCH_KEYS.join(', ')}); use renameModel to rename`,
      );
    }
    const tx = (await this.db).transaction('models', 'readwrite');
    return runWrite(tx, async () => {
      const row = await tx.store.get(name);
      if (row === undefined) throw new ModelNotFoundError(name);
      const current = parseFetchedRow(ModelInfo, 'model', row);
      const next = parseNewRecord(ModelInfo, 'model', { ...current, ...patch });
      await tx.store.put(next);
      return next;
    });
  }

  /** The name is the key, so a rename is a put under the new key and a delete, in one transaction. */
  async renameModel(oldName: string, newName: string): Promise<ModelInfo> {
    const tx = (await this.db).transaction('models', 'readwrite');
    return runWrite(tx, async () => {
      const row = await tx.store.get(oldName);
      if (row === undefined) throw new ModelNotFoundError(oldName);
      const current = parseFetchedRow(ModelInfo, 'model', row);
      if (current.read_only) throw new Error(`"${oldName}" ships with the app and cannot be renamed`);
      const renamed = parseNewRecord(ModelInfo, 'model', { ...current, name: newName });
      if (newName === oldName) return current;
      if ((await tx.store.getKey(newName)) !== undefined) throw new ModelExistsError(newName);
      await tx.store.add(renamed);
      await tx.store.delete(oldName);
      return renamed;
    });
  }

  /**
   * Removes the row and its files' chunks together. A file another model also names is kept.
   * Works on a damaged row too (so it can be got rid of). Returns whether there was such a model.
   */
  async removeModel(name: string): Promise<boolean> {
    const tx = (await this.db).transaction(['models', 'model_chunks', 'model_graphs'], 'readwrite');
    return runWrite(tx, async () => {
      const models = tx.objectStore('models');
      const row: unknown = await models.get(name);
      if (row === undefined) return false;
      if ((row as { read_only?: unknown }).read_only === true) {
        throw new Error(`"${name}" ships with the app and cannot be removed`);
      }
      await models.delete(name);
      const stillNamed = new Set((await models.getAll()).flatMap(fileIdsOf));
      for (const fileId of new Set(fileIdsOf(row))) {
        if (stillNamed.has(fileId)) continue;
        await tx.objectStore('model_chunks').delete(fileRange(fileId));
        // The graphs built from the file are of no use without it.
        await deleteGraphsOf(tx.objectStore('model_graphs'), fileId);
      }
      return true;
    });
  }

  /** Removes every model, every chunk and every built graph. Returns how many models there were. */
  async clear(): Promise<number> {
    const tx = (await this.db).transaction(['models', 'model_chunks', 'model_graphs'], 'readwrite');
    return runWrite(tx, async () => {
      const count = await tx.objectStore('models').count();
      await tx.objectStore('models').clear();
      await tx.objectStore('model_chunks').clear();
      await tx.objectStore('model_graphs').clear();
      return count;
    });
  }

  async count(): Promise<number> {
    return (await this.db).transaction('models', 'readonly').store.count();
  }

  /**
   * Deletes the chunks no model names, except those of imports still running (in another tab:
   * the caller knows them, e.g. from Web Locks). Call at start, before this tab imports
   * anything: a tab closed mid-import thus leaves no half model behind. Returns how many chunks
   * were deleted.
   */
  async deleteOrphanChunks(options: { activeImports?: ReadonlySet<string> } = {}): Promise<number> {
    const active = options.activeImports ?? new Set<string>();
    const deleted = await this.deleteUnreferencedChunks(null, (importId) => !active.has(importId));
    await this.deleteOrphanGraphs();
    return deleted;
  }

  /** Built graphs whose checkpoint file no model names (a removal that failed half-way). */
  private async deleteOrphanGraphs(): Promise<void> {
    const tx = (await this.db).transaction(['models', 'model_graphs'], 'readwrite');
    await runWrite(tx, async () => {
      const named = new Set((await tx.objectStore('models').getAll()).flatMap(fileIdsOf));
      const graphs = tx.objectStore('model_graphs');
      const orphans = new Set<string>();
      let cursor = await graphs.index('by_file').openKeyCursor();
      while (cursor) {
        if (!named.has(cursor.key)) orphans.add(cursor.key);
        cursor = await cursor.continue();
      }
      for (const fileId of orphans) await deleteGraphsOf(graphs, fileId);
    });
  }

  /**
   * Deletes what an import wrote that no model names yet: for a failed or cancelled import
   * whose other files were already stored. Returns how many chunks were deleted.
   */
  async discardImport(importId: string): Promise<number> {
    return this.deleteUnreferencedChunks(IDBKeyRange.only(importId), () => true);
  }

  /** Usage and quota from navigator.storage.estimate, and whether storage is persistent. */
  async storageInfo(estimate?: StorageEstimator): Promise<StorageInfo> {
    const { usage, quota } = await readEstimate(estimate);
    const storage = browserStorage();
    let persisted: boolean | null = null;
    if (storage?.persisted) persisted = await storage.persisted().catch(() => null);
    return { usage, quota, persisted };
  }

  /**
   * Asks the browser not to evict the app's data under storage pressure (models are big and
   * slow to re-import). Asked once per repository; later calls get the same answer. null when
   * the browser has no such API.
   */
  requestPersistence(): Promise<boolean | null> {
    this.persistRequest ??= (async () => {
      const storage = browserStorage();
      if (!storage?.persist) return null;
      return storage.persist().catch(() => false);
    })();
    return this.persistRequest;
  }

  private async deleteFileChunks(fileId: string): Promise<void> {
    const tx = (await this.db).transaction('model_chunks', 'readwrite');
    await runWrite(tx, async () => {
      await tx.store.delete(fileRange(fileId));
    });
  }

  /**
   * Chunks (in the given by_import range) whose file no model row names and whose import
   * `doomed` accepts. Model rows and chunk keys are read in the same readwrite transaction as
   * the deletes, so a commitModel cannot slip in between; only keys are read, never a blob.
   */
  private async deleteUnreferencedChunks(range: IDBKeyRange | null, doomed: (importId: string) => boolean): Promise<number> {
    const tx = (await this.db).transaction(['models', 'model_chunks'], 'readwrite');
    return runWrite(tx, async () => {
      const named = new Set((await tx.objectStore('models').getAll()).flatMap(fileIdsOf));
      const chunks = tx.objectStore('model_chunks');
      const victims: ChunkKey[] = [];
      let cursor = await chunks.index('by_import').openKeyCursor(range);
      while (cursor) {
        const key = cursor.primaryKey;
        if (doomed(cursor.key) && !named.has(key[0])) victims.push(key);
        cursor = await cursor.continue();
      }
      for (const key of victims) await chunks.delete(key);
      return victims.length;
    });
  }
}
