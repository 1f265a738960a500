/**
 * onnxruntime-web implementation of the pipeline's UpscalerProvider: bundled ESRGAN models from
 * models.json, one session per model reused across jobs, integrity-checked by sha256.
 */
import type { UpscalerPort, UpscalerProvider } from '../../src/pipeline/ports';
import type { Tensor } from '../../src/pipeline/tensor';
import type { Backend } from '../../src/protocol/schemas';
import { BundledManifest, sha256Hex, type BundledModel } from '../../src/registry/bundled';
import { maxTileSize, type DeviceLimits } from './tile-size';
import type { Ort, OrtSession } from './types';

export interface OrtUpscalerOptions {
  ort: Ort;
  backend: Backend;
  limits?: DeviceLimits;
  /** Reads a file next to models.json (fetch in browsers, fs in Node). */
  readModelFile(file: string): Promise<Uint8Array>;
}

export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
}

export class OrtUpscalerProvider implements UpscalerProvider {
  private manifest: Promise<BundledModel[]> | null = null;
  private sessions = new Map<string, Promise<OrtSession>>();

  constructor(private readonly options: OrtUpscalerOptions) {}

  models(): Promise<BundledModel[]> {
    this.manifest ??= this.options.readModelFile('models.json').then((bytes) => {
      const parsed = BundledManifest.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
      if (!parsed.success) throw new Error(`models.json is malformed: ${parsed.error.message}`);
      return parsed.data.models;
    });
    return this.manifest;
  }

  async available(): Promise<Array<{ name: string; scale: number }>> {
    return (await this.models()).map((m) => ({ name: m.name, scale: m.scale }));
  }

  async load(name: string | undefined, factor: number): Promise<UpscalerPort> {
    const models = await this.models();
    const model = name ? models.find((m) => m.name === name) : models.find((m) => m.scale === factor);
    if (!model) {
      const known = models.map((m) => `${m.name} (×${m.scale})`).join(', ');
      throw new UnknownModelError(
        name ? `unknown upscaler model '${name}'; available: ${known}` : `no upscaler for ×${factor}; available: ${known}`,
      );
    }
    const session = await this.session(model);
    const { ort, backend, limits } = this.options;
    return {
      id: model.name,
      backend,
      scale: model.scale,
      valueRange: model.value_range,
      receptiveRadius: model.receptive_radius,
      maxTileSize: maxTileSize(model.scale, model.peak_channels, backend, limits),
      async run(input: Tensor): Promise<Tensor> {
        const feed = new ort.Tensor('float32', input.data, input.dims as number[]);
        const results = await session.run({ [model.input]: feed });
        const out = results[model.output];
        try {
          const data = (await out.getData()) as Float32Array;
          return { data: new Float32Array(data), dims: [...out.dims] };
        } finally {
          feed.dispose();
          out.dispose();
        }
      },
    };
  }

  private session(model: BundledModel): Promise<OrtSession> {
    let session = this.sessions.get(model.name);
    if (!session) {
      session = this.createSession(model);
      this.sessions.set(model.name, session);
      // A failed load must not poison the cache: the next job tries again.
      session.catch(() => this.sessions.delete(model.name));
    }
    return session;
  }

  private async createSession(model: BundledModel): Promise<OrtSession> {
    const bytes = await this.options.readModelFile(model.file);
    const digest = await sha256Hex(bytes);
    if (digest !== model.sha256) {
      throw new Error(`bundled model ${model.file} is damaged (sha256 ${digest.slice(0, 12)}…, expected ${model.sha256.slice(0, 12)}…); reload the app to fetch it again`);
    }
    return this.options.ort.InferenceSession.create(bytes, {
      executionProviders: [this.options.backend],
      graphOptimizationLevel: 'all',
    });
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s.catch(() => null))?.release()));
  }
}
