import type { JobEvent } from './events';
import type {
  ArtifactSummary,
  BackendPreference,
  Capabilities,
  JobRequest,
  JobResult,
  JobSummary,
  UpscalerModelInfo,
} from './schemas';

/** What the studio worker exposes over comlink (DESIGN.md §3). */
export interface StudioApi {
  /** Must be called once before anything else; picks the backend. */
  init(preference: BackendPreference): Promise<Capabilities>;
  capabilities(): Promise<Capabilities>;

  submit(request: JobRequest & { kind?: 'enhance' }): Promise<{ job_id: string }>;
  cancel(jobId: string): Promise<boolean>;
  /** Every job's events; returns a subscription id for `unsubscribe`. */
  subscribe(listener: (event: JobEvent) => void): Promise<number>;
  unsubscribe(id: number): Promise<void>;
  listJobs(): Promise<JobSummary[]>;
  getJob(jobId: string): Promise<JobSummary | undefined>;

  /** The seed's /enhance: submit and wait. */
  enhance(request: JobRequest, onProgress?: (event: JobEvent) => void): Promise<JobResult>;

  upscalers(): Promise<UpscalerModelInfo[]>;

  artifacts: {
    list(options?: { job_id?: string; limit?: number }): Promise<ArtifactSummary[]>;
    get(id: string): Promise<ArtifactSummary | undefined>;
    getBlob(id: string): Promise<Blob | undefined>;
    delete(id: string): Promise<boolean>;
    clear(): Promise<number>;
  };
}
