import { z } from 'zod';
import type { PipelineConfigInput } from './pipeline-config';
import type { ArtifactMetadata, StageMetadata } from './stage-results';

/** Job kinds the worker runs; `generate` arrives with the text-to-image issue. */
export const JobKind = z.enum(['enhance', 'generate']);
export type JobKind = z.infer<typeof JobKind>;

/** A job's id: chosen by the caller (so it can listen for the job's events before submitting) or by the worker. */
export const JobId = z
  .string({ error: 'job_id must be text' })
  .regex(/^[A-Za-z0-9_-]{1,100}$/, "job_id must be 1 to 100 letters, digits, '-' or '_'");

export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted']);
export type JobStatus = z.infer<typeof JobStatus>;

/** An image file handed to the worker: raw bytes (transferred), decoded there. */
export const ImageFileInput = z.object({
  name: z.string(),
  type: z.string(),
  bytes: z.instanceof(ArrayBuffer),
});
export type ImageFileInput = z.infer<typeof ImageFileInput>;

/**
 * The seed's request: `{pipeline_config, input_data}`. For enhance jobs `input_data` carries the
 * image as `image_file` (bytes) or `image_artifact` (an artifact id from the gallery).
 */
export const JobRequest = z.object({
  /**
   * Checked as a whole by the Workbench when the job runs, so a bad config becomes a failed job
   * that names what is wrong (and is recorded) rather than a refused call; typed for callers.
   */
  pipeline_config: z.custom<PipelineConfigInput>(),
  input_data: z.record(z.string(), z.unknown()).default({}),
});
export type JobRequest = z.input<typeof JobRequest>;

export const JobResult = z.object({
  job_id: z.string(),
  success: z.boolean(),
  data: z.record(z.string(), z.unknown()),
  artifacts: z.array(z.string()),
  /** Per stage name (`_2` for a repeat), what the stage reported. */
  metadata: z.record(z.string(), z.custom<StageMetadata>()),
  error: z.string().nullable(),
});
export type JobResult = z.infer<typeof JobResult>;

export interface JobSummary {
  id: string;
  kind: JobKind;
  status: JobStatus;
  created_at: number;
  started_at?: number;
  finished_at?: number;
  error?: string | null;
  artifacts: string[];
  /** The stage pipeline without binary inputs, for display and re-running. */
  request: unknown;
  timings?: Record<string, number>;
  metadata?: Record<string, unknown>;
}

export interface ArtifactSummary {
  id: string;
  job_id: string;
  stage: string;
  name: string;
  width: number;
  height: number;
  bytes: number;
  mime: string;
  parameters: Record<string, unknown>;
  /** Undefined when the stored record is not one a stage of this build can read (see readArtifactMetadata). */
  metadata: ArtifactMetadata | undefined;
  created_at: number;
}

export type Backend = 'webgpu' | 'wasm';

export interface Capabilities {
  backend: Backend;
  /** Why this backend: forced by URL or setting, no adapter, software adapter, ... */
  reason: string;
  webgpu: {
    available: boolean;
    fallbackAdapter: boolean;
    vendor?: string;
    architecture?: string;
    description?: string;
    shaderF16: boolean;
    maxBufferSize?: number;
    maxStorageBufferBindingSize?: number;
  };
  threads: number;
  crossOriginIsolated: boolean;
  ortVersion: string;
}

export interface BackendPreference {
  /** `auto` picks WebGPU on a hardware adapter, else WASM. */
  backend: 'auto' | Backend;
  /** Where the preference came from, for the reason text. */
  source: 'url' | 'setting' | 'default';
}

export interface UpscalerModelInfo {
  name: string;
  scale: number;
  bundled: boolean;
}
