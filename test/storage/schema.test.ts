// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; storage runs in the worker, tested on fake-indexeddb.)
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { JobRepository } from '../../src/storage/jobs';
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
  it('uses the app database name and version 4 by default', async () => {
    expect(DB_NAME).toBe('media-lab');
    expect(DB_VERSION).toBe(4);
    const db = await open({});
    expect(db.name).toBe('media-lab');
    expect(db.version).toBe(4);
  });

  it('creates every store and index on a fresh database', async () => {
    const db = await open({ name: freshName() });
    expect([...db.objectStoreNames].sort()).toEqual(['artifact_blobs', 'artifacts', 'job_inputs', 'jobs', 'model_chunks', 'model_graphs', 'models']);

    const tx = db.transaction(['artifacts', 'artifact_blobs', 'jobs', 'job_inputs', 'models', 'model_chunks', 'model_graphs'], 'readonly');
    const graphs = tx.objectStore('model_graphs');
    expect(graphs.keyPath).toEqual(['file_id', 'component', 'compute', 'builder']);
    expect([...graphs.indexNames]).toEqual(['by_file']);
    expect(graphs.index('by_file').keyPath).toBe('file_id');
    const inputs = tx.objectStore('job_inputs');
    expect(inputs.keyPath).toBe('id');
    expect([...inputs.indexNames]).toEqual([]);
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

    const models = tx.objectStore('models');
    expect(models.keyPath).toBe('name');
    expect([...models.indexNames]).toEqual([]);

    const chunks = tx.objectStore('model_chunks');
    expect(chunks.keyPath).toEqual(['file_id', 'index']);
    expect([...chunks.indexNames].sort()).toEqual(['by_file', 'by_import']);
    expect(chunks.index('by_import').keyPath).toBe('import_id');
    expect(chunks.index('by_file').keyPath).toBe('file_id');
    await tx.done;
  });

  it('re-opening an existing current-version database runs no upgrade step and keeps the data', async () => {
    const name = freshName();
    const first = await openStudioDb({ name });
    await first.put('artifact_blobs', { id: 'a', blob: new Blob(['x']) });
    first.close();

    const createStore = vi.spyOn(IDBDatabase.prototype, 'createObjectStore');
    const createIndex = vi.spyOn(IDBObjectStore.prototype, 'createIndex');
    const db = await open({ name });
    expect(createStore).not.toHaveBeenCalled();
    expect(createIndex).not.toHaveBeenCalled();
    expect(db.version).toBe(DB_VERSION);
    expect(await db.count('artifact_blobs')).toBe(1);
  });

  it('upgrades a version 1 database: its rows stay and the later stores are added', async () => {
    // Build a real v1 database with the raw API, exactly as step 1 of the ladder shipped
    // (frozen here on purpose: the test must not follow later edits of schema.ts).
    const name = freshName();
    const v1 = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        const artifacts = db.createObjectStore('artifacts', { keyPath: 'id' });
        artifacts.createIndex('by_job', 'job_id');
        artifacts.createIndex('by_created', 'created_at');
        db.createObjectStore('artifact_blobs', { keyPath: 'id' });
        const jobs = db.createObjectStore('jobs', { keyPath: 'id' });
        jobs.createIndex('by_created', 'created_at');
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const artifact = {
      id: 'art-1',
      job_id: 'job-1',
      stage: 'upscale',
      name: 'job-1/generated_upscaled.png',
      width: 8,
      height: 8,
      bytes: 3,
      mime: 'image/png',
      parameters: {},
      metadata: {},
      created_at: 1000,
    };
    const job = { id: 'job-1', request: { prompt: 'a cat' }, kind: 'enhance', status: 'succeeded', created_at: 900, artifacts: ['art-1'] };
    await new Promise<void>((resolve, reject) => {
      const tx = v1.transaction(['artifacts', 'artifact_blobs', 'jobs'], 'readwrite');
      tx.objectStore('artifacts').put(artifact);
      tx.objectStore('artifact_blobs').put({ id: 'art-1', blob: new Blob(['png']) });
      tx.objectStore('jobs').put(job);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    expect(v1.version).toBe(1);
    v1.close();

    const createStore = vi.spyOn(IDBDatabase.prototype, 'createObjectStore');
    const db = await open({ name });
    expect(db.version).toBe(4);
    // Only steps 2 to 4 ran: step 1's stores were not created again.
    expect(createStore.mock.calls.map((call) => call[0])).toEqual(['models', 'model_chunks', 'job_inputs', 'model_graphs']);
    expect([...db.objectStoreNames].sort()).toEqual(['artifact_blobs', 'artifacts', 'job_inputs', 'jobs', 'model_chunks', 'model_graphs', 'models']);

    // The old rows are all there and still pass the repositories' validation.
    expect(await new ArtifactRepository(Promise.resolve(db)).get('art-1')).toEqual(artifact);
    const blob = await new ArtifactRepository(Promise.resolve(db)).getBlob('art-1');
    expect(await blob!.text()).toBe('png');
    expect(await new JobRepository(Promise.resolve(db)).get('job-1')).toEqual(job);
    expect(await db.count('models')).toBe(0);
    expect(await db.count('model_chunks')).toBe(0);
    // and the new stores with their indexes work
    await db.put('model_chunks', { file_id: 'f', index: 0, import_id: 'i', bytes: 1, blob: new Blob(['x']), created_at: 1 });
    expect(await db.getAllKeysFromIndex('model_chunks', 'by_import', 'i')).toEqual([['f', 0]]);
  });

  it('upgrades a version 2 database: a queued job stays queued and job_inputs is added', async () => {
    // A v2 database as step 2 shipped (frozen on purpose), with a queued job in it.
    const name = freshName();
    const v2 = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 2);
      request.onupgradeneeded = () => {
        const db = request.result;
        const artifacts = db.createObjectStore('artifacts', { keyPath: 'id' });
        artifacts.createIndex('by_job', 'job_id');
        artifacts.createIndex('by_created', 'created_at');
        db.createObjectStore('artifact_blobs', { keyPath: 'id' });
        const jobs = db.createObjectStore('jobs', { keyPath: 'id' });
        jobs.createIndex('by_created', 'created_at');
        db.createObjectStore('models', { keyPath: 'name' });
        const chunks = db.createObjectStore('model_chunks', { keyPath: ['file_id', 'index'] });
        chunks.createIndex('by_import', 'import_id');
        chunks.createIndex('by_file', 'file_id');
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const job = { id: 'job-q', request: { pipeline_config: {}, input_data: {} }, kind: 'generate', status: 'queued', created_at: 5, artifacts: [] };
    await new Promise<void>((resolve, reject) => {
      const tx = v2.transaction('jobs', 'readwrite');
      tx.objectStore('jobs').put(job);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    v2.close();

    const createStore = vi.spyOn(IDBDatabase.prototype, 'createObjectStore');
    const db = await open({ name });
    expect(db.version).toBe(4);
    expect(createStore.mock.calls.map((call) => call[0])).toEqual(['job_inputs', 'model_graphs']);
    const jobs = new JobRepository(Promise.resolve(db));
    expect(await jobs.get('job-q')).toEqual(job);
    // Its whole input was never kept (v2 had nowhere to keep it): taking over marks it interrupted.
    expect(await jobs.recoverAfterRestart(9)).toEqual({ interrupted: ['job-q'], resumable: [] });
    expect(await jobs.get('job-q')).toMatchObject({ status: 'interrupted', finished_at: 9 });
  });

  it('upgrades a version 3 database: its models and chunks stay and model_graphs is added', async () => {
    // A v3 database as step 3 shipped (frozen on purpose), with one stored model in it.
    const name = freshName();
    const v3 = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 3);
      request.onupgradeneeded = () => {
        const db = request.result;
        const artifacts = db.createObjectStore('artifacts', { keyPath: 'id' });
        artifacts.createIndex('by_job', 'job_id');
        artifacts.createIndex('by_created', 'created_at');
        db.createObjectStore('artifact_blobs', { keyPath: 'id' });
        const jobs = db.createObjectStore('jobs', { keyPath: 'id' });
        jobs.createIndex('by_created', 'created_at');
        db.createObjectStore('models', { keyPath: 'name' });
        const chunks = db.createObjectStore('model_chunks', { keyPath: ['file_id', 'index'] });
        chunks.createIndex('by_import', 'import_id');
        chunks.createIndex('by_file', 'file_id');
        db.createObjectStore('job_inputs', { keyPath: 'id' });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const chunk = { file_id: 'f', index: 0, import_id: 'i', bytes: 1, blob: new Blob(['x']), created_at: 1 };
    await new Promise<void>((resolve, reject) => {
      const tx = v3.transaction(['models', 'model_chunks'], 'readwrite');
      tx.objectStore('models').put({ name: 'm', components: [{ file_id: 'f' }] });
      tx.objectStore('model_chunks').put(chunk);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    v3.close();

    const createStore = vi.spyOn(IDBDatabase.prototype, 'createObjectStore');
    const db = await open({ name });
    expect(db.version).toBe(4);
    expect(createStore.mock.calls.map((call) => call[0])).toEqual(['model_graphs']);
    expect(await db.get('models', 'm')).toEqual({ name: 'm', components: [{ file_id: 'f' }] });
    expect(await db.count('model_chunks')).toBe(1);
    expect(await db.count('model_graphs')).toBe(0);
  });

  it('closes itself when another tab asks for a newer version, so that upgrade can proceed', async () => {
    const name = freshName();
    const onBlocking = vi.fn();
    const db = await open({ name, onBlocking });

    const otherBlocked = vi.fn();
    const newer = await rawOpen(name, DB_VERSION + 1, otherBlocked); // would hang if we kept the connection
    expect(onBlocking).toHaveBeenCalledWith(DB_VERSION, DB_VERSION + 1);
    expect(otherBlocked).not.toHaveBeenCalled();
    expect(newer.version).toBe(DB_VERSION + 1);
    // Our connection is closed: using it fails instead of silently talking to a stale schema.
    expect(() => db.transaction('jobs')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    newer.close();
  });

  it('refuses to open a database written by a newer version of the app', async () => {
    const name = freshName();
    (await rawOpen(name, DB_VERSION + 1)).close();
    await expect(openStudioDb({ name })).rejects.toMatchObject({ name: 'VersionError' });
  });
});
