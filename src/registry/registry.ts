/**
 * The seed's ModelRegistry, for the browser: scan picked files, register models (streamed into
 * storage, validated by content, never by file name alone), query and manage them. Bundled
 * models appear as read-only entries. Storage is reached through the ModelStore interface.
 */
import {
  BUILT_COMPONENTS,
  FAMILY_LABELS,
  MODEL_TYPES,
  ModelInfo,
  ModelType,
  type ComponentRole,
  type FamilySettings,
  type ModelComponent,
  type ModelPatchInput,
  type ModelSource,
  type ScannedModel,
} from '../protocol/models';
import type { CheckpointPlan } from './checkpoint/architecture';
import { CheckpointError, planCheckpoint } from './checkpoint/ldm-keys';
import { classifyOnnx, type Classification } from './classify';
import { inferFamily } from './family';
import { checkLoadable, ModelTooLargeError } from './limits';
import { inspectOnnx, type OnnxInfo } from './onnx-inspect';
import { loraAddnetHash, shortHash } from './lora/hash';
import { CHECKPOINT_ADVICE, inspectSafetensors, SafetensorsError, type SafetensorsHeader } from './safetensors';
import { nameCandidates, scanPickedFiles, type ModelCandidate, type PickedFile } from './scan';

/** What the registry needs from storage (src/storage/models.ts implements it). */
export interface ModelStore {
  writeFile(
    file: Blob,
    options: { importId: string; onProgress?: (done: number, total: number) => void; signal?: AbortSignal },
  ): Promise<{ file_id: string; sha256: string; bytes: number }>;
  commitModel(info: ModelInfo): Promise<ModelInfo>;
  getModel(name: string): Promise<ModelInfo | undefined>;
  listModels(): Promise<ModelInfo[]>;
  updateModel(name: string, patch: Partial<Pick<ModelInfo, 'description' | 'tags' | 'family' | 'status' | 'status_message' | 'metadata' | 'upscaler' | 'source'>>): Promise<ModelInfo>;
  renameModel(from: string, to: string): Promise<ModelInfo>;
  removeModel(name: string): Promise<boolean>;
  clear(): Promise<number>;
  discardImport(importId: string): Promise<number>;
  requestPersistence(): Promise<boolean | null>;
}

export class RegistryError extends Error {
  override name = 'RegistryError';
}

type PickedBlob = PickedFile['file'];

/** A candidate after its headers were read: what it is, or why it cannot be imported. */
export interface AnalyzedModel {
  candidate: ModelCandidate;
  proposal: Omit<ScannedModel, 'index'>;
  files: Array<{ path: string; role: ComponentRole; file: PickedBlob; dtype?: string; onnx?: OnnxInfo }>;
  family?: FamilySettings;
  upscaler?: { scale: number; value_range: [number, number] };
  metadata: Record<string, unknown>;
  /** A single-file checkpoint whose graphs the studio builds. */
  source?: ModelSource;
  /** A .safetensors file's header, kept to say why it is not a checkpoint when declared as one. */
  safetensors?: { header: SafetensorsHeader; fileName: string };
}

export interface ImportOptions {
  name?: string;
  model_type?: ModelType;
  description?: string | null;
  tags?: string[];
  family?: FamilySettings;
  importId?: string;
  signal?: AbortSignal;
  /** Per file and overall, in bytes. */
  onProgress?: (p: { file: string; fileDone: number; fileBytes: number; done: number; total: number }) => void;
}

export function parseModelType(type: unknown): ModelType {
  const parsed = ModelType.safeParse(type);
  if (!parsed.success) throw new RegistryError(`unknown model type '${String(type)}'; known: ${MODEL_TYPES.join(', ')}`);
  return parsed.data;
}

const gb = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function readJson(file: PickedBlob | undefined, what: string): Promise<Record<string, unknown> | undefined> {
  if (!file) return undefined;
  const text = await (file.slice(0, file.size) as Blob).text();
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new RegistryError(`${what} is not valid JSON (${message(err)})`);
  }
}

/** A picked file seen under its path (a File's own name is read-only). */
function named(file: PickedBlob, name: string) {
  return { name, size: file.size, slice: (a: number, b: number) => file.slice(a, b) as Blob };
}

const ROLE_NAMES: Record<string, string> = {
  text_encoder: 'a text encoder',
  unet: 'a UNet',
  vae_decoder: 'a VAE decoder',
  vae_encoder: 'a VAE encoder',
};

/** Reads a candidate's headers (never its weights) and decides what it is. */
export async function analyzeCandidate(candidate: ModelCandidate): Promise<AnalyzedModel> {
  const base = { name: candidate.name, file_path: candidate.path, file_size_bytes: candidate.bytes };
  const result: AnalyzedModel = {
    candidate,
    proposal: { ...base, model_type: null, summary: '', components: [], problem: null },
    files: [],
    metadata: {},
  };
  const refuse = (problem: string, type: ModelType | null = null, summary = problem) => {
    result.proposal = { ...result.proposal, model_type: type, summary, problem };
    return result;
  };
  try {
    if (candidate.kind === 'safetensors-file') return await analyzeSafetensors(result, refuse);
    if (candidate.kind === 'onnx-file') return await analyzeOnnxFile(result, refuse);
    return await analyzeFolder(result, refuse);
  } catch (err) {
    return refuse(message(err));
  }
}

type Refuse = (problem: string, type?: ModelType | null, summary?: string) => AnalyzedModel;

async function analyzeSafetensors(result: AnalyzedModel, refuse: Refuse): Promise<AnalyzedModel> {
  const { file, path } = result.candidate.files[0];
  let inspected;
  try {
    inspected = await inspectSafetensors(file as Blob, path);
  } catch (err) {
    if (err instanceof SafetensorsError) return refuse(`not a valid .safetensors file: ${err.message}`);
    throw err;
  }
  const c = inspected.classification;
  const dtypes = [...new Set(inspected.header.tensors.map((t) => t.dtype))].join('/');
  result.safetensors = { header: inspected.header, fileName: path };
  if (c.kind === 'lora') {
    result.proposal.model_type = 'lora';
    result.proposal.summary = `LoRA rank ${c.rank}${c.alpha !== null ? `, alpha ${c.alpha}` : ''} (${c.format}; ${c.modules} layers: UNet ${c.targets.unet}, text encoder ${c.targets.text_encoder})`;
    result.metadata = { lora: c };
    result.files = [{ path, role: 'lora_weights', file, dtype: dtypes }];
  } else if (c.kind === 'embedding') {
    result.proposal.model_type = 'embedding';
    result.proposal.summary = `Textual-inversion embedding: ${c.tokens} token${c.tokens === 1 ? '' : 's'} × ${c.dims.join(' + ')} (${c.format}); trigger “${c.trigger}”`;
    result.metadata = { embedding: c };
    result.files = [{ path, role: 'embedding_weights', file, dtype: dtypes }];
  } else if (c.kind === 'checkpoint') {
    let plan: CheckpointPlan;
    try {
      plan = planCheckpoint(inspected.header, path);
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err;
      // An architecture the builder does not take (SDXL, SD3, …) can still be exported to ONNX.
      const advice = c.family === 'sd1' || c.family === 'sd2' ? '' : `\n${CHECKPOINT_ADVICE}`;
      return refuse(`${err.message}${advice}`, null, `Single-file Stable Diffusion checkpoint (${c.family})`);
    }
    return analyzeCheckpointFile(result, plan);
  } else {
    return refuse(`this .safetensors file is not something the studio can use: ${c.reason}`);
  }
  result.proposal.components = result.files.map((f) => ({ path: f.path, role: f.role, bytes: f.file.size, dtype: f.dtype }));
  return result;
}

const KEY_FAMILY_SOURCES: Record<CheckpointPlan['family'], string> = {
  sd1: "the checkpoint's key names (CLIP ViT-L under cond_stage_model.transformer: SD 1.x)",
  sd2: "the checkpoint's key names (OpenCLIP under cond_stage_model.model: SD 2.x)",
};

/**
 * A single-file checkpoint the builder takes: stored as its one file, its four components built
 * from it on first use. Family settings as for an ONNX folder, with the family read from the
 * key names (never a width: tiny and pruned files change widths) and an inpainting UNet's
 * epsilon prediction read from its 9 input channels.
 */
function analyzeCheckpointFile(result: AnalyzedModel, plan: CheckpointPlan): AnalyzedModel {
  const { file, path } = result.candidate.files[0];
  // The weights' dtypes (not the schedule buffers' or position ids' the file may also hold).
  const dtypes = [...new Set(Object.values(plan.weights).flatMap((w) => [...w.values()].map((t) => t.dtype)))].join('/');
  const width = plan.family === 'sd2' ? 1024 : 768;
  const family = inferFamily({ textEncoderHidden: width, name: result.candidate.name, ...(plan.inpainting ? { unetPredictionType: 'epsilon' } : {}) });
  const sources = { ...family.sources };
  if (family.family === 'sd1' || family.family === 'sd2') sources.family = KEY_FAMILY_SOURCES[plan.family];
  sources.pad_token_id = KEY_FAMILY_SOURCES[plan.family];
  if (plan.inpainting) sources.prediction_type = 'an inpainting UNet (9 input channels): epsilon';
  result.family = { ...family, sources };
  result.source = { format: 'ldm-safetensors', built: [...BUILT_COMPONENTS], build_ms: {}, weights: 'auto' };
  result.files = [{ path, role: 'checkpoint_weights', file, dtype: dtypes }];
  result.metadata = {
    inpainting: plan.inpainting,
    unet_channels: plan.unet.blockChannels,
    text_encoder_width: plan.text.width,
    ...(plan.ignored ? { ignored_keys: plan.ignored } : {}),
  };
  result.proposal.model_type = 'checkpoint';
  result.proposal.family = result.family;
  result.proposal.summary =
    `${FAMILY_LABELS[result.family.family]}${plan.inpainting ? ' inpainting' : ''} single-file checkpoint (${dtypes}, ${gb(file.size)}); ` +
    'its text encoder, UNet and VAE are built from it on first use';
  result.proposal.components = [
    { path, role: 'checkpoint_weights', bytes: file.size, dtype: dtypes },
    ...BUILT_COMPONENTS.map((role) => ({ path: `${role}/model.onnx`, role, bytes: 0, built: true })),
  ];
  return result;
}

/** External data files an ONNX component references must be among the picked files. */
function externalFiles(info: OnnxInfo, dir: string, available: Map<string, PickedBlob>, component: string) {
  return info.externalData.map((ref) => {
    const path = dir ? `${dir}/${ref.location}` : ref.location;
    const file = available.get(path);
    if (!file) {
      throw new RegistryError(
        `${component} keeps its weights in '${ref.location}' (${gb(ref.bytes)}), which is not among the picked files: pick the whole folder, or put '${ref.location}' next to it`,
      );
    }
    if (file.size < ref.bytes) {
      throw new RegistryError(`${component}'s external data '${ref.location}' is ${gb(file.size)} but ${gb(ref.bytes)} are referenced: the file is truncated`);
    }
    return { path, file };
  });
}

async function analyzeOnnxFile(result: AnalyzedModel, refuse: Refuse): Promise<AnalyzedModel> {
  const { candidate } = result;
  const main = candidate.files[0];
  const available = new Map(candidate.files.map((f) => [f.path, f.file]));
  const info = await inspectOnnx(named(main.file, main.path));
  const c = classifyOnnx(info);
  checkLoadable(info, { component: main.path, role: c.role });
  const external = externalFiles(info, '', available, main.path);
  if (c.role === 'upscaler' || c.role === 'detector') {
    if (c.unsupported) return refuse(`${c.description}: ${c.unsupported}`, c.role);
    result.proposal.model_type = c.role;
    result.proposal.summary = `${c.description} (${info.weightDtype}, ${gb(candidate.bytes)})`;
    if (c.role === 'upscaler' && c.details.scale !== null) result.upscaler = { scale: c.details.scale, value_range: [0, 1] };
    result.metadata = { signature: { inputs: info.inputs, outputs: info.outputs }, classification: c.details };
  } else if (c.role === 'unknown') {
    return refuse(`not a model the studio can use; its signature is ${c.description}`);
  } else {
    return refuse(`this file is ${ROLE_NAMES[c.role] ?? c.role} of a Stable Diffusion model on its own; import the whole model folder (text_encoder/, unet/, vae_decoder/) as a checkpoint`);
  }
  result.files = [
    { path: main.path, role: c.role, file: main.file, dtype: info.weightDtype, onnx: info },
    ...external.map((e) => ({ path: e.path, role: 'external_data' as const, file: e.file })),
  ];
  result.proposal.components = result.files.map((f) => ({ path: f.path, role: f.role, bytes: f.file.size, dtype: f.dtype }));
  return result;
}

async function analyzeFolder(result: AnalyzedModel, refuse: Refuse): Promise<AnalyzedModel> {
  const { candidate } = result;
  const available = new Map(candidate.files.map((f) => [f.path, f.file]));
  const modelIndex = await readJson(available.get('model_index.json'), 'model_index.json');
  const schedulerConfig = await readJson(available.get('scheduler/scheduler_config.json'), 'scheduler/scheduler_config.json');
  const found = new Map<string, { info: OnnxInfo; c: Classification; dir: string }>();
  const files: AnalyzedModel['files'] = [];
  for (const entry of candidate.files.filter((f) => f.path.endsWith('/model.onnx'))) {
    const dir = entry.path.slice(0, -'/model.onnx'.length);
    const info = await inspectOnnx(named(entry.file, entry.path));
    const c = classifyOnnx(info);
    if (c.role === 'unknown') throw new RegistryError(`${entry.path} is not a Stable Diffusion component; its signature is ${c.description}`);
    if (c.unsupported) throw new RegistryError(`${entry.path}: ${c.description}: ${c.unsupported}`);
    if (c.role === 'upscaler' || c.role === 'detector') throw new RegistryError(`${entry.path} is ${c.description}, not part of a Stable Diffusion model`);
    if (found.has(c.role)) throw new RegistryError(`${entry.path} and ${found.get(c.role)!.dir}/model.onnx are both ${ROLE_NAMES[c.role]}`);
    checkLoadable(info, { component: entry.path, role: c.role });
    found.set(c.role, { info, c, dir });
    files.push({ path: entry.path, role: c.role as ComponentRole, file: entry.file, dtype: info.weightDtype, onnx: info });
    for (const ext of externalFiles(info, dir, available, entry.path)) files.push({ path: ext.path, role: 'external_data', file: ext.file });
  }
  const missing = (['text_encoder', 'unet', 'vae_decoder'] as const).filter((r) => !found.has(r));
  if (missing.length) {
    throw new RegistryError(
      `a checkpoint needs a text encoder, a UNet and a VAE decoder; this folder has no ${missing.map((r) => ROLE_NAMES[r].replace(/^an? /, '')).join(' or ')}`,
    );
  }
  for (const f of candidate.files) {
    if (files.some((x) => x.path === f.path) || f.path.endsWith('.onnx_data')) continue;
    const role: ComponentRole = f.path.startsWith('tokenizer/') ? 'tokenizer' : f.path === 'scheduler/scheduler_config.json' ? 'scheduler_config' : 'config';
    files.push({ path: f.path, role, file: f.file });
  }
  const text = found.get('text_encoder')!.c as Extract<Classification, { role: 'text_encoder' }>;
  const unet = found.get('unet')!.c as Extract<Classification, { role: 'unet' }>;
  result.family = inferFamily({ textEncoderHidden: text.details.hidden, schedulerConfig, modelIndex, name: candidate.name });
  const dtypes = [...new Set([...found.values()].map((v) => v.info.weightDtype))];
  const familyName = FAMILY_LABELS[result.family.family];
  result.proposal.model_type = 'checkpoint';
  result.proposal.family = result.family;
  result.proposal.summary = `${familyName}${unet.details.inpainting ? ' inpainting' : ''} ONNX folder (${dtypes.join('/')}, ${found.size} components, ${gb(candidate.bytes)})`;
  result.metadata = {
    inpainting: unet.details.inpainting,
    text_encoder_hidden: text.details.hidden,
    latent_size: unet.details.latentSize,
    ...(modelIndex ? { model_index_class: modelIndex._class_name } : {}),
  };
  result.files = files;
  result.proposal.components = files.map((f) => ({ path: f.path, role: f.role, bytes: f.file.size, dtype: f.dtype }));
  return result;
}

export class ModelRegistry {
  private readonly now: () => Date;

  constructor(
    private readonly store: ModelStore,
    private readonly options: { bundled?: () => Promise<ModelInfo[]>; now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  private async bundled(): Promise<ModelInfo[]> {
    try {
      return (await this.options.bundled?.()) ?? [];
    } catch {
      return [];
    }
  }

  /** Scans picked files and reads each candidate's headers; nothing is stored. */
  async scanModels(files: PickedFile[]): Promise<{ analyzed: AnalyzedModel[]; refused: Array<{ path: string; bytes: number; reason: string }>; ignored: string[] }> {
    const scan = scanPickedFiles(files);
    nameCandidates(scan.candidates, (await this.listAll()).map((m) => m.name));
    const analyzed: AnalyzedModel[] = [];
    for (const c of scan.candidates) analyzed.push(await analyzeCandidate(c));
    return { analyzed, refused: scan.refused, ignored: scan.ignored };
  }

  /** The seed's register_model: the picked files of ONE model, declared as `type`. */
  async registerModel(files: PickedFile[], type: ModelType | string, options: ImportOptions = {}): Promise<ModelInfo> {
    const declared = parseModelType(type);
    if (files.length === 0) throw new RegistryError('no files were picked');
    const { analyzed, refused } = await this.scanModels(files);
    if (analyzed.length === 0) {
      throw new RegistryError(refused.length ? `${refused[0].path}: ${refused[0].reason}` : 'the picked files hold no model the studio can read (.onnx folders or files, .safetensors)');
    }
    if (analyzed.length > 1) throw new RegistryError(`the picked files hold ${analyzed.length} models; register them one at a time`);
    return this.importAnalyzed(analyzed[0], { ...options, model_type: declared });
  }

  /** Stores an analyzed model: every file streamed in, then the row written last. */
  async importAnalyzed(model: AnalyzedModel, options: ImportOptions = {}): Promise<ModelInfo> {
    const { proposal } = model;
    if (proposal.problem) throw new RegistryError(proposal.problem);
    const type = options.model_type ?? proposal.model_type;
    if (!type) throw new RegistryError('the model type could not be decided; choose one');
    if (type !== proposal.model_type) {
      // A .safetensors declared a checkpoint: the checkpoint reader says what it is instead.
      if (type === 'checkpoint' && model.safetensors) planCheckpoint(model.safetensors.header, model.safetensors.fileName);
      throw new RegistryError(`this is ${describeType(proposal.model_type!)} (${proposal.summary}), not ${describeType(type)}`);
    }
    const name = validName(options.name ?? proposal.name);
    if (await this.modelExists(name)) throw new RegistryError(`a model named '${name}' already exists; choose another name`);

    const importId = options.importId ?? crypto.randomUUID();
    const total = model.files.reduce((n, f) => n + f.file.size, 0);
    let before = 0;
    const components: ModelComponent[] = [];
    try {
      for (const f of model.files) {
        if (options.signal?.aborted) throw new RegistryError('import cancelled');
        const stored = await this.store.writeFile(f.file as Blob, {
          importId,
          signal: options.signal,
          onProgress: (done, fileBytes) => options.onProgress?.({ file: f.path, fileDone: done, fileBytes, done: before + done, total }),
        });
        before += f.file.size;
        components.push({
          path: f.path,
          role: f.role,
          bytes: stored.bytes,
          sha256: stored.sha256,
          dtype: f.dtype,
          inputs: f.onnx?.inputs,
          outputs: f.onnx?.outputs,
          external_data: f.onnx?.externalData.map((e) => e.location),
          file_id: stored.file_id,
        });
      }
      const first = (await this.store.listModels()).length === 0;
      const info = await this.store.commitModel(
        ModelInfo.parse({
          name,
          model_type: type,
          file_path: proposal.file_path,
          file_size_bytes: total,
          discovered_at: this.now().toISOString(),
          description: options.description ?? null,
          tags: options.tags ?? [],
          metadata: { ...model.metadata, ...(await networkHashes(type, model, components)) },
          status: 'importing',
          status_message: null,
          components,
          ...(type === 'checkpoint' ? { family: options.family ?? model.family } : {}),
          ...(model.upscaler ? { upscaler: model.upscaler } : {}),
          ...(model.source ? { source: model.source } : {}),
        }),
      );
      // Ask the browser not to evict the models once there is something worth keeping.
      if (first) await this.store.requestPersistence().catch(() => null);
      return info;
    } catch (err) {
      await this.store.discardImport(importId).catch(() => 0);
      throw err;
    }
  }

  async getModelPath(name: string): Promise<string | null> {
    return (await this.getModel(name))?.file_path ?? null;
  }

  async getModel(name: string): Promise<ModelInfo | undefined> {
    return (await this.store.getModel(name)) ?? (await this.bundled()).find((m) => m.name === name);
  }

  async listModels(type?: ModelType | string): Promise<ModelInfo[]> {
    const t = type === undefined ? undefined : parseModelType(type);
    const all = [...(await this.bundled()), ...(await this.store.listModels())];
    return t ? all.filter((m) => m.model_type === t) : all;
  }

  listAll(): Promise<ModelInfo[]> {
    return this.listModels();
  }

  async countModels(type?: ModelType | string): Promise<number> {
    return (await this.listModels(type)).length;
  }

  async modelExists(name: string): Promise<boolean> {
    return (await this.getModel(name)) !== undefined;
  }

  async removeModel(name: string): Promise<boolean> {
    await this.refuseBundled(name, 'removed');
    return this.store.removeModel(name);
  }

  /** Removes every imported model (bundled ones stay); returns how many. */
  clear(): Promise<number> {
    return this.store.clear();
  }

  async rename(from: string, to: string): Promise<ModelInfo> {
    await this.refuseBundled(from, 'renamed');
    const name = validName(to);
    if (name !== from && (await this.modelExists(name))) throw new RegistryError(`a model named '${name}' already exists`);
    return this.store.renameModel(from, name);
  }

  async update(name: string, patch: ModelPatchInput): Promise<ModelInfo> {
    await this.refuseBundled(name, 'changed');
    const { checkpoint_weights: weights, ...rest } = patch;
    if (weights === undefined) return this.store.updateModel(name, rest);
    const current = await this.store.getModel(name);
    if (!current) throw new RegistryError(`there is no model named '${name}'`);
    if (!current.source) throw new RegistryError(`'${name}' is not a single-file checkpoint: only those can have their weights converted to float16`);
    return this.store.updateModel(name, { ...rest, source: { ...current.source, weights } });
  }

  private async refuseBundled(name: string, what: string): Promise<void> {
    if ((await this.bundled()).some((m) => m.name === name)) {
      throw new RegistryError(`'${name}' ships with the app and cannot be ${what}`);
    }
  }
}

function validName(raw: string): string {
  const name = raw.trim();
  if (!name) throw new RegistryError('a model name cannot be empty');
  if (name.length > 120) throw new RegistryError('a model name can have at most 120 characters');
  return name;
}

function describeType(type: ModelType): string {
  return { checkpoint: 'a checkpoint', lora: 'a LoRA', embedding: 'an embedding', upscaler: 'an upscaler', detector: 'a detector' }[type];
}

export { ModelTooLargeError };

/**
 * A1111's short hashes, computed once at import for the infotext (`Lora hashes`, `TI hashes`):
 * a LoRA's addnet hash (its tensor data, streamed from the picked file) and an embedding's (the
 * first 12 hex digits of the file's SHA-256, already computed while it was stored).
 */
async function networkHashes(type: ModelType, model: AnalyzedModel, components: readonly ModelComponent[]): Promise<Record<string, string>> {
  if (type === 'lora') {
    const file = model.files.find((f) => f.role === 'lora_weights');
    return file ? { lora_hash: await loraAddnetHash(file.file as Blob) } : {};
  }
  if (type === 'embedding') {
    const stored = components.find((c) => c.role === 'embedding_weights');
    return stored ? { embedding_hash: shortHash(stored.sha256) } : {};
  }
  return {};
}
