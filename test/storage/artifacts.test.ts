// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; storage runs in the worker, tested on fake-indexeddb.)
import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArtifactRepository, type NewArtifact } from '../../src/storage/artifacts';
import { CorruptRecordError, runWrite, StorageFullError } from '../../src/storage/errors';
import { openStudioDb, type StudioDb } from '../../src/storage/schema';

let db: StudioDb;
let repo: ArtifactRepository;

beforeEach(async () => {
  db = await openStudioDb({ name: `artifacts-test-${crypto.randomUUID()}` });
  repo = new ArtifactRepository(Promise.resolve(db));
});

afterEach(() => {
  db.close();
  vi.restoreAllMocks();
});

function artifact(overrides: Partial<NewArtifact> = {}): NewArtifact {
  return {
    job_id: 'job-1',
    stage: 'upscale',
    name: 'job-1/generated_upscaled.png',
    width: 64,
    height: 32,
    parameters: { scale: 2 },
    metadata: { model: 'esrgan-slim' },
    ...overrides,
  };
}

const png = (...bytes: number[]) => new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, ...bytes])], { type: 'image/png' });

/** Counts rows straight from the stores, bypassing the repository. */
async function rowCounts() {
  return { records: await db.count('artifacts'), blobs: await db.count('artifact_blobs') };
}

/** Make IDBObjectStore.put throw `error` for one store, leaving the others working. */
function failPutsTo(storeName: string, error: () => Error) {
  const put = IDBObjectStore.prototype.put;
  return vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args) {
    if (this.name === storeName) throw error();
    return put.apply(this, args);
  });
}

describe('ArtifactRepository', () => {
  it('saves a record and its blob, and reads both back', async () => {
    const blob = png(1, 2, 3);
    const before = Date.now();
    const id = await repo.save(artifact(), blob);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const record = await repo.get(id);
    expect(record).toMatchObject({ ...artifact(), id, bytes: 7, mime: 'image/png' });
    expect(record!.created_at).toBeGreaterThanOrEqual(before);

    // fake-indexeddb stores the Blob by structured clone, as browsers do
    const back = await repo.getBlob(id);
    expect(back).toBeInstanceOf(Blob);
    expect(back!.type).toBe('image/png');
    expect(new Uint8Array(await back!.arrayBuffer())).toEqual(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  });

  it('takes bytes from the blob even if the caller passes another value', async () => {
    const id = await repo.save(artifact({ bytes: 999 }), png());
    expect((await repo.get(id))!.bytes).toBe(4);
  });

  it('returns undefined for unknown ids', async () => {
    expect(await repo.get('nope')).toBeUndefined();
    expect(await repo.getBlob('nope')).toBeUndefined();
  });

  it('lists newest first, with limit and job filter', async () => {
    const a = await repo.save(artifact({ created_at: 1000 }), png());
    const b = await repo.save(artifact({ created_at: 3000, job_id: 'job-2' }), png());
    const c = await repo.save(artifact({ created_at: 2000 }), png());
    const d = await repo.save(artifact({ created_at: 4000 }), png());

    expect((await repo.list()).map((r) => r.id)).toEqual([d, b, c, a]);
    expect((await repo.list({ limit: 2 })).map((r) => r.id)).toEqual([d, b]);
    expect((await repo.list({ job_id: 'job-1' })).map((r) => r.id)).toEqual([d, c, a]);
    expect((await repo.list({ job_id: 'job-1', limit: 1 })).map((r) => r.id)).toEqual([d]);
    expect(await repo.list({ job_id: 'no-such-job' })).toEqual([]);
    expect(await repo.count()).toBe(4);
  });

  it('list, get and count never open a transaction on artifact_blobs', async () => {
    await repo.save(artifact({ created_at: 1 }), png());
    const id = await repo.save(artifact({ created_at: 2 }), png());

    // Hand the repository a database whose transaction() records which stores it asked for.
    const scopes: string[][] = [];
    const spied = new Proxy(db, {
      get(target, prop) {
        if (prop === 'transaction') {
          return (stores: string | string[], ...rest: unknown[]) => {
            scopes.push(([] as string[]).concat(stores));
            return (target.transaction as (...a: unknown[]) => unknown)(stores, ...rest);
          };
        }
        return Reflect.get(target, prop, target);
      },
    });
    const watched = new ArtifactRepository(Promise.resolve(spied));

    expect(await watched.list()).toHaveLength(2);
    expect(await watched.list({ job_id: 'job-1', limit: 1 })).toHaveLength(1);
    expect(await watched.get(id)).toBeDefined();
    expect(await watched.count()).toBe(2);
    expect(scopes).toHaveLength(4);
    expect(scopes.flat()).not.toContain('artifact_blobs');

    // The spy does see blob access, so the assertion above is meaningful.
    await watched.getBlob(id);
    expect(scopes.at(-1)).toEqual(['artifact_blobs']);
  });

  it('delete removes record and blob together and says whether there was one', async () => {
    const keep = await repo.save(artifact(), png());
    const gone = await repo.save(artifact(), png());
    expect(await repo.delete(gone)).toBe(true);
    expect(await repo.get(gone)).toBeUndefined();
    expect(await repo.getBlob(gone)).toBeUndefined();
    expect(await repo.delete(gone)).toBe(false);
    expect(await rowCounts()).toEqual({ records: 1, blobs: 1 });
    expect(await repo.getBlob(keep)).toBeInstanceOf(Blob);
  });

  it('clear empties both stores and returns how many artifacts there were', async () => {
    await repo.save(artifact(), png());
    await repo.save(artifact(), png());
    expect(await repo.clear()).toBe(2);
    expect(await rowCounts()).toEqual({ records: 0, blobs: 0 });
    expect(await repo.clear()).toBe(0);
  });

  it('refuses an invalid record before writing anything', async () => {
    await expect(repo.save(artifact({ width: 0 }), png())).rejects.toThrow(/invalid artifact record: width/);
    expect(await rowCounts()).toEqual({ records: 0, blobs: 0 });
  });

  it('a save that fails on the blob leaves neither the record nor the blob', async () => {
    failPutsTo('artifact_blobs', () => new TypeError('simulated failure'));
    await expect(repo.save(artifact(), png())).rejects.toThrow('simulated failure');
    vi.restoreAllMocks();
    expect(await rowCounts()).toEqual({ records: 0, blobs: 0 });
    expect(await repo.list()).toEqual([]);
  });

  it('a full disk becomes StorageFullError, with nothing half-written', async () => {
    await repo.save(artifact({ created_at: 1 }), png()); // existing data must survive
    failPutsTo('artifact_blobs', () => new DOMException('The quota has been exceeded.', 'QuotaExceededError'));

    const error = await repo.save(artifact({ created_at: 2 }), png()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageFullError);
    expect((error as Error).message).toMatch(/^the browser's storage for this app is full, so nothing was saved/);
    expect((error as Error).message).toMatch(/deleting images from the gallery or models/);
    expect((error as Error).cause).toMatchObject({ name: 'QuotaExceededError' });

    vi.restoreAllMocks();
    expect(await rowCounts()).toEqual({ records: 1, blobs: 1 });
    // and the database is still usable afterwards
    await repo.save(artifact({ created_at: 3 }), png());
    expect(await rowCounts()).toEqual({ records: 2, blobs: 2 });
  });

  it('a quota failure reported when the transaction commits also becomes StorageFullError', async () => {
    // Browsers usually report quota at commit: every request succeeded, then the transaction aborts.
    const abort = vi.fn();
    const done = Promise.reject(new DOMException('quota', 'QuotaExceededError'));
    done.catch(() => {});
    await expect(runWrite({ abort, done }, async () => 'written')).rejects.toBeInstanceOf(StorageFullError);
    expect(abort).toHaveBeenCalled();
  });

  it('a request that fails with AbortError because the transaction hit the quota is StorageFullError too', async () => {
    const done = Promise.reject(new DOMException('quota', 'QuotaExceededError'));
    done.catch(() => {});
    const body = async () => {
      throw new DOMException('aborted', 'AbortError');
    };
    await expect(runWrite({ abort: () => {}, done }, body)).rejects.toBeInstanceOf(StorageFullError);
    // any other failure passes through unchanged
    const ok = Promise.reject(new DOMException('aborted', 'AbortError'));
    ok.catch(() => {});
    await expect(runWrite({ abort: () => {}, done: ok }, body)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('skips a damaged row in listings with a warning; get of that row throws a clear error', async () => {
    const good = await repo.save(artifact({ created_at: 1 }), png());
    await db.put('artifacts', { ...(await repo.get(good))!, id: 'bad', created_at: 2, width: 'wide' as unknown as number });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    expect((await repo.list()).map((r) => r.id)).toEqual([good]);
    expect((await repo.list({ job_id: 'job-1' })).map((r) => r.id)).toEqual([good]);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/skipping damaged artifact record "bad": width/));

    const error = await repo.get('bad').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as Error).message).toMatch(/the stored artifact record "bad" is damaged and cannot be read \(width:/);
  });

  it('getBlob throws a clear error when the blob row is damaged', async () => {
    await db.put('artifact_blobs', { id: 'x', blob: 'not a blob' as unknown as Blob });
    await expect(repo.getBlob('x')).rejects.toBeInstanceOf(CorruptRecordError);
  });
});
