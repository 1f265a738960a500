/** Shared state passed through the stages of one job (the seed's PipelineContext). */
export class PipelineContext {
  /** Intermediate results: inputs, the current `image`, each stage's outputs. */
  data: Record<string, unknown>;
  /** Artifact ids, in the order stages saved them. */
  artifacts: string[] = [];
  /** Metadata per stage, keyed by the stage's name (or stage_type, `_2` for a repeat). */
  metadata: Record<string, Record<string, unknown>> = {};
  /** Set when a stage failed; the pipeline stops there. */
  error: string | null = null;

  constructor(data: Record<string, unknown> = {}) {
    this.data = { ...data };
  }

  get<T = unknown>(key: string, defaultValue?: T): T | undefined {
    return key in this.data ? (this.data[key] as T) : defaultValue;
  }

  set(key: string, value: unknown): void {
    this.data[key] = value;
  }

  has(key: string): boolean {
    return key in this.data && this.data[key] !== undefined;
  }

  addArtifact(id: string): void {
    this.artifacts.push(id);
  }

  setError(message: string): void {
    this.error = message;
  }

  setMetadata(key: string, value: Record<string, unknown>): void {
    this.metadata[key] = value;
  }
}
