import { z } from 'zod';

/** Job kinds the worker runs; `generate` arrives with the text-to-image issue. */
export const JobKind = z.enum(['enhance', 'generate']);
export type JobKind = z.infer<typeof JobKind>;

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
  pipeline_config: z.unknown(),
  input_data: z.record(z.string(), z.unknown()).default({}),
});
export type JobRequest = z.input<typeof JobRequest>;

export const JobResult = z.object({
  job_id: z.string(),
  success: z.boolean(),
  data: z.record(z.string(), z.unknown()),
  artifacts: z.array(z.string()),
  metadata: z.record(z.string(), z.record(z.string(), z.unknown())),
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
  metadata: Record<string, unknown>;
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
