/**
 * Ports: the only way models and storage reach the pipeline. Implementations live in
 * workers/ort (onnxruntime-web) and the worker's storage glue; tests pass their own.
 */
import type { Tensor } from './tensor';
import type { RgbaImage } from './image/rgba';

/** A super-resolution model: NCHW `[1, 3, h, w]` in → `[1, 3, h·scale, w·scale]` out. */
export interface UpscalerPort {
  /** Integer scale factor the model applies. */
  readonly scale: number;
  /** Value range of input and output pixels, e.g. [0, 255] or [0, 1]. */
  readonly valueRange: readonly [number, number];
  /** Largest tile edge (input pixels) the device can run in one go. */
  readonly maxTileSize: number;
  /** Pixels of context each side a tile needs so its centre matches a whole-image run. */
  readonly receptiveRadius: number;
  /** Short name for metadata, e.g. `esrgan-slim-x4`. */
  readonly id: string;
  /** Backend that runs it (`wasm`, `webgpu`, `node`), for metadata. */
  readonly backend: string;
  run(input: Tensor): Promise<Tensor>;
}

export interface UpscalerProvider {
  /** Load (or reuse) an upscaler by model name and factor; throws a clear error if unknown. */
  load(model: string | undefined, factor: number): Promise<UpscalerPort>;
  /** Model names known for a factor, for validation messages. */
  available(): Promise<Array<{ name: string; scale: number }>>;
}

export interface ArtifactSink {
  /** Store an image under `name` (e.g. `<job>/generated_upscaled.png`); returns the artifact id. */
  save(name: string, image: RgbaImage, metadata: Record<string, unknown>): Promise<string>;
}

export interface ProgressEvent {
  stage: string;
  step: number;
  total: number;
  message?: string;
  preview?: RgbaImage;
}

/** What stages get from whoever runs the pipeline: models, storage, progress, cancellation. */
export interface StageServices {
  artifacts: ArtifactSink;
  upscalers?: UpscalerProvider;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Monotonic clock in milliseconds (performance.now in browsers). */
  now?: () => number;
}
