// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; storage runs in the worker, tested on fake-indexeddb.)
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DB_NAME, DB_VERSION, openStudioDb, type StudioDb } from '../../src/storage/schema';

const freshName = () => `schema-test-${crypto.randomUUID()}`;
const opened: StudioDb[] = [];

async function open(options: Parameters<typeof openStudioDb>[0]): Promise<StudioDb> {
  const db = await openStudioDb(options);
  opened.push(db);
  return db;
}

/** Open with the raw API at some version, resolving on success (or rejecting on error). */
function rawOpen(name: string, version: number, onBlocked?: () => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => onBlocked?.();
  });
}

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  vi.restoreAllMocks();
});

describe('openStudioDb', () => {
  it('uses the app database name and version 1 by default', async () => {
    expect(DB_NAME).toBe('media-lab');
    expect(DB_VERSION).toBe(1);
    const db = await open({});
    expect(db.name).toBe('media-lab');
    expect(db.version).toBe(1);
  });

  it('creates every store and index on a fresh database', async () => {
    const db = await open({ name: freshName() });
    expect([...db.objectStoreNames].sort()).toEqual(['artifact_blobs', 'artifacts', 'jobs']);

    const tx = db.transaction(['artifacts', 'artifact_blobs', 'jobs'], 'readonly');
    const artifacts = tx.objectStore('artifacts');
    expect(artifacts.keyPath).toBe('id');
    expect([...artifacts.indexNames].sort()).toEqual(['by_created', 'by_job']);
    expect(artifacts.index('by_job').keyPath).toBe('job_id');
    expect(artifacts.index('by_created').keyPath).toBe('created_at');

    const blobs = tx.objectStore('artifact_blobs');
    expect(blobs.keyPath).toBe('id');
    expect([...blobs.indexNames]).toEqual([]);

    const jobs = tx.objectStore('jobs');
    expect(jobs.keyPath).toBe('id');
    expect([...jobs.indexNames]).toEqual(['by_created']);
    expect(jobs.index('by_created').keyPath).toBe('created_at');
    await tx.done;
  });

  it('re-opening an existing v1 database runs no upgrade step and keeps the data', async () => {
    const name = freshName();
    const first = await openStudioDb({ name });
    await first.put('artifact_blobs', { id: 'a', blob: new Blob(['x']) });
    first.close();

    const createStore = vi.spyOn(IDBDatabase.prototype, 'createObjectStore');
    const createIndex = vi.spyOn(IDBObjectStore.prototype, 'createIndex');
    const db = await open({ name });
    expect(createStore).not.toHaveBeenCalled();
    expect(createIndex).not.toHaveBeenCalled();
    expect(db.version).toBe(1);
    expect(await db.count('artifact_blobs')).toBe(1);
  });

  it('closes itself when another tab asks for a newer version, so that upgrade can proceed', async () => {
    const name = freshName();
    const onBlocking = vi.fn();
    const db = await open({ name, onBlocking });

    const otherBlocked = vi.fn();
    const newer = await rawOpen(name, 2, otherBlocked); // would hang if we kept the connection
    expect(onBlocking).toHaveBeenCalledWith(1, 2);
    expect(otherBlocked).not.toHaveBeenCalled();
    expect(newer.version).toBe(2);
    // Our connection is closed: using it fails instead of silently talking to a stale schema.
    expect(() => db.transaction('jobs')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    newer.close();
  });

  it('refuses to open a database written by a newer version of the app', async () => {
    const name = freshName();
    (await rawOpen(name, 2)).close();
    await expect(openStudioDb({ name })).rejects.toMatchObject({ name: 'VersionError' });
  });
});
