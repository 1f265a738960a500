/**
 * onnxruntime-web implementation of the pipeline's UpscalerProvider: bundled ESRGAN models from
 * models.json, one session per model reused across jobs, integrity-checked by sha256.
 */
import type { UpscalerPort, UpscalerProvider } from '../../src/pipeline/ports';
import type { Tensor } from '../../src/pipeline/tensor';
import type { Backend } from '../../src/protocol/schemas';
import { readBundledManifest, isBundledUpscaler, verifiedBundledBytes, type BundledUpscaler } from '../../src/registry/bundled';
import { maxTileSize, type DeviceLimits } from './tile-size';
import type { Ort, OrtSession } from './types';

export interface OrtUpscalerOptions {
  ort: Ort;
  backend: Backend;
  limits?: DeviceLimits;
  /** Reads a file next to models.json (fetch in browsers, fs in Node). */
  readModelFile(file: string): Promise<Uint8Array>;
  /** Verified upscalers the user imported (from the registry). */
  imported?: () => Promise<ImportedUpscaler[]>;
}

/** An imported upscaler: its probed scale and range, and how to read its files from storage. */
export interface ImportedUpscaler {
  name: string;
  scale: number;
  value_range: [number, number];
  input: string;
  output: string;
  load(): Promise<{ model: Uint8Array; externalData: Array<{ path: string; data: Uint8Array }> }>;
}

/** Unknown networks: assume a wide receptive field and many channels (smaller, safer tiles). */
const IMPORTED_RECEPTIVE_RADIUS = 16;
const IMPORTED_PEAK_CHANNELS = 64;

export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
}

export class OrtUpscalerProvider implements UpscalerProvider {
  private manifest: Promise<BundledUpscaler[]> | null = null;
  private sessions = new Map<string, Promise<OrtSession>>();

  constructor(private readonly options: OrtUpscalerOptions) {}

  /** The bundled upscalers (models.json lists the bundled detectors too). */
  models(): Promise<BundledUpscaler[]> {
    this.manifest ??= readBundledManifest(this.options.readModelFile).then((models) => models.filter(isBundledUpscaler));
    return this.manifest;
  }

  private async importedModels(): Promise<ImportedUpscaler[]> {
    return (await this.options.imported?.().catch(() => [])) ?? [];
  }

  async available(): Promise<Array<{ name: string; scale: number; bundled: boolean }>> {
    return [
      ...(await this.models()).map((m) => ({ name: m.name, scale: m.scale, bundled: true })),
      ...(await this.importedModels()).map((m) => ({ name: m.name, scale: m.scale, bundled: false })),
    ];
  }

  async load(name: string | undefined, factor: number): Promise<UpscalerPort> {
    const models = await this.models();
    const imported = name && !models.some((m) => m.name === name) ? (await this.importedModels()).find((m) => m.name === name) : undefined;
    if (imported) return this.loadImported(imported);
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

  private async loadImported(model: ImportedUpscaler): Promise<UpscalerPort> {
    const { ort, backend, limits } = this.options;
    let session = this.sessions.get(`imported:${model.name}`);
    if (!session) {
      session = model.load().then(({ model: bytes, externalData }) =>
        ort.InferenceSession.create(bytes, {
          executionProviders: [backend],
          graphOptimizationLevel: 'all',
          ...(externalData.length ? { externalData } : {}),
        }),
      );
      this.sessions.set(`imported:${model.name}`, session);
      session.catch(() => this.sessions.delete(`imported:${model.name}`));
    }
    const s = await session;
    return {
      id: model.name,
      backend,
      scale: model.scale,
      valueRange: model.value_range,
      receptiveRadius: IMPORTED_RECEPTIVE_RADIUS,
      maxTileSize: maxTileSize(model.scale, IMPORTED_PEAK_CHANNELS, backend, limits),
      async run(input: Tensor): Promise<Tensor> {
        const feed = new ort.Tensor('float32', input.data, input.dims as number[]);
        const results = await s.run({ [model.input]: feed });
        const out = results[model.output];
        try {
          return { data: new Float32Array((await out.getData()) as Float32Array), dims: [...out.dims] };
        } finally {
          feed.dispose();
          out.dispose();
        }
      },
    };
  }

  private session(model: BundledUpscaler): Promise<OrtSession> {
    let session = this.sessions.get(model.name);
    if (!session) {
      session = this.createSession(model);
      this.sessions.set(model.name, session);
      // A failed load must not poison the cache: the next job tries again.
      session.catch(() => this.sessions.delete(model.name));
    }
    return session;
  }

  private async createSession(model: BundledUpscaler): Promise<OrtSession> {
    const bytes = await verifiedBundledBytes(model, await this.options.readModelFile(model.file));
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
