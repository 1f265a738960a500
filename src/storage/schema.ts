/**
 * The one IndexedDB schema of the studio: names, version, record types and the upgrade ladder.
 * This directory is the only place that imports idb.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ArtifactBlobRecord, ArtifactRecord, JobRecord } from './records';

export const DB_NAME = 'media-lab';
export const DB_VERSION = 1;

export interface StudioDbSchema extends DBSchema {
  artifacts: {
    key: string;
    value: ArtifactRecord;
    indexes: { by_job: string; by_created: number };
  };
  artifact_blobs: {
    key: string;
    value: ArtifactBlobRecord;
  };
  jobs: {
    key: string;
    value: JobRecord;
    indexes: { by_created: number };
  };
}

export type StudioDb = IDBPDatabase<StudioDbSchema>;
export type StudioStoreName = 'artifacts' | 'artifact_blobs' | 'jobs';

export interface OpenStudioDbOptions {
  /** Database name; tests pass a fresh one each. */
  name?: string;
  /** Another tab holds an older version open, so this open waits until it closes. */
  onBlocked?: (currentVersion: number, blockedVersion: number | null) => void;
  /**
   * Another tab wants a newer version. This connection has already been closed when this is
   * called (so that tab's upgrade can go ahead); the app should ask the user to reload.
   */
  onBlocking?: (currentVersion: number, blockedVersion: number | null) => void;
  /** The browser closed the connection abnormally (e.g. storage cleared by the user). */
  onTerminated?: () => void;
}

export function openStudioDb(options: OpenStudioDbOptions = {}): Promise<StudioDb> {
  const { name = DB_NAME, onBlocked, onBlocking, onTerminated } = options;
  return openDB<StudioDbSchema>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      // Each step takes the database from one version to the next; never edit a step that has
      // shipped, add a new `if (oldVersion < N)` below instead.
      if (oldVersion < 1) {
        const artifacts = db.createObjectStore('artifacts', { keyPath: 'id' });
        artifacts.createIndex('by_job', 'job_id');
        artifacts.createIndex('by_created', 'created_at');
        db.createObjectStore('artifact_blobs', { keyPath: 'id' });
        const jobs = db.createObjectStore('jobs', { keyPath: 'id' });
        jobs.createIndex('by_created', 'created_at');
      }
    },
    blocked(currentVersion, blockedVersion) {
      onBlocked?.(currentVersion, blockedVersion);
    },
    blocking(currentVersion, blockedVersion, event) {
      // Holding on would stall the other tab's upgrade forever; the event target is this connection.
      (event.target as IDBDatabase).close();
      onBlocking?.(currentVersion, blockedVersion);
    },
    terminated() {
      onTerminated?.();
    },
  });
}
