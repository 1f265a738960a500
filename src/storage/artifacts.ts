/** Generated and enhanced images: metadata rows in `artifacts`, PNG bytes in `artifact_blobs`. */
import { runWrite } from './errors';
import {
  ArtifactBlobRecordSchema,
  ArtifactRecordSchema,
  parseFetchedRow,
  parseListedRow,
  parseNewRecord,
  type ArtifactRecord,
} from './records';
import type { StudioDb } from './schema';

/**
 * What a caller supplies. The id is generated, created_at defaults to now, and `bytes` is always
 * taken from the blob (a value passed in is overwritten, so the record cannot disagree with it).
 */
export type NewArtifact = Omit<ArtifactRecord, 'id' | 'created_at' | 'bytes' | 'mime'> &
  Partial<Pick<ArtifactRecord, 'created_at' | 'bytes' | 'mime'>>;

export interface ArtifactListOptions {
  job_id?: string;
  limit?: number;
}

export class ArtifactRepository {
  constructor(private readonly db: Promise<StudioDb>) {}

  /** Stores the record and its PNG in one transaction: both are written or neither is. */
  async save(artifact: NewArtifact, blob: Blob): Promise<string> {
    const id = crypto.randomUUID();
    const record = parseNewRecord(ArtifactRecordSchema, 'artifact', {
      ...artifact,
      id,
      created_at: artifact.created_at ?? Date.now(),
      bytes: blob.size,
      mime: 'image/png',
    });
    const tx = (await this.db).transaction(['artifacts', 'artifact_blobs'], 'readwrite');
    await runWrite(tx, async () => {
      await tx.objectStore('artifacts').put(record);
      await tx.objectStore('artifact_blobs').put({ id, blob });
    });
    return id;
  }

  /** Newest first. Reads only the `artifacts` store: listing a large gallery never loads a blob. */
  async list(options: ArtifactListOptions = {}): Promise<ArtifactRecord[]> {
    const { job_id, limit = Infinity } = options;
    const store = (await this.db).transaction('artifacts', 'readonly').store;
    const out: ArtifactRecord[] = [];
    if (job_id !== undefined) {
      for (const row of await store.index('by_job').getAll(job_id)) {
        const record = parseListedRow(ArtifactRecordSchema, 'artifact', row);
        if (record) out.push(record);
      }
      // Same order as the by_created cursor below: time, then id, both descending.
      out.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      return out.slice(0, limit);
    }
    let cursor = await store.index('by_created').openCursor(null, 'prev');
    while (cursor && out.length < limit) {
      const record = parseListedRow(ArtifactRecordSchema, 'artifact', cursor.value);
      if (record) out.push(record);
      cursor = await cursor.continue();
    }
    return out;
  }

  async get(id: string): Promise<ArtifactRecord | undefined> {
    const row = await (await this.db).transaction('artifacts', 'readonly').store.get(id);
    return row === undefined ? undefined : parseFetchedRow(ArtifactRecordSchema, 'artifact', row);
  }

  async getBlob(id: string): Promise<Blob | undefined> {
    const row = await (await this.db).transaction('artifact_blobs', 'readonly').store.get(id);
    return row === undefined ? undefined : parseFetchedRow(ArtifactBlobRecordSchema, 'artifact blob', row).blob;
  }

  /** Removes the record and its blob together. Returns whether there was such an artifact. */
  async delete(id: string): Promise<boolean> {
    const tx = (await this.db).transaction(['artifacts', 'artifact_blobs'], 'readwrite');
    return runWrite(tx, async () => {
      const existed = (await tx.objectStore('artifacts').getKey(id)) !== undefined;
      await tx.objectStore('artifacts').delete(id);
      await tx.objectStore('artifact_blobs').delete(id);
      return existed;
    });
  }

  /** Empties the gallery. Returns how many artifacts there were. */
  async clear(): Promise<number> {
    const tx = (await this.db).transaction(['artifacts', 'artifact_blobs'], 'readwrite');
    return runWrite(tx, async () => {
      const count = await tx.objectStore('artifacts').count();
      await tx.objectStore('artifacts').clear();
      await tx.objectStore('artifact_blobs').clear();
      return count;
    });
  }

  async count(): Promise<number> {
    return (await this.db).transaction('artifacts', 'readonly').store.count();
  }
}
