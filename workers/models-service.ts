/**
 * The worker side of `models.*`: scans kept by id, imports streamed into storage with progress
 * and cancel, each new model probed once in the runtime, orphan chunks cleaned at start.
 */
import type {
  ImportOutcome,
  ImportProgress,
  ImportSelection,
  ModelInfo,
  ModelPatchInput,
  ScanReport,
} from '../src/protocol/models';
import type { Backend } from '../src/protocol/schemas';
import { ModelRegistry, parseModelType, type AnalyzedModel } from '../src/registry/registry';
import type { ModelGraphCache } from '../src/storage/model-graphs';
import type { ModelRepository } from '../src/storage/models';
import { checkpointReader, type ComputeType } from './checkpoint-reader';
import type { FolderReader } from './ort/diffusion-model';
import type { ProbeResult } from './ort/probe';

const IMPORT_LOCK = 'media-lab-import:';

interface Locks {
  request(name: string, cb: () => Promise<unknown>): Promise<unknown>;
  query(): Promise<{ held?: Array<{ name?: string }> }>;
}
const locks = (): Locks | undefined => (globalThis.navigator as unknown as { locks?: Locks } | undefined)?.locks;

export interface ModelsServiceDeps {
  repo: ModelRepository;
  registry: ModelRegistry;
  probe(info: ModelInfo, read: FolderReader): Promise<ProbeResult>;
  /** Where graphs built from single-file checkpoints are kept; without it each load builds them. */
  graphs?: ModelGraphCache;
  /** The type built graphs compute in on this runtime (default float32). */
  compute?: () => Promise<ComputeType>;
  /** The backend built graphs run on (default wasm): with a model's weights choice, decides float16 copies. */
  backend?: () => Promise<Backend>;
}

/** What a read may report while it works (a single-file checkpoint being built). */
export interface ReaderOptions {
  onStatus?: (message: string) => void;
}

export class ModelsService {
  private scans = new Map<string, AnalyzedModel[]>();
  private imports = new Map<string, AbortController>();

  constructor(private readonly deps: ModelsServiceDeps) {}

  /** Deletes chunks of imports that never finished (a tab closed mid-import), except live ones. */
  async cleanup(): Promise<number> {
    const held = (await locks()?.query().catch(() => ({ held: [] })))?.held ?? [];
    const active = new Set(held.map((l) => l.name ?? '').filter((n) => n.startsWith(IMPORT_LOCK)).map((n) => n.slice(IMPORT_LOCK.length)));
    return this.deps.repo.deleteOrphanChunks({ activeImports: active });
  }

  async scan(files: Array<{ path: string; file: File }>): Promise<ScanReport> {
    const { analyzed, refused, ignored } = await this.deps.registry.scanModels(files);
    const scanId = crypto.randomUUID();
    this.scans.set(scanId, analyzed);
    // Keep the few latest scans only: each holds File handles (not bytes), but no need to hoard.
    while (this.scans.size > 4) this.scans.delete(this.scans.keys().next().value!);
    return {
      scan_id: scanId,
      models: analyzed.map((a, index) => ({ index, ...a.proposal, family: a.family })),
      refused,
      ignored: ignored.length,
    };
  }

  async import(scanId: string, selections: ImportSelection[], onProgress?: (p: ImportProgress) => void): Promise<ImportOutcome[]> {
    const analyzed = this.scans.get(scanId);
    if (!analyzed) throw new Error('this scan is no longer available; pick the files again');
    const outcomes: ImportOutcome[] = [];
    for (const selection of selections) {
      const model = analyzed[selection.index];
      if (!model) {
        outcomes.push({ name: `#${selection.index}`, ok: false, error: 'no such model in the scan' });
        continue;
      }
      outcomes.push(await this.importOne(model, selection, onProgress));
    }
    return outcomes;
  }

  /** The seed's register_model: one model's files, its declared type checked against its content. */
  async register(
    files: Array<{ path: string; file: File }>,
    type: string,
    options: { name?: string; description?: string; tags?: string[] } = {},
    onProgress?: (p: ImportProgress) => void,
  ): Promise<ImportOutcome> {
    const declared = parseModelType(type);
    const { analyzed, refused } = await this.deps.registry.scanModels(files);
    if (analyzed.length !== 1) {
      const why =
        analyzed.length > 1
          ? `the picked files hold ${analyzed.length} models; register them one at a time`
          : refused.length
            ? `${refused[0].path}: ${refused[0].reason}`
            : 'the picked files hold no model the studio can read (.onnx folders or files, .safetensors)';
      return { name: options.name ?? '', ok: false, error: why };
    }
    return this.importOne(analyzed[0], { index: 0, ...options, model_type: declared }, onProgress);
  }

  private async importOne(model: AnalyzedModel, selection: ImportSelection, onProgress?: (p: ImportProgress) => void): Promise<ImportOutcome> {
    const importId = crypto.randomUUID();
    const controller = new AbortController();
    this.imports.set(importId, controller);
    const name = selection.name ?? model.proposal.name;
    const total = model.files.reduce((n, f) => n + f.file.size, 0);
    const report = (p: Omit<ImportProgress, 'import_id' | 'model'>) => {
      try {
        void (onProgress?.({ import_id: importId, model: name, ...p }) as unknown);
      } catch {
        /* a closed page stops listening; the import goes on */
      }
    };
    const run = async (): Promise<ImportOutcome> => {
      let info: ModelInfo;
      try {
        report({ phase: 'storing', bytes_done: 0, bytes_total: total });
        info = await this.deps.registry.importAnalyzed(model, {
          name,
          model_type: selection.model_type,
          description: selection.description,
          tags: selection.tags,
          family: selection.family,
          importId,
          signal: controller.signal,
          onProgress: (p) =>
            report({ phase: 'storing', file: p.file, file_bytes_done: p.fileDone, file_bytes: p.fileBytes, bytes_done: p.done, bytes_total: p.total }),
        });
      } catch (err) {
        const cancelled = controller.signal.aborted;
        const error = cancelled ? 'import cancelled; nothing was kept' : err instanceof Error ? err.message : String(err);
        report({ phase: cancelled ? 'cancelled' : 'failed', bytes_done: 0, bytes_total: total, message: error });
        return { name, ok: false, error };
      }
      report({ phase: 'verifying', bytes_done: total, bytes_total: total });
      // A single-file checkpoint is built during its first probe: say so while it happens.
      const final = await this.verify(info, { onStatus: (message) => report({ phase: 'verifying', bytes_done: total, bytes_total: total, message }) });
      report({ phase: 'done', bytes_done: total, bytes_total: total, message: final.status_message ?? undefined });
      return { name, ok: final.status === 'verified', model: final, ...(final.status === 'error' ? { error: final.status_message ?? 'verification failed' } : {}) };
    };
    try {
      const l = locks();
      // The lock tells other tabs' start-up cleanup that these chunks belong to a live import.
      return l ? ((await l.request(IMPORT_LOCK + importId, run)) as ImportOutcome) : await run();
    } finally {
      this.imports.delete(importId);
    }
  }

  /** Runs the probe and records the outcome on the model's row. */
  async verify(info: ModelInfo, options: ReaderOptions = {}): Promise<ModelInfo> {
    const result = await this.deps.probe(info, this.reader(info, options));
    return this.deps.repo.updateModel(info.name, {
      status: result.ok ? 'verified' : 'error',
      status_message: result.message,
      ...(result.upscaler ? { upscaler: result.upscaler } : {}),
      ...(result.detector ? { detector: result.detector } : {}),
    });
  }

  /** Reads a model's files back from storage by their path inside the model. */
  reader(info: ModelInfo, options: ReaderOptions = {}): FolderReader {
    if (info.source?.format === 'ldm-safetensors') return this.checkpointReader(info, options);
    return async (path) => {
      const component = info.components.find((c) => c.path === path);
      if (!component) return undefined;
      const blob = await this.deps.repo.readFile(component.file_id);
      return new Uint8Array(await blob.arrayBuffer());
    };
  }

  /** A single-file checkpoint's folder, its graphs built on first use and cached after. */
  private checkpointReader(info: ModelInfo, options: ReaderOptions): FolderReader {
    // Made on the first read, once the runtime (and so the compute type) is known; one per reader,
    // so the checkpoint's header is parsed once however many files are read.
    let reader: Promise<FolderReader> | undefined;
    return async (path) => {
      reader ??= (async () =>
        checkpointReader(info, {
          readFile: (fileId) => this.deps.repo.readFile(fileId),
          graphs: this.deps.graphs,
          compute: (await this.deps.compute?.()) ?? 'float32',
          backend: (await this.deps.backend?.()) ?? 'wasm',
          onStatus: options.onStatus,
          onBuilt: (component, variant, ms) => this.recordBuild(info.name, `${component}/${variant}`, ms),
        }))();
      return (await reader)(path);
    };
  }

  /** Keeps how long a graph took to build on the model's row (for the Models view). */
  private async recordBuild(name: string, key: string, ms: number): Promise<void> {
    try {
      const current = await this.deps.repo.getModel(name);
      if (!current?.source) return;
      await this.deps.repo.updateModel(name, { source: { ...current.source, build_ms: { ...current.source.build_ms, [key]: ms } } });
    } catch {
      // Renamed or removed meanwhile: the timing is only informative.
    }
  }

  cancelImport(importId: string): boolean {
    const controller = this.imports.get(importId);
    controller?.abort();
    return controller !== undefined;
  }

  /** Models left "importing" (the tab closed during the probe) are probed again. */
  async resumeVerification(): Promise<void> {
    for (const m of await this.deps.repo.listModels()) {
      if (m.status === 'importing') await this.verify(m).catch(() => undefined);
    }
  }

  update(name: string, patch: ModelPatchInput): Promise<ModelInfo> {
    return this.deps.registry.update(name, patch);
  }
}
