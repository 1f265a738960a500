// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; storage runs in the worker, tested on fake-indexeddb.)
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ModelInfoInput } from '../../src/protocol/models';
import { CorruptRecordError, ImportCancelledError, isQuotaExceeded, StorageFullError } from '../../src/storage/errors';
import {
  formatBytes,
  HASH_SLICE_BYTES,
  MAX_CHUNK_BYTES,
  MissingModelFileError,
  ModelExistsError,
  ModelNotFoundError,
  ModelRepository,
  type StoredFile,
} from '../../src/storage/models';
import { openStudioDb, type StudioDb } from '../../src/storage/schema';

const KiB = 1024;
const MiB = 1024 * KiB;

let db: StudioDb;
let repo: ModelRepository;

beforeEach(async () => {
  db = await openStudioDb({ name: `models-test-${crypto.randomUUID()}` });
  repo = new ModelRepository(Promise.resolve(db));
});

afterEach(() => {
  db.close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** Deterministic, non-repeating-looking bytes, so a misplaced chunk changes the hash. */
function bytesOf(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function modelInfo(name: string, files: StoredFile[], overrides: Partial<ModelInfoInput> = {}): ModelInfoInput {
  return {
    name,
    model_type: 'upscaler',
    file_path: `${name}/`,
    file_size_bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    discovered_at: '2025-01-01T00:00:00.000Z',
    status: 'verified',
    components: files.map((f, i) => ({
      path: `part${i}.onnx`,
      role: i === 0 ? 'upscaler' : 'external_data',
      bytes: f.bytes,
      sha256: f.sha256,
      file_id: f.file_id,
    })),
    ...overrides,
  };
}

/** Writes a small file and commits a model made of it. */
async function storeModel(name: string, size = 3 * KiB, importId = `import-${name}`) {
  const file = await repo.writeFile(new Blob([bytesOf(size, name.length)]), { importId, chunkBytes: KiB });
  return { file, model: await repo.commitModel(modelInfo(name, [file])) };
}

const chunkCount = () => db.count('model_chunks');
const chunkKeysOf = async (fileId: string) => db.getAllKeysFromIndex('model_chunks', 'by_file', fileId);

/** A database whose transaction() records the stores and options each call asked for. */
function watchTransactions() {
  const calls: { stores: string[]; options: unknown }[] = [];
  const spied = new Proxy(db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return (stores: string | string[], mode?: IDBTransactionMode, options?: unknown) => {
          calls.push({ stores: ([] as string[]).concat(stores), options });
          return (target.transaction as (...a: unknown[]) => unknown)(stores, mode, options);
        };
      }
      return Reflect.get(target, prop, target);
    },
  });
  return { calls, repo: new ModelRepository(Promise.resolve(spied)) };
}

/** Make add() on model_chunks throw `error` from the n-th chunk on (1-based). */
function failChunkAddsFrom(n: number, error: () => Error) {
  const add = IDBObjectStore.prototype.add;
  let seen = 0;
  return vi.spyOn(IDBObjectStore.prototype, 'add').mockImplementation(function (this: IDBObjectStore, ...args) {
    if (this.name === 'model_chunks' && ++seen >= n) throw error();
    return add.apply(this, args);
  });
}

describe('ModelRepository.writeFile / readFile', () => {
  it('streams a multi-chunk file and reads it back byte-identical, with the right SHA-256', async () => {
    const bytes = bytesOf(10 * KiB + 100);
    const progress: [number, number][] = [];
    // Sub-slices that do not divide the chunk size, to exercise the chunk/sub-slice boundaries.
    const stored = await repo.writeFile(new Blob([bytes]), {
      importId: 'imp',
      chunkBytes: KiB,
      hashSliceBytes: 300,
      onProgress: (done, total) => progress.push([done, total]),
    });

    expect(stored).toEqual({ file_id: expect.stringMatching(/^[0-9a-f-]{36}$/), sha256: sha256(bytes), bytes: bytes.length });
    // 10 full chunks and one of 100 bytes, each a Blob of at most chunkBytes
    const rows = await db.getAll('model_chunks');
    expect(rows.map((r) => r.index)).toEqual([...Array(11).keys()]);
    expect(rows.every((r) => r.blob instanceof Blob && r.blob.size === r.bytes && r.bytes <= KiB)).toBe(true);
    expect(rows.map((r) => r.bytes).reduce((a, b) => a + b)).toBe(bytes.length);
    expect(new Set(rows.map((r) => r.import_id))).toEqual(new Set(['imp']));

    const back = await repo.readFile(stored.file_id);
    expect(back.size).toBe(bytes.length);
    expect(new Uint8Array(await back.arrayBuffer())).toEqual(bytes);

    // progress rises steadily to the total
    expect(progress.at(-1)).toEqual([bytes.length, bytes.length]);
    expect(progress.every(([, total]) => total === bytes.length)).toBe(true);
    expect(progress.every(([done], i) => i === 0 || done > progress[i - 1][0])).toBe(true);
    expect(progress.length).toBe(10 * 4 + 1); // 300+300+300+124 per full chunk, then 100
  });

  it('keeps files of the same import apart', async () => {
    const a = bytesOf(2500, 1);
    const b = bytesOf(1500, 2);
    const fa = await repo.writeFile(new Blob([a]), { importId: 'imp', chunkBytes: KiB });
    const fb = await repo.writeFile(new Blob([b]), { importId: 'imp', chunkBytes: KiB });
    expect(new Uint8Array(await (await repo.readFile(fa.file_id)).arrayBuffer())).toEqual(a);
    expect(new Uint8Array(await (await repo.readFile(fb.file_id)).arrayBuffer())).toEqual(b);
    expect(await chunkCount()).toBe(5);
  });

  it('stores an empty file as one empty chunk', async () => {
    const progress = vi.fn();
    const stored = await repo.writeFile(new Blob([]), { importId: 'imp', onProgress: progress });
    expect(stored).toMatchObject({ bytes: 0, sha256: sha256(new Uint8Array()) });
    expect(progress).toHaveBeenCalledWith(0, 0);
    expect((await repo.readFile(stored.file_id)).size).toBe(0);
    await repo.commitModel(modelInfo('empty', [stored]));
  });

  it('refuses chunk sizes above 64 MiB and a missing import id', async () => {
    expect(MAX_CHUNK_BYTES).toBe(64 * MiB);
    await expect(repo.writeFile(new Blob(['x']), { importId: 'i', chunkBytes: MAX_CHUNK_BYTES + 1 })).rejects.toThrow(RangeError);
    await expect(repo.writeFile(new Blob(['x']), { importId: 'i', chunkBytes: 0 })).rejects.toThrow(RangeError);
    await expect(repo.writeFile(new Blob(['x']), { importId: '' })).rejects.toThrow(/importId/);
    expect(await chunkCount()).toBe(0);
  });

  it('readFile says clearly when a file is not stored, has a gap, or a damaged chunk', async () => {
    await expect(repo.readFile('nope')).rejects.toThrow(MissingModelFileError);
    await expect(repo.readFile('nope')).rejects.toThrow(/the model file nope is not stored; import the model again/);

    const stored = await repo.writeFile(new Blob([bytesOf(3 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    await db.delete('model_chunks', [stored.file_id, 1]);
    await expect(repo.readFile(stored.file_id)).rejects.toThrow(/incomplete \(chunk 1 .*is missing\)/);

    const other = await repo.writeFile(new Blob([bytesOf(2 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    const row = await db.get('model_chunks', [other.file_id, 0]);
    await db.put('model_chunks', { ...row!, blob: new Blob(['short']) });
    await expect(repo.readFile(other.file_id)).rejects.toThrow(/damaged \(chunk 0 holds 5 bytes, not 1024\)/);
    await db.put('model_chunks', { ...row!, blob: 'not a blob' as unknown as Blob });
    await expect(repo.readFile(other.file_id)).rejects.toThrow(CorruptRecordError);
  });
});

describe('ModelRepository rows', () => {
  it('commits a model in one strict-durability transaction and reads it back with defaults', async () => {
    const file = await repo.writeFile(new Blob([bytesOf(2 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    const watched = watchTransactions();
    const model = await watched.repo.commitModel(modelInfo('esrgan', [file]));

    expect(watched.calls).toEqual([{ stores: ['models', 'model_chunks'], options: { durability: 'strict' } }]);
    expect(model).toMatchObject({ name: 'esrgan', description: null, tags: [], metadata: {}, read_only: false });
    expect(await repo.getModel('esrgan')).toEqual(model);
    expect(await repo.listModels()).toEqual([model]);
    expect(await repo.count()).toBe(1);
    expect(await repo.getModel('other')).toBeUndefined();
  });

  it('refuses to commit when a component has no chunks, or an incomplete file, or the name is taken', async () => {
    const file = await repo.writeFile(new Blob([bytesOf(3 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    const ghost = { ...file, file_id: 'never-written' };

    const missing = await repo.commitModel(modelInfo('m', [file, ghost])).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(MissingModelFileError);
    expect((missing as Error).message).toBe(
      'cannot save model "m": the file of its component "part1.onnx" (never-written) is not stored; import the model again',
    );
    expect(await repo.count()).toBe(0);

    await repo.commitModel(modelInfo('m', [file]));
    const dup = await repo.commitModel(modelInfo('m', [file])).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ModelExistsError);
    expect((dup as Error).message).toMatch(/a model named "m" already exists/);

    const holed = await repo.writeFile(new Blob([bytesOf(3 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    await db.delete('model_chunks', [holed.file_id, 1]);
    await expect(repo.commitModel(modelInfo('holed', [holed]))).rejects.toThrow(/is incomplete \(chunk 1 is missing\)/);
    expect((await repo.listModels()).map((m) => m.name)).toEqual(['m']);

    await expect(repo.commitModel({ ...modelInfo('bad', [file]), status: 'bogus' as 'verified' })).rejects.toThrow(
      /invalid model record: status/,
    );
  });

  it('listModels, getModel and count never open a transaction on model_chunks', async () => {
    await storeModel('a');
    await storeModel('b');
    const watched = watchTransactions();
    expect((await watched.repo.listModels()).map((m) => m.name)).toEqual(['a', 'b']);
    expect(await watched.repo.getModel('a')).toBeDefined();
    expect(await watched.repo.count()).toBe(2);
    expect(watched.calls.map((c) => c.stores)).toEqual([['models'], ['models'], ['models']]);

    // The spy does see chunk access, so the assertion above is meaningful.
    await watched.repo.readFile((await repo.getModel('a'))!.components[0].file_id);
    expect(watched.calls.at(-1)!.stores).toEqual(['model_chunks']);
  });

  it('listModels skips a damaged row with a warning; getModel of it throws a clear error', async () => {
    await storeModel('good');
    await db.put('models', { name: 'bad', components: 'oops' } as never);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect((await repo.listModels()).map((m) => m.name)).toEqual(['good']);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/skipping damaged model record "bad"/));
    await expect(repo.getModel('bad')).rejects.toThrow(/the stored model record "bad" is damaged/);
  });

  it('updateModel changes the editable fields only', async () => {
    await storeModel('m');
    const updated = await repo.updateModel('m', {
      description: 'sharp',
      tags: ['x4'],
      status: 'error',
      status_message: 'probe failed',
      metadata: { note: 1 },
      upscaler: { scale: 4, value_range: [0, 1] },
    });
    expect(updated).toMatchObject({
      name: 'm',
      description: 'sharp',
      tags: ['x4'],
      status: 'error',
      status_message: 'probe failed',
      upscaler: { scale: 4, value_range: [0, 1] },
    });
    expect(await repo.getModel('m')).toEqual(updated);

    await expect(repo.updateModel('m', { name: 'n' } as never)).rejects.toThrow(/cannot change name .*use renameModel/);
    await expect(repo.updateModel('m', { components: [] } as never)).rejects.toThrow(/cannot change components/);
    await expect(repo.updateModel('m', { status: 'bogus' as 'error' })).rejects.toThrow(/invalid model record: status/);
    await expect(repo.updateModel('nope', { tags: [] })).rejects.toThrow(ModelNotFoundError);
    expect(await repo.getModel('m')).toEqual(updated);
  });

  it('renameModel moves the row in one transaction and refuses a taken name', async () => {
    const { file } = await storeModel('old');
    await storeModel('taken');

    const watched = watchTransactions();
    const renamed = await watched.repo.renameModel('old', 'new');
    expect(watched.calls).toHaveLength(1);
    expect(renamed.name).toBe('new');
    expect(await repo.getModel('old')).toBeUndefined();
    expect(await repo.getModel('new')).toEqual(renamed);
    expect((await repo.readFile(file.file_id)).size).toBe(file.bytes); // files untouched

    await expect(repo.renameModel('new', 'taken')).rejects.toThrow(ModelExistsError);
    await expect(repo.renameModel('missing', 'x')).rejects.toThrow(/there is no model named "missing"/);
    await expect(repo.renameModel('new', '')).rejects.toThrow(/invalid model record: name/);
    expect(await repo.renameModel('new', 'new')).toEqual(renamed);
    expect((await repo.listModels()).map((m) => m.name)).toEqual(['new', 'taken']);
  });

  it('bundled (read-only) models cannot be renamed or removed', async () => {
    const file = await repo.writeFile(new Blob(['x']), { importId: 'imp' });
    await repo.commitModel(modelInfo('bundled', [file], { read_only: true }));
    await expect(repo.renameModel('bundled', 'x')).rejects.toThrow(/ships with the app and cannot be renamed/);
    await expect(repo.removeModel('bundled')).rejects.toThrow(/ships with the app and cannot be removed/);
    expect(await repo.getModel('bundled')).toBeDefined();
    expect(await chunkCount()).toBe(1);
  });

  it('removeModel deletes the row and its chunks together, keeping files another model uses', async () => {
    const { file: keptFile } = await storeModel('keep');
    const { file } = await storeModel('gone', 5 * KiB);
    const shared = await repo.writeFile(new Blob([bytesOf(2 * KiB)]), { importId: 'imp-s', chunkBytes: KiB });
    await repo.commitModel(modelInfo('s1', [shared]));
    await repo.commitModel(modelInfo('s2', [shared]));
    expect(await chunkCount()).toBe(3 + 5 + 2);

    expect(await repo.removeModel('gone')).toBe(true);
    expect(await repo.getModel('gone')).toBeUndefined();
    expect(await chunkKeysOf(file.file_id)).toEqual([]);
    expect(await repo.removeModel('gone')).toBe(false);

    expect(await repo.removeModel('s1')).toBe(true);
    expect(await chunkKeysOf(shared.file_id)).toHaveLength(2); // s2 still needs it
    expect(await repo.removeModel('s2')).toBe(true);
    expect(await chunkKeysOf(shared.file_id)).toEqual([]);

    expect(await chunkCount()).toBe(3);
    expect((await repo.readFile(keptFile.file_id)).size).toBe(3 * KiB);
  });

  it('removeModel also gets rid of a damaged row', async () => {
    await db.put('models', { name: 'bad', components: [{ file_id: 'f' }] } as never);
    await db.put('model_chunks', { file_id: 'f', index: 0, import_id: 'i', bytes: 1, blob: new Blob(['x']), created_at: 1 });
    expect(await repo.removeModel('bad')).toBe(true);
    expect(await db.count('models')).toBe(0);
    expect(await chunkCount()).toBe(0);
  });

  it('clear removes every model and chunk and says how many models there were', async () => {
    await storeModel('a');
    await storeModel('b');
    await repo.writeFile(new Blob(['pending']), { importId: 'pending' });
    expect(await repo.clear()).toBe(2);
    expect(await repo.count()).toBe(0);
    expect(await chunkCount()).toBe(0);
    expect(await repo.clear()).toBe(0);
  });
});

describe('ModelRepository orphan cleanup', () => {
  it('deletes chunks of unfinished imports, keeping committed files and imports still running', async () => {
    const { file: committed } = await storeModel('done', 3 * KiB, 'imp-done');
    // a tab closed after writing these, before commitModel
    await repo.writeFile(new Blob([bytesOf(2 * KiB)]), { importId: 'imp-crashed', chunkBytes: KiB });
    await repo.writeFile(new Blob([bytesOf(KiB)]), { importId: 'imp-crashed', chunkBytes: KiB });
    // another tab is importing this right now
    const running = await repo.writeFile(new Blob([bytesOf(2 * KiB)]), { importId: 'imp-other-tab', chunkBytes: KiB });
    // a committed model's import id is no reason to keep an uncommitted file of that import
    await repo.writeFile(new Blob([bytesOf(KiB)]), { importId: 'imp-done', chunkBytes: KiB });

    // Only keys may be read: no get/getAll/openCursor (which load chunk values) on model_chunks.
    const valueReads: string[] = [];
    for (const proto of [IDBObjectStore.prototype, IDBIndex.prototype] as const) {
      for (const method of ['get', 'getAll', 'openCursor'] as const) {
        const original = proto[method] as (...a: unknown[]) => unknown;
        vi.spyOn(proto, method).mockImplementation(function (this: IDBObjectStore | IDBIndex, ...args: unknown[]) {
          const store = this instanceof IDBIndex ? this.objectStore : this;
          if (store.name === 'model_chunks') valueReads.push(method);
          return original.apply(this, args);
        } as never);
      }
    }

    expect(await repo.deleteOrphanChunks({ activeImports: new Set(['imp-other-tab']) })).toBe(2 + 1 + 1);
    expect(valueReads).toEqual([]);
    vi.restoreAllMocks();

    expect((await db.getAll('model_chunks')).map((c) => c.file_id).sort()).toEqual(
      [...Array(3).fill(committed.file_id), ...Array(2).fill(running.file_id)].sort(),
    );
    expect((await repo.readFile(committed.file_id)).size).toBe(3 * KiB);

    // Once the other tab is gone too, its chunks go; committed ones never do.
    expect(await repo.deleteOrphanChunks()).toBe(2);
    expect(await repo.deleteOrphanChunks()).toBe(0);
    expect(await chunkCount()).toBe(3);
  });

  it('keeps the chunks of a damaged model row (the row may be repairable, the bytes are not)', async () => {
    const { file } = await storeModel('m');
    const row = await db.get('models', 'm');
    await db.put('models', { ...row!, status: 'bogus' } as never);
    expect(await repo.deleteOrphanChunks()).toBe(0);
    expect(await chunkKeysOf(file.file_id)).toHaveLength(3);
  });

  it('discardImport deletes the uncommitted files of one import only', async () => {
    const { file: committed } = await storeModel('m', 2 * KiB, 'imp');
    await repo.writeFile(new Blob([bytesOf(3 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    const other = await repo.writeFile(new Blob([bytesOf(KiB)]), { importId: 'other', chunkBytes: KiB });
    expect(await repo.discardImport('imp')).toBe(3);
    expect(await chunkKeysOf(committed.file_id)).toHaveLength(2);
    expect(await chunkKeysOf(other.file_id)).toHaveLength(1);
  });
});

describe('ModelRepository failures', () => {
  it('cancelling mid-file deletes the chunks written so far and throws ImportCancelledError', async () => {
    const earlier = await repo.writeFile(new Blob([bytesOf(2 * KiB)]), { importId: 'imp', chunkBytes: KiB });
    const controller = new AbortController();
    const error = await repo
      .writeFile(new Blob([bytesOf(10 * KiB)]), {
        importId: 'imp',
        chunkBytes: KiB,
        onProgress: (done) => {
          if (done >= 4 * KiB) controller.abort();
        },
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImportCancelledError);
    expect(error).toMatchObject({ name: 'AbortError', message: expect.stringMatching(/the import was cancelled/) });
    // Only the cancelled file's chunks went; the caller decides about the rest (discardImport).
    expect((await db.getAll('model_chunks')).every((c) => c.file_id === earlier.file_id)).toBe(true);
    expect(await chunkCount()).toBe(2);

    const aborted = AbortSignal.abort();
    await expect(repo.writeFile(new Blob(['x']), { importId: 'imp', signal: aborted })).rejects.toThrow(ImportCancelledError);
    expect(await chunkCount()).toBe(2);
  });

  it.each([
    ['QuotaExceededError', 'The quota has been exceeded.'],
    ['NS_ERROR_DOM_QUOTA_REACHED', 'Persistent storage maximum size reached'],
    ['UnknownError', 'Not enough disk space to write the blob'],
  ])('%s on the 3rd chunk → StorageFullError with the numbers, nothing of the import kept', async (name, message) => {
    const { model: existing, file: existingFile } = await storeModel('existing', 2 * KiB, 'imp-old');
    const firstOfImport = await repo.writeFile(new Blob([bytesOf(KiB)]), { importId: 'imp', chunkBytes: KiB });
    const adds = failChunkAddsFrom(3, () => new DOMException(message, name)); // the big file's 3rd of 4 chunks fails
    const estimate = vi.fn(async () => ({ usage: 3.2e9, quota: 4e9 }));

    const file = new File([bytesOf(1_500_000)], 'unet/model.onnx');
    const error = await repo.writeFile(file, { importId: 'imp', chunkBytes: 400_000, estimate }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageFullError);
    expect(adds).toHaveBeenCalledTimes(3); // two chunks were stored before the disk filled up
    expect((error as Error).message).toBe(
      "the browser's storage for this app is full: the model file \"unet/model.onnx\" (1.5 MB) did not fit. " +
        'This app already uses 3.2 GB of the 4.0 GB the browser allows it (800 MB free). Nothing of this import was kept. ' +
        'Free space by removing models or images you no longer use, or free disk space on this device ' +
        '(the browser allows more when the disk has more room), then import again.',
    );
    expect(error).toMatchObject({ neededBytes: 1_500_000, usage: 3.2e9, quota: 4e9 });
    expect((error as Error).cause).toMatchObject({ name, message });
    vi.restoreAllMocks();

    // The failed file and the import's earlier file are gone; the existing model is untouched.
    expect(await chunkKeysOf(firstOfImport.file_id)).toEqual([]);
    expect((await db.getAll('model_chunks')).every((c) => c.file_id === existingFile.file_id)).toBe(true);
    expect(await repo.listModels()).toEqual([existing]);
    expect((await repo.readFile(existingFile.file_id)).size).toBe(2 * KiB);
    // and storage works again afterwards
    await repo.writeFile(new Blob(['ok']), { importId: 'imp-2' });
  });

  it('says so when the browser gives no estimate', async () => {
    failChunkAddsFrom(1, () => new DOMException('quota', 'QuotaExceededError'));
    const error = await repo
      .writeFile(new Blob([bytesOf(2500)]), { importId: 'imp', estimate: async () => ({}) })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/the model file \(3 KB\) did not fit\. The browser did not say how much space/);
    expect(error).toMatchObject({ neededBytes: 2500, usage: null, quota: null });
  });

  it('uses navigator.storage.estimate when no estimate is passed', async () => {
    vi.stubGlobal('navigator', { storage: { estimate: async () => ({ usage: 50e6, quota: 60e6 }) } });
    failChunkAddsFrom(1, () => new DOMException('quota', 'QuotaExceededError'));
    const error = await repo.writeFile(new Blob([bytesOf(20e6)]), { importId: 'imp' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/\(20\.0 MB\) did not fit\. This app already uses 50\.0 MB of the 60\.0 MB .* \(10\.0 MB free\)/);
  });

  it('any other failure deletes the file written so far and passes the error on', async () => {
    const blob = new Blob([bytesOf(5 * KiB)]);
    let reads = 0;
    const slice = blob.slice.bind(blob);
    vi.spyOn(blob, 'slice').mockImplementation((...args) => {
      const part = slice(...args);
      // the 3rd sub-slice read fails, as when a picked file changes on disk
      if (part.size > 0 && args[1]! - args[0]! <= 512 && ++reads === 3) {
        part.arrayBuffer = () => Promise.reject(new DOMException('file changed', 'NotReadableError'));
      }
      return part;
    });
    await expect(repo.writeFile(blob, { importId: 'imp', chunkBytes: KiB, hashSliceBytes: 512 })).rejects.toMatchObject({
      name: 'NotReadableError',
    });
    expect(await chunkCount()).toBe(0);
  });

  it('recognises the quota errors of every browser, and nothing else', () => {
    expect(isQuotaExceeded(new DOMException('x', 'QuotaExceededError'))).toBe(true);
    expect(isQuotaExceeded({ name: 'NS_ERROR_DOM_QUOTA_REACHED' })).toBe(true);
    expect(isQuotaExceeded(new DOMException('Quota exceeded while writing', 'UnknownError'))).toBe(true);
    expect(isQuotaExceeded(new DOMException('not enough space', 'UnknownError'))).toBe(true);
    expect(isQuotaExceeded(new DOMException('internal error', 'UnknownError'))).toBe(false);
    expect(isQuotaExceeded(new DOMException('quota', 'AbortError'))).toBe(false);
    expect(isQuotaExceeded(null)).toBe(false);
  });
});

describe('ModelRepository storage info', () => {
  it('reports usage, quota and persistence, or nulls without navigator.storage', async () => {
    vi.stubGlobal('navigator', undefined);
    expect(await repo.storageInfo()).toEqual({ usage: null, quota: null, persisted: null });
    expect(await repo.storageInfo(async () => ({ usage: 1, quota: 2 }))).toEqual({ usage: 1, quota: 2, persisted: null });

    vi.stubGlobal('navigator', { storage: { estimate: async () => ({ usage: 10, quota: 100 }), persisted: async () => true } });
    expect(await repo.storageInfo()).toEqual({ usage: 10, quota: 100, persisted: true });
  });

  it('asks for persistent storage once', async () => {
    vi.stubGlobal('navigator', undefined);
    expect(await new ModelRepository(Promise.resolve(db)).requestPersistence()).toBeNull();

    const persist = vi.fn(async () => true);
    vi.stubGlobal('navigator', { storage: { persist } });
    expect(await repo.requestPersistence()).toBe(true);
    expect(await repo.requestPersistence()).toBe(true);
    expect(persist).toHaveBeenCalledTimes(1);
  });

  it('formats sizes in decimal units', () => {
    expect(formatBytes(10 * KiB)).toBe('11 KB');
    expect(formatBytes(1_500_000)).toBe('1.5 MB');
    expect(formatBytes(250e6)).toBe('250 MB');
    expect(formatBytes(1.72e9)).toBe('1.7 GB');
  });
});

describe('ModelRepository memory', () => {
  /**
   * V8 collects dead ArrayBuffers lazily (a full GC comes only after tens of MB of external
   * memory were allocated), so the raw numbers include sub-slices already dropped. A forced GC
   * before each sample measures what writeFile really keeps alive; the raw peak is reported too.
   * ArrayBuffers are swept on a background thread after a GC, so that is switched off to make
   * the forced GC's effect visible at once.
   */
  function forcedGc(): () => void {
    v8.setFlagsFromString('--expose-gc');
    v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    return runInNewContext('gc') as () => void;
  }

  it('writes a 200 MB file with 64 MiB chunks keeping memory near one sub-slice', async () => {
    const piece = bytesOf(MiB, 7);
    const pieces = 200;
    const file = new Blob(Array.from({ length: pieces }, () => piece));
    const expected = createHash('sha256');
    for (let i = 0; i < pieces; i++) expected.update(piece);
    const sha = expected.digest('hex');

    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    /** Peak growth over the baseline, sampled at every progress callback. */
    async function measure(beforeSample: () => void) {
      beforeSample();
      const base = used(); // after the Blob exists: its parts are not what writeFile costs
      let peak = 0;
      let last = 0;
      const started = performance.now();
      const stored = await repo.writeFile(file, {
        importId: 'big',
        onProgress: (done) => {
          beforeSample();
          peak = Math.max(peak, used() - base);
          last = done;
        },
      });
      const seconds = (performance.now() - started) / 1000;
      expect(last).toBe(file.size);
      expect(stored).toMatchObject({ bytes: 200 * MiB, sha256: sha });
      expect(await chunkKeysOf(stored.file_id)).toHaveLength(4); // 64 + 64 + 64 + 8 MiB
      expect((await repo.readFile(stored.file_id)).size).toBe(200 * MiB);
      await repo.discardImport('big');
      return { peak, mbPerSecond: file.size / 1e6 / seconds };
    }

    const raw = await measure(() => {});
    const gc = forcedGc();
    const live = await measure(gc);
    console.log(
      `writeFile 200 MiB in 64 MiB chunks, ${HASH_SLICE_BYTES / MiB} MiB sub-slices: ` +
        `peak growth ${(live.peak / MiB).toFixed(1)} MiB live (GC before each sample), ` +
        `${(raw.peak / MiB).toFixed(1)} MiB raw (incl. garbage not yet collected); ` +
        `${raw.mbPerSecond.toFixed(0)} MB/s in Node + fake-indexeddb`,
    );
    // What writeFile keeps alive: about one sub-slice, never a chunk or the file.
    expect(live.peak).toBeLessThan(3 * HASH_SLICE_BYTES);
    // Even counting uncollected garbage, far from holding the file (200 MiB) in memory.
    expect(raw.peak).toBeLessThan(100 * MiB);
  });
});
