// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; storage runs in the worker, tested on fake-indexeddb.)
/** The cache of graphs built from single-file checkpoints: a miss for anything it cannot vouch for. */
import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelGraphCache, type GraphKey } from '../../src/storage/model-graphs';
import { ModelRepository } from '../../src/storage/models';
import { openStudioDb, type StudioDb } from '../../src/storage/schema';

let db: StudioDb;
let cache: ModelGraphCache;
let repo: ModelRepository;

beforeEach(async () => {
  db = await openStudioDb({ name: `graphs-test-${crypto.randomUUID()}` });
  cache = new ModelGraphCache(Promise.resolve(db));
  repo = new ModelRepository(Promise.resolve(db));
});
afterEach(() => db.close());

const key = (fileId: string, component = 'unet', builder = 1): GraphKey => ({ fileId, component, compute: 'float32', weights: 'checkpoint', builder });
const graph = new Uint8Array([8, 1, 18, 4, 116, 101, 115, 116]);

describe('ModelGraphCache', () => {
  it('gives back what was put, by file, component, compute type and builder version', async () => {
    await cache.put(key('f'), graph, 12);
    expect(await cache.get(key('f'))).toEqual(graph);
    expect(await cache.get(key('f', 'vae_decoder'))).toBeUndefined();
    expect(await cache.get({ ...key('f'), compute: 'float16' })).toBeUndefined();
    // A graph over float16 copies lays its weights out otherwise than one over the file's own.
    expect(await cache.get({ ...key('f'), weights: 'float16' })).toBeUndefined();
    await cache.put({ ...key('f'), weights: 'float16' }, graph.slice(0, 6), 3);
    expect(await cache.get({ ...key('f'), weights: 'float16' })).toEqual(graph.slice(0, 6));
    expect(await cache.get(key('f'))).toEqual(graph);
    // A newer builder never reads an older one's graph.
    expect(await cache.get(key('f', 'unet', 2))).toBeUndefined();
    expect((await db.get('model_graphs', ['f', 'unet', 'float32', 1]))?.build_ms).toBe(12);
  });

  it('a row whose bytes no longer match its hash, or that is not a graph row, reads as absent and is dropped', async () => {
    await cache.put(key('f'), graph, 1);
    const row = (await db.get('model_graphs', ['f', 'unet', 'float32', 1]))!;
    await db.put('model_graphs', { ...row, blob: new Blob([new Uint8Array(graph.byteLength)]) });
    expect(await cache.get(key('f'))).toBeUndefined();
    expect(await cache.count('f')).toBe(0);

    await db.put('model_graphs', { file_id: 'f', component: 'unet', compute: 'float32', builder: 1 } as never);
    expect(await cache.get(key('f'))).toBeUndefined();
    expect(await cache.count('f')).toBe(0);
  });

  it("start-up cleanup drops graphs whose checkpoint file no model names; a named file's stay", async () => {
    const stored = await repo.writeFile(new Blob([graph]), { importId: 'i' });
    await repo.commitModel({
      name: 'kept',
      model_type: 'checkpoint',
      file_path: 'kept.safetensors',
      file_size_bytes: stored.bytes,
      discovered_at: '2026-12-03T00:00:00.000Z',
      status: 'verified',
      components: [{ path: 'kept.safetensors', role: 'checkpoint_weights', bytes: stored.bytes, sha256: stored.sha256, file_id: stored.file_id }],
      source: { format: 'ldm-safetensors', built: ['unet'] },
    });
    await cache.put(key(stored.file_id), graph, 1);
    await cache.put(key('gone'), graph, 1);
    await cache.put(key('gone', 'text_encoder'), graph, 1);
    await repo.deleteOrphanChunks();
    expect(await cache.count('gone')).toBe(0);
    expect(await cache.get(key(stored.file_id))).toEqual(graph);
    // Removing the model takes its graphs with it.
    await repo.removeModel('kept');
    expect(await cache.count(stored.file_id)).toBe(0);
  });
});
