/**
 * The worker's DiffusionProvider: opens a registered checkpoint from storage (one at a time:
 * switching models releases the previous sessions), merges the requested LoRAs into its UNet and
 * text encoder, adds the textual-inversion embeddings the prompts use to its text encoder, and
 * supplies its family defaults.
 *
 * Sessions are kept per component, each under the key of what its weights depend on:
 * - the UNet: the LoRAs that adapt it, with their UNet weights;
 * - the text encoder: the LoRAs that adapt it, with their text-encoder weights, and the embeddings;
 * - the VAE decoder and encoder: nothing (LoRAs and embeddings never touch them).
 * A new request reopens only the components whose key changed (switching a LoRA's weight reopens
 * the UNet and text encoder, never the VAE; a new embedding word reopens only the text encoder),
 * releasing the replaced session first so two copies of a full-size UNet are never held. A weight
 * of 0 merges nothing, so it shares the plain model's sessions.
 */
import type { Embedding } from '../../src/pipeline/diffusion/embeddings/embedding';
import { describeWidth, EmbeddingError, placeEmbeddings, type EmbeddingSet } from '../../src/pipeline/diffusion/embeddings/embedding';
import { EmbeddingTokenizer, withEmbeddings } from '../../src/pipeline/diffusion/embeddings/tokenizer';
import { readLoraModules, type LoraModule } from '../../src/pipeline/diffusion/lora/file';
import type { AppliedNetworks, DiffusionLoadOptions, DiffusionModelHandle, DiffusionProvider, LoraRequest } from '../../src/pipeline/ports';
import type { ModelInfo } from '../../src/protocol/models';
import type { Backend } from '../../src/protocol/schemas';
import { embeddingFolder } from '../../src/registry/embedding/folder';
import { loadEmbedding } from '../../src/registry/embedding/load';
import { loraAddnetHash, shortHash } from '../../src/registry/lora/hash';
import { loraFolder, type LoraToApply } from '../../src/registry/lora/merge';
import { inspectOnnx, sliceableBytes } from '../../src/registry/onnx-inspect';
import { readSafetensorsHeader } from '../../src/registry/safetensors';
import {
  loadDiffusionModel,
  loadTokenizer,
  type ComponentDir,
  type FolderReader,
  type LoadedDiffusionModel,
  type OpenedSession,
} from './diffusion-model';
import { ortMatrixProduct } from './matrix-product';
import type { Ort } from './types';

export interface DiffusionProviderDeps {
  /** `shaderF16`: whether the WebGPU adapter has the `shader-f16` feature (undefined = unknown). */
  ort: () => Promise<{ ort: Ort; backend: Backend; shaderF16?: boolean }>;
  listModels(): Promise<ModelInfo[]>;
  /** `onStatus`: what reading is doing when it takes a while (building a single-file checkpoint). */
  reader(info: ModelInfo, options?: { onStatus?: (message: string) => void }): FolderReader;
  /**
   * True when `reader`'s reads each hand out a new buffer nobody else keeps (the models service's
   * do: stored chunks read afresh): a LoRA is then merged into the weights file as read, not into a
   * copy of it, halving the merge's peak memory (a full-size UNet's 1.7 GB instead of 3.4 GB).
   */
  freshReads?: boolean;
}

export const NO_CHECKPOINT =
  'no checkpoint is registered: import one in the Models view (an SD-Turbo or SD 1.5 ONNX export in float16)';

const DIFFUSION_ROLES = new Set(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
const COMPONENT_DIRS: readonly ComponentDir[] = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'];

/** LoRA files whose parsed modules stay cached (a rank-32 SD 1.5 LoRA is ~150 MB as float32). */
const LORA_CACHE_SIZE = 4;

/**
 * True when a diffusion component computes in float16: its weights are float16 (the registry's
 * dominant weight dtype) or it takes or returns float16 tensors. `mixed` weights alone say too
 * little to refuse a model; if one fails, session creation reports it (prefixed with the component).
 */
export function isFloat16Model(info: ModelInfo): boolean {
  return info.components.some(
    (c) =>
      DIFFUSION_ROLES.has(c.role) &&
      (c.dtype === 'float16' || [...(c.inputs ?? []), ...(c.outputs ?? [])].some((t) => t.type === 'float16')),
  );
}

/**
 * SHA-256 by component role. A single-file checkpoint's components all come from its one file, so
 * each carries the file's hash (and A1111's "Model hash" is then the real AutoV2 hash of the file).
 */
function componentHashes(info: ModelInfo): Record<string, string> {
  const file = info.source ? info.components.find((c) => c.role === 'checkpoint_weights') : undefined;
  if (file && info.source) return Object.fromEntries(info.source.built.map((role) => [role, file.sha256]));
  return Object.fromEntries(info.components.filter((c) => c.sha256).map((c) => [c.role, c.sha256]));
}

/**
 * What a loaded model's base sessions depend on: its name, and a checkpoint's weights choice
 * (changing it in the Models view loads it again). LoRAs and embeddings key each component on top
 * of it (componentKeys).
 */
export function loadKey(info: ModelInfo): string {
  return JSON.stringify([info.name, info.source?.weights ?? null]);
}

/** A LoRA resolved to its registry row and parsed modules, with the request's weights. */
interface ResolvedLora {
  request: LoraRequest;
  info: ModelInfo;
  fileSha: string;
  modules: readonly LoraModule[];
  hash: string;
}

interface ResolvedEmbedding {
  embedding: Embedding;
  fileSha: string;
  hash: string;
}

/** Each component's session key: what its weights are made of beyond the checkpoint. */
function componentKeys(loras: readonly ResolvedLora[], set: EmbeddingSet, embeddings: readonly ResolvedEmbedding[]): Record<ComponentDir, string> {
  const part = (component: 'unet' | 'text_encoder') =>
    loras
      .map((l) => ({ l, w: component === 'unet' ? l.request.unet ?? l.request.weight : l.request.weight }))
      // Weight 0 merges nothing: the plain weights, the plain session.
      .filter(({ l, w }) => w !== 0 && l.modules.some((m) => m.component === component))
      .map(({ l, w }) => [l.fileSha, w])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const sha = new Map(embeddings.map((e) => [e.embedding.name, e.fileSha]));
  return {
    unet: JSON.stringify(part('unet')),
    text_encoder: JSON.stringify([part('text_encoder'), set.embeddings.map((e) => [e.name, sha.get(e.name)])]),
    vae_decoder: '',
    vae_encoder: '',
  };
}

/** One checkpoint's open state: its reader, tokenizer, component sessions and the last model made of them. */
interface LoadedBase {
  key: string;
  info: ModelInfo;
  read: FolderReader;
  /** Where the reader's status lines go: the job loading now. */
  status?: (message: string) => void;
  tokenizer?: Promise<Awaited<ReturnType<typeof loadTokenizer>>>;
  width?: Promise<number>;
  components: Map<ComponentDir, { key: string; session: OpenedSession }>;
  last?: { networksKey: string; model: LoadedDiffusionModel; networks: AppliedNetworks };
}

export class OrtDiffusionProvider implements DiffusionProvider {
  private base: LoadedBase | null = null;
  /** Loads run one after another (a job's load must not release sessions another is opening). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly loraCache = new Map<string, Promise<{ modules: LoraModule[]; hash: string }>>();
  private readonly embeddingCache = new Map<string, Promise<Embedding>>();
  /** onnxruntime's MatMul for the LoRA deltas (made on the first merge). */
  private product?: ReturnType<typeof ortMatrixProduct>;
  /** Sessions created so far (for tests and the bench: a reuse creates none). */
  sessionsOpened = 0;

  constructor(private readonly deps: DiffusionProviderDeps) {}

  load(model: string | undefined, options: DiffusionLoadOptions = {}): Promise<DiffusionModelHandle> {
    const run = this.queue.then(() => this.loadNow(model, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async loadNow(model: string | undefined, options: DiffusionLoadOptions): Promise<DiffusionModelHandle> {
    // 1. The registry row, checked.
    const all = await this.deps.listModels();
    const info = model ? all.find((m) => m.name === model) : all.find((m) => m.model_type === 'checkpoint' && m.status === 'verified');
    if (!info) throw new Error(model ? `no model named '${model}' is registered` : NO_CHECKPOINT);
    if (info.model_type !== 'checkpoint') {
      const article = /^[aeiou]/.test(info.model_type) ? 'an' : 'a';
      throw new Error(`'${info.name}' is ${article} ${info.model_type}, not a checkpoint: pick a Stable Diffusion model`);
    }
    if (info.status !== 'verified') throw new Error(`'${info.name}' did not pass verification: ${info.status_message ?? info.status}`);
    const { ort, backend, shaderF16 } = await this.deps.ort();
    // WebGPU runs float16 kernels only with shader-f16; without it session creation fails obscurely.
    if (backend === 'webgpu' && shaderF16 === false && isFloat16Model(info)) {
      throw new Error(
        `'${info.name}' is a float16 model and this GPU has no shader-f16 support: use a float32 export of it, or the WASM backend (?backend=wasm)`,
      );
    }

    // 2. The checkpoint's base state (another checkpoint, or another weights choice: start over).
    if (this.base?.key !== loadKey(info)) {
      await this.release();
      const base: LoadedBase = { key: loadKey(info), info, read: async () => undefined, components: new Map() };
      base.read = this.deps.reader(info, { onStatus: (message) => base.status?.(message) });
      this.base = base;
    }
    const base = this.base!;
    base.status = options.onStatus;

    // 3. The LoRAs (unknown names refused before anything loads) and the embeddings the prompts use.
    const loras = await this.resolveLoras(all, options.loras ?? []);
    const embeddings = await this.resolveEmbeddings(all, base, options.prompts ?? []);
    const networksKey = JSON.stringify([loras.map((l) => [l.fileSha, l.request]), embeddings.map((e) => [e.embedding.name, e.fileSha])]);

    let loaded: LoadedDiffusionModel;
    let networks: AppliedNetworks;
    if (base.last?.networksKey === networksKey) {
      ({ model: loaded, networks } = base.last);
    } else {
      ({ loaded, networks } = await this.open(ort, backend, base, loras, embeddings));
      base.last = { networksKey, model: loaded, networks };
    }
    for (const line of statusLines(networks)) options.onStatus?.(line);

    const family = info.family;
    return {
      name: info.name,
      hashes: componentHashes(info),
      ...(loras.length || embeddings.length ? { networks } : {}),
      models: {
        ...loaded,
        family: {
          ...loaded.family,
          ...(family ? { padTokenId: family.pad_token_id } : {}),
          schedulerConfig: {
            ...(family?.timestep_spacing ? { timestep_spacing: family.timestep_spacing } : {}),
            ...(family ? { prediction_type: family.prediction_type } : {}),
          },
        },
      },
      defaults: {
        steps: family?.default_steps ?? 20,
        guidance_scale: family?.default_cfg ?? 7,
        scheduler: family?.default_scheduler ?? 'euler',
        ...(loaded.unet.latentSize ? { width: loaded.unet.latentSize[1] * 8, height: loaded.unet.latentSize[0] * 8 } : {}),
      },
    };
  }

  /**
   * 4. The folder seen through the LoRA merge and the grown token table; the components whose key
   * changed are released, then opened from it; the others are reused as they are.
   */
  private async open(ort: Ort, backend: Backend, base: LoadedBase, loras: readonly ResolvedLora[], embeddings: readonly ResolvedEmbedding[]) {
    // The last model's sessions may be released below: it is never handed out again.
    base.last = undefined;
    const tokenizer = await (base.tokenizer ??= loadTokenizer(base.read));
    const width = embeddings.length ? await this.widthOf(base) : 0;
    const set = placeEmbeddings(
      embeddings.map((e) => e.embedding),
      { firstId: tokenizer.vocabSize, width },
    );
    const keys = componentKeys(loras, set, embeddings);
    let read = base.read;
    let merged: Awaited<ReturnType<typeof loraFolder>> | undefined;
    if (loras.length) {
      const toApply: LoraToApply[] = loras.map((l) => ({
        name: l.request.name,
        modules: l.modules,
        weight: l.request.weight,
        ...(l.request.unet !== undefined ? { unet: l.request.unet } : {}),
        family: loraFamily(l.info),
      }));
      // Matching reads the graphs and throws (no layer names; a LoRA for another base model) before any session is released.
      merged = await loraFolder(read, toApply, { multiply: (this.product ??= ortMatrixProduct(ort)).multiply, freshReads: this.deps.freshReads === true });
      read = merged.read;
    }
    read = embeddingFolder(read, set);

    const reuse: Partial<Record<ComponentDir, OpenedSession>> = {};
    for (const dir of COMPONENT_DIRS) {
      const current = base.components.get(dir);
      if (current?.key === keys[dir]) reuse[dir] = current.session;
      else if (current) {
        // Released before its replacement opens: one copy of the UNet's weights at a time.
        base.components.delete(dir);
        await current.session.session.release();
      }
    }
    if (merged && (!reuse.unet || !reuse.text_encoder)) base.status?.(`Merging ${loras.length === 1 ? 'the LoRA' : `${loras.length} LoRAs`} into the model…`);
    const before = Object.keys(reuse).length;
    const loaded = await loadDiffusionModel(ort, read, backend, { reuse });
    for (const dir of COMPONENT_DIRS) {
      const session = loaded.components[dir];
      if (session && !reuse[dir]) base.components.set(dir, { key: keys[dir], session });
    }
    this.sessionsOpened += Object.keys(loaded.components).length - before;
    const models: LoadedDiffusionModel = { ...loaded, tokenizer: withEmbeddings(loaded.tokenizer, set) };
    const report = merged?.report ?? [];
    const networks: AppliedNetworks = {
      loras: loras.map((l, i) => ({
        name: l.request.name,
        weight: l.request.weight,
        ...(l.request.unet !== undefined ? { unet: l.request.unet } : {}),
        matched: report[i]?.matched ?? 0,
        total: report[i]?.total ?? l.modules.length,
        hash: l.hash,
      })),
      embeddings: embeddings.map((e) => ({ name: e.embedding.name, vectors: e.embedding.count, hash: e.hash })),
      mergePeakBytes: merged?.largestCopyBytes ?? 0,
    };
    return { loaded: models, networks };
  }

  /** The registry's LoRAs for the requested names; an unknown name is an error listing what there is. */
  private async resolveLoras(all: readonly ModelInfo[], requests: readonly LoraRequest[]): Promise<ResolvedLora[]> {
    const available = all.filter((m) => m.model_type === 'lora' && m.status === 'verified');
    const out: ResolvedLora[] = [];
    for (const request of requests) {
      const info = available.find((m) => m.name === request.name) ?? uniqueFold(available, request.name);
      if (!info) {
        const names = available.map((m) => `'${m.name}'`).join(', ');
        const broken = all.find((m) => m.model_type === 'lora' && m.name === request.name);
        throw new Error(
          broken
            ? `LoRA '${request.name}' did not pass verification: ${broken.status_message ?? broken.status}`
            : available.length
              ? `unknown LoRA '${request.name}'; available: ${names}`
              : `unknown LoRA '${request.name}': no LoRAs are imported (import one in the Models view)`,
        );
      }
      const file = info.components.find((c) => c.role === 'lora_weights');
      if (!file) throw new Error(`LoRA '${info.name}' has no stored file; import it again`);
      const parsed = await this.loraModules(info, file.sha256, file.path);
      out.push({ request: { ...request, name: info.name }, info, fileSha: file.sha256, modules: parsed.modules, hash: parsed.hash });
    }
    return out;
  }

  /** A LoRA file's modules, parsed once per file (kept for the last few files used). */
  private loraModules(info: ModelInfo, sha: string, path: string): Promise<{ modules: LoraModule[]; hash: string }> {
    let entry = this.loraCache.get(sha);
    if (entry) {
      this.loraCache.delete(sha); // most recently used last
      this.loraCache.set(sha, entry);
      return entry;
    }
    entry = (async () => {
      const bytes = await this.deps.reader(info)(path);
      if (!bytes) throw new Error(`LoRA '${info.name}': its file ${path} is not stored; import it again`);
      const blob = new Blob([bytes as Uint8Array<ArrayBuffer>]);
      const header = await readSafetensorsHeader(blob);
      const start = 8 + header.headerBytes;
      const modules = await readLoraModules({
        tensors: header.tensors,
        metadata: header.metadata,
        read: async (t) => bytes.subarray(start + t.begin, start + t.end),
      });
      // Rows imported before hashes were recorded: the same addnet hash, from the bytes at hand.
      const stored = typeof info.metadata.lora_hash === 'string' ? info.metadata.lora_hash : undefined;
      return { modules, hash: stored ?? (await loraAddnetHash(blob)) };
    })();
    entry.catch(() => this.loraCache.delete(sha));
    this.loraCache.set(sha, entry);
    while (this.loraCache.size > LORA_CACHE_SIZE) this.loraCache.delete(this.loraCache.keys().next().value!);
    return entry;
  }

  /**
   * The embeddings whose names the prompts use, in name order. Every imported, verified embedding
   * of the text encoder's width is a candidate; one of another width used in a prompt is an error
   * naming both widths.
   */
  private async resolveEmbeddings(all: readonly ModelInfo[], base: LoadedBase, prompts: readonly string[]): Promise<ResolvedEmbedding[]> {
    const imported = all.filter((m) => m.model_type === 'embedding' && m.status === 'verified');
    if (imported.length === 0 || prompts.every((p) => p.trim() === '')) return [];
    const tokenizer = await (base.tokenizer ??= loadTokenizer(base.read));
    const width = await this.widthOf(base);
    const fits = (m: ModelInfo) => embeddingWidths(m).includes(width);
    const candidates = imported.filter(fits);
    // Names only: placeholders of one value per vector find the words without reading any file.
    const used = (list: readonly ModelInfo[]) => {
      const seen = new Set<string>();
      const unique = list.filter((m) => {
        const key = tokenizer.tokenize(m.name).join(' ');
        if (seen.has(key) || key === '') return false;
        seen.add(key);
        return true;
      });
      if (unique.length === 0) return new Set<string>();
      const set = placeEmbeddings(
        unique.map((m) => ({ name: m.name, count: embeddingVectors(m), width: 1, vectors: new Float32Array(embeddingVectors(m)) })),
        { firstId: tokenizer.vocabSize, width: 1 },
      );
      const finder = new EmbeddingTokenizer(tokenizer, set);
      const names = new Set<string>();
      for (const p of prompts) for (const name of usedIn(finder, p)) names.add(name);
      return names;
    };
    const candidateWords = new Set(candidates.map((m) => tokenizer.tokenize(m.name).join(' ')));
    const others = imported.filter((m) => !fits(m) && !candidateWords.has(tokenizer.tokenize(m.name).join(' ')));
    const wrong = [...used(others)][0];
    if (wrong !== undefined) {
      const info = others.find((m) => m.name === wrong)!;
      throw new EmbeddingError(
        `embedding "${wrong}" has ${describeWidth(embeddingWidths(info)[0])}-wide vectors but this model's text encoder is ${describeWidth(width)} wide; ` +
          `use an embedding trained for this model's family, or take "${wrong}" out of the prompt`,
      );
    }
    const names = [...used(candidates)].sort();
    const out: ResolvedEmbedding[] = [];
    for (const name of names) {
      const info = candidates.find((m) => m.name === name)!;
      const file = info.components.find((c) => c.role === 'embedding_weights');
      if (!file) throw new Error(`embedding '${info.name}' has no stored file; import it again`);
      const key = `${file.sha256}:${width}:${info.name}`;
      let entry = this.embeddingCache.get(key);
      if (!entry) {
        entry = (async () => {
          const bytes = await this.deps.reader(info)(file.path);
          if (!bytes) throw new Error(`embedding '${info.name}': its file ${file.path} is not stored; import it again`);
          return loadEmbedding(bytes, file.path, { name: info.name, width });
        })();
        entry.catch(() => this.embeddingCache.delete(key));
        this.embeddingCache.set(key, entry);
      }
      const stored = typeof info.metadata.embedding_hash === 'string' ? info.metadata.embedding_hash : shortHash(file.sha256);
      out.push({ embedding: await entry, fileSha: file.sha256, hash: stored });
    }
    return out;
  }

  /** The text encoder's width: its recorded signature, else its graph's declared output. */
  private widthOf(base: LoadedBase): Promise<number> {
    return (base.width ??= (async () => {
      const session = base.last?.model.hiddenSize;
      if (session) return session;
      const signature = base.info.components.find((c) => c.role === 'text_encoder')?.outputs;
      const declared = textEncoderWidth(signature);
      if (declared) return declared;
      const bytes = await base.read('text_encoder/model.onnx');
      if (!bytes) throw new Error(`'${base.info.name}' has no text encoder to add embeddings to`);
      const width = textEncoderWidth((await inspectOnnx(sliceableBytes(bytes))).outputs);
      if (!width) throw new Error(`'${base.info.name}': the text encoder's output width is not declared, so embeddings cannot be matched to it`);
      return width;
    })().catch((err: unknown) => {
      base.width = undefined;
      throw err;
    }));
  }

  /** Releases every open session (another checkpoint is next, or the worker is going away). */
  async release(): Promise<void> {
    const previous = this.base;
    this.base = null;
    if (!previous) return;
    await Promise.all([...previous.components.values()].map((c) => c.session.session.release().catch(() => undefined)));
  }
}

/** The embeddings a prompt uses as the stage will chunk it (literally, if its brackets do not parse). */
function usedIn(finder: EmbeddingTokenizer, prompt: string): string[] {
  try {
    return finder.usedEmbeddings(prompt);
  } catch {
    return finder.usedEmbeddings(prompt, { emphasis: 'none' });
  }
}

function statusLines(networks: AppliedNetworks): string[] {
  const lines = networks.loras.map((l) => `LoRA \`${l.name}\`: ${l.matched} of ${l.total} modules`);
  if (networks.embeddings.length) lines.push(`Embeddings: ${networks.embeddings.map((e) => `\`${e.name}\``).join(', ')}`);
  return lines;
}

/** A name that differs only in case from exactly one LoRA (names typed into a prompt). */
function uniqueFold(list: readonly ModelInfo[], name: string): ModelInfo | undefined {
  const found = list.filter((m) => m.name.toLowerCase() === name.toLowerCase());
  return found.length === 1 ? found[0] : undefined;
}

function loraFamily(info: ModelInfo): LoraToApply['family'] {
  const family = (info.metadata.lora as { family?: unknown } | undefined)?.family;
  return family === 'sd1' || family === 'sd2' || family === 'sdxl' ? family : 'unknown';
}

/** The widths an embedding's classification found ([768], [1024], SDXL [768, 1280]). */
function embeddingWidths(info: ModelInfo): number[] {
  const dims = (info.metadata.embedding as { dims?: unknown } | undefined)?.dims;
  return Array.isArray(dims) ? dims.filter((d): d is number => typeof d === 'number') : [];
}

function embeddingVectors(info: ModelInfo): number {
  const tokens = (info.metadata.embedding as { tokens?: unknown } | undefined)?.tokens;
  return typeof tokens === 'number' && tokens >= 1 ? tokens : 1;
}

function textEncoderWidth(outputs: ReadonlyArray<{ name: string; shape: ReadonlyArray<number | string> }> | undefined): number | undefined {
  const out = outputs?.find((o) => o.name === 'last_hidden_state') ?? outputs?.[0];
  const w = out?.shape[2];
  return typeof w === 'number' ? w : undefined;
}
