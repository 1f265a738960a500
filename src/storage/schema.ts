/**
 * The one IndexedDB schema of the studio: names, version, record types and the upgrade ladder.
 * This directory is the only place that imports idb.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ModelInfo } from '../protocol/models';
import type { ArtifactBlobRecord, ArtifactRecord, JobInputRecord, JobRecord, ModelChunkRecord, ModelGraphRecord } from './records';

export const DB_NAME = 'media-lab';
/** 1: artifacts, artifact_blobs, jobs. 2: models, model_chunks. 3: job_inputs. 4: model_graphs. */
export const DB_VERSION = 4;

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
  /** The full input of each unfinished job (deleted when it ends). */
  job_inputs: {
    key: string;
    value: JobInputRecord;
  };
  /** The model registry: one small row per usable model, keyed by its user-visible name. */
  models: {
    key: string;
    value: ModelInfo;
  };
  /**
   * Model files, split into Blob chunks of at most 64 MiB. A file is only reachable through a
   * `models` row naming its file_id; chunks no row names are leftovers of an unfinished import.
   */
  model_chunks: {
    key: [string, number];
    value: ModelChunkRecord;
    indexes: { by_import: string; by_file: string };
  };
  /**
   * ONNX graphs the studio built from a stored single-file checkpoint, kept so the next load skips
   * the build. A cache: any row may be missing or dropped; it is rebuilt from the file.
   */
  model_graphs: {
    key: [string, string, string, number];
    value: ModelGraphRecord;
    indexes: { by_file: string };
  };
}

export type StudioDb = IDBPDatabase<StudioDbSchema>;
export type StudioStoreName = 'artifacts' | 'artifact_blobs' | 'jobs' | 'job_inputs' | 'models' | 'model_chunks' | 'model_graphs';

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
      if (oldVersion < 2) {
        db.createObjectStore('models', { keyPath: 'name' });
        // The compound key keeps a file's chunks together and in order, so a key range
        // [file_id, 0]..[file_id, ∞] reads or deletes one whole file.
        const chunks = db.createObjectStore('model_chunks', { keyPath: ['file_id', 'index'] });
        // by_import finds what an unfinished import left behind; by_file lists a file's chunk
        // keys. Both are read with key cursors / getAllKeys, so no chunk blob is loaded.
        chunks.createIndex('by_import', 'import_id');
        chunks.createIndex('by_file', 'file_id');
      }
      if (oldVersion < 3) {
        db.createObjectStore('job_inputs', { keyPath: 'id' });
      }
      if (oldVersion < 4) {
        // One graph per stored file, component, compute type and builder version; by_file finds a
        // file's graphs when its model is removed.
        const graphs = db.createObjectStore('model_graphs', { keyPath: ['file_id', 'component', 'compute', 'builder'] });
        graphs.createIndex('by_file', 'file_id');
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
