import type { JobEvent } from './events';
import type {
  ImportOutcome,
  ImportProgress,
  ImportSelection,
  ModelInfo,
  ModelPatchInput,
  ModelType,
  ScanReport,
  StorageSummary,
} from './models';
import type {
  ArtifactSummary,
  BackendPreference,
  Capabilities,
  JobRequest,
  JobResult,
  JobSummary,
  UpscalerModelInfo,
} from './schemas';
import type { DetailerTarget } from './pipeline-config';

/** A face or hand the detailer would redraw, as Enhance's Find shows it. */
export interface FoundRegion {
  target: DetailerTarget;
  /** The detector's own class name (`face`, `hand`, or a YOLO model's). */
  class: string;
  score: number;
  /** `[x0, y0, x1, y1]` in the image's pixels, as the detector decodes it. */
  box: [number, number, number, number];
  /** hands: the palm box enlarged to the whole hand, what the detailer redraws */
  mask_box?: [number, number, number, number];
  /** The detector that found it (a models.json or registry name). */
  detector: string;
}

export interface DetectOutcome {
  width: number;
  height: number;
  /** Largest first; only those the detailer would redraw (at least LIMITS.region_side.min px a side). */
  regions: FoundRegion[];
  /** Every detector that ran. */
  detectors: string[];
  /** Time spent detecting (opening a detector the first time included; decoding the image not). */
  ms: number;
}

/** What the studio worker exposes over comlink (DESIGN.md §3). */
export interface StudioApi {
  /** Must be called once before anything else; picks the backend. */
  init(preference: BackendPreference): Promise<Capabilities>;
  capabilities(): Promise<Capabilities>;

  submit(request: JobRequest & { kind?: 'enhance' | 'generate'; job_id?: string }): Promise<{ job_id: string }>;
  cancel(jobId: string): Promise<boolean>;
  /** Every job's events; returns a subscription id for `unsubscribe`. */
  subscribe(listener: (event: JobEvent) => void): Promise<number>;
  unsubscribe(id: number): Promise<void>;
  listJobs(): Promise<JobSummary[]>;
  /** 'owner': this tab runs the jobs; 'watcher': another tab of the studio does, this one follows. */
  queueRole(): Promise<'owner' | 'watcher'>;
  getJob(jobId: string): Promise<JobSummary | undefined>;

  /** The seed's /generate: submit and wait (a text_to_image pipeline; a seed is drawn if absent). */
  generate(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult>;
  /** The seed's /enhance: submit and wait. */
  enhance(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult>;

  upscalers(): Promise<UpscalerModelInfo[]>;

  /** Finds faces and/or hands in an image, nothing else (Enhance's Find): boxes in the image's pixels. */
  detect(image: { name: string; type: string; bytes: ArrayBuffer }, options: { targets: DetailerTarget[]; confidence: number }): Promise<DetectOutcome>;

  /** The model registry (the seed's ModelRegistry, for files the user picks or drops). */
  models: {
    /**
     * Looks at picked files (with their paths relative to what was picked) and proposes models;
     * reads headers only. The files stay in the worker under `scan_id` for `import`.
     */
    scan(files: Array<{ path: string; file: File }>): Promise<ScanReport>;
    /** Imports chosen models of a scan: streams them into storage, then verifies each in the runtime. */
    import(scanId: string, selections: ImportSelection[], onProgress?: (p: ImportProgress) => void): Promise<ImportOutcome[]>;
    /**
     * The seed's register_model: the picked files of ONE model, declared as `type` (a file whose
     * content says otherwise is refused, saying what it is); stored, then verified.
     */
    register(
      files: Array<{ path: string; file: File }>,
      type: ModelType,
      options?: { name?: string; description?: string; tags?: string[] },
      onProgress?: (p: ImportProgress) => void,
    ): Promise<ImportOutcome>;
    /** Stops an import; what it stored so far is deleted. */
    cancelImport(importId: string): Promise<boolean>;
    list(type?: ModelType): Promise<ModelInfo[]>;
    get(name: string): Promise<ModelInfo | undefined>;
    /** The model's path in the user's folder, or null. */
    path(name: string): Promise<string | null>;
    count(type?: ModelType): Promise<number>;
    exists(name: string): Promise<boolean>;
    remove(name: string): Promise<boolean>;
    clear(): Promise<number>;
    rename(from: string, to: string): Promise<ModelInfo>;
    update(name: string, patch: ModelPatchInput): Promise<ModelInfo>;
    storage(): Promise<StorageSummary>;
  };

  artifacts: {
    list(options?: { job_id?: string; limit?: number }): Promise<ArtifactSummary[]>;
    get(id: string): Promise<ArtifactSummary | undefined>;
    getBlob(id: string): Promise<Blob | undefined>;
    delete(id: string): Promise<boolean>;
    clear(): Promise<number>;
  };
}
