import type { JobKind, JobResult } from './schemas';

/** RGBA pixels, row-major, 4 bytes per pixel. */
export interface PreviewImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Events the worker sends to every subscriber, for every job. */
export type JobEvent =
  | { type: 'queued'; job_id: string; kind: JobKind; position: number }
  | { type: 'started'; job_id: string; backend: string }
  | {
      type: 'progress';
      job_id: string;
      stage: string;
      step: number;
      total: number;
      elapsed_ms: number;
      eta_ms?: number;
      /** Every few denoising steps: the latents seen as a small RGBA image (1/8 of the size). */
      preview?: PreviewImage;
    }
  /** What a running job is doing between steps, e.g. "Building the UNet from the checkpoint…". */
  | { type: 'status'; job_id: string; message: string }
  | { type: 'artifact'; job_id: string; artifact_id: string; name: string }
  | { type: 'finished'; job_id: string; result: JobResult }
  | { type: 'failed'; job_id: string; error: string; result?: JobResult }
  | { type: 'cancelled'; job_id: string }
  /** Found at start by the tab taking over the queue: the tab that ran it closed. */
  | { type: 'interrupted'; job_id: string; error: string };

export type JobEventListener = (event: JobEvent) => void;
