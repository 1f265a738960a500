/**
 * The folder reader of a checkpoint stored as one single-file `.safetensors`: the model's files as
 * the folder loader (diffusion-model.ts) and the probe read them, served by `checkpointFolder` from
 * the stored chunks. Weights are byte ranges of the stored file (never the whole file at once);
 * each `<component>/model.onnx` is built on first use, then kept in the graph cache, so the next
 * load reads it back instead of building it again.
 */
import type { BuiltComponent, CheckpointWeightsChoice, ModelInfo } from '../src/protocol/models';
import type { Backend } from '../src/protocol/schemas';
import { CHECKPOINT_COMPONENTS, type CheckpointPlan } from '../src/registry/checkpoint/architecture';
import { planCheckpoint } from '../src/registry/checkpoint/ldm-keys';
import { checkpointFolder, type CheckpointWeights } from '../src/registry/checkpoint/virtual-folder';
import { readSafetensorsHeader } from '../src/registry/safetensors';
import type { GraphKey } from '../src/storage/model-graphs';
import type { FolderReader } from './ort/diffusion-model';

/**
 * Part of every cached graph's key. Bump it whenever src/registry/checkpoint/build/ (or
 * virtual-folder.ts's part layout) changes the graphs it writes: rows of an older builder are then
 * never read, and a model built before the change is built again on its next load.
 */
export const CHECKPOINT_BUILDER_VERSION = 2;

export type ComputeType = 'float32' | 'float16';

/** How each built component is named in status lines ("Building the UNet from the checkpoint…"). */
const COMPONENT_NAMES: Record<BuiltComponent, string> = {
  text_encoder: 'text encoder',
  unet: 'UNet',
  vae_decoder: 'VAE decoder',
  vae_encoder: 'VAE encoder',
};

const GRAPH = /^(text_encoder|unet|vae_decoder|vae_encoder)\/model\.onnx$/;
const WEIGHTS_PART = /^(text_encoder|unet|vae_decoder|vae_encoder)\/model\.onnx_data(\.0)?$/;

/**
 * The most float32 weight bytes `auto` keeps as float32 on WASM. wasm32 addresses 4 GB, which also
 * holds the activations and the runtime: measured, a full-size SD 1.5 with float32 weights (4.3 GB
 * in all, the UNet 3.4 GB) fails to load there, while the same weights as float16 (2.1 GB)
 * generate at 512×512.
 */
export const WASM_FLOAT32_WEIGHTS_LIMIT = 2 * 1024 ** 3;

/**
 * How a checkpoint's weights are held for this run (a pure decision, with its reason): the
 * person's choice when they made one; else float16 copies where float32 would cost more than it
 * gives (on WebGPU always: half the GPU memory, and casting at load would briefly need both
 * copies; on WASM when the float32 weights would not leave room in its 4 GB), else the file's
 * own weights, uncopied.
 */
export function checkpointWeightsFor(choice: CheckpointWeightsChoice, backend: Backend, plan: CheckpointPlan): { weights: CheckpointWeights; reason: string } {
  if (choice !== 'auto') return { weights: choice, reason: 'chosen in the Models view' };
  const refs = CHECKPOINT_COMPONENTS.flatMap((c) => [...plan.weights[c].values()]);
  const wide = refs.filter((r) => r.dtype !== 'F16');
  if (wide.length === 0) return { weights: 'checkpoint', reason: "the file's weights are float16 already" };
  if (backend === 'webgpu') return { weights: 'float16', reason: 'WebGPU: float16 weights take half the GPU memory' };
  const float32Bytes = wide.reduce((sum, r) => sum + ((r.end - r.begin) / (r.dtype === 'F32' ? 4 : 2)) * 4, 0);
  return float32Bytes > WASM_FLOAT32_WEIGHTS_LIMIT
    ? { weights: 'float16', reason: `its float32 weights (${(float32Bytes / 1e9).toFixed(1)} GB) would not leave room in WASM's 4 GB` }
    : { weights: 'checkpoint', reason: "its float32 weights fit in WASM's memory" };
}

export interface CheckpointReaderDeps {
  /** The stored file as one Blob of its chunks (ModelRepository.readFile): slices read lazily. */
  readFile(fileId: string): Promise<Blob>;
  /** The graph cache; without one every load builds. */
  graphs?: { get(key: GraphKey): Promise<Uint8Array | undefined>; put(key: GraphKey, bytes: Uint8Array, buildMs: number): Promise<void> };
  compute: ComputeType;
  /** The backend the graphs run on: with the model's weights choice, decides float16 copies. */
  backend: Backend;
  /** A line for the person waiting, before each build. */
  onStatus?: (message: string) => void;
  /** After a graph was built (not read from the cache): how long it took. */
  /** `variant`: the compute type, and `float16 weights` when the weights are converted copies. */
  onBuilt?: (component: BuiltComponent, variant: string, ms: number) => Promise<void> | void;
  now?: () => number;
}

export function buildStatus(component: BuiltComponent): string {
  return `Building the ${COMPONENT_NAMES[component]} from the checkpoint…`;
}

export function convertStatus(component: BuiltComponent): string {
  return `Converting the ${COMPONENT_NAMES[component]}'s weights to float16…`;
}

/** The reader of a model whose `source` is a single-file checkpoint. */
export function checkpointReader(info: ModelInfo, deps: CheckpointReaderDeps): FolderReader {
  const file = info.components.find((c) => c.role === 'checkpoint_weights');
  if (!file) throw new Error(`'${info.name}' has no stored checkpoint file; import it again`);
  const now = deps.now ?? (() => performance.now());
  // Opened once per reader, on first read: the header is parsed again from the stored file (the
  // plan is cheap to make and never stored, so it always matches the builder that uses it).
  let folder: Promise<{ folder: ReturnType<typeof checkpointFolder>; weights: CheckpointWeights }> | undefined;
  const open = () =>
    (folder ??= (async () => {
      const blob = await deps.readFile(file.file_id);
      const header = await readSafetensorsHeader(blob);
      const plan = planCheckpoint(header, file.path);
      const source = {
        dataOffset: 8 + header.headerBytes,
        async read(begin: number, end: number) {
          const bytes = new Uint8Array(await blob.slice(begin, end).arrayBuffer());
          if (bytes.byteLength !== end - begin) {
            throw new Error(`the stored checkpoint '${file.path}' ends at byte ${begin + bytes.byteLength}, before the weights it announces; import it again`);
          }
          return bytes;
        },
      };
      const { weights } = checkpointWeightsFor(info.source?.weights ?? 'auto', deps.backend, plan);
      return { folder: checkpointFolder(plan, source, { compute: deps.compute, weights }), weights };
    })());

  return async (path) => {
    const graph = GRAPH.exec(path);
    if (!graph) {
      const { folder: opened, weights } = await open();
      const part = WEIGHTS_PART.exec(path);
      // Converting a full-size UNet's weights takes seconds: say so once, at its first part.
      if (part && weights === 'float16' && opened.converts(part[1] as BuiltComponent)) deps.onStatus?.(convertStatus(part[1] as BuiltComponent));
      return opened.read(path);
    }
    const component = graph[1] as BuiltComponent;
    const { weights } = await open();
    const key: GraphKey = { fileId: file.file_id, component, compute: deps.compute, weights, builder: CHECKPOINT_BUILDER_VERSION };
    // A cache that cannot be read (a damaged row, a closed database) is a cache miss.
    const cached = await deps.graphs?.get(key).catch(() => undefined);
    if (cached) return cached;
    deps.onStatus?.(buildStatus(component));
    const started = now();
    const bytes = await (await open()).folder.read(path);
    if (!bytes) return undefined;
    const ms = Math.round(now() - started);
    // A full disk only costs the next load a rebuild.
    await deps.graphs?.put(key, bytes, ms).catch((err: unknown) => console.warn(`could not cache the built ${component} graph:`, err));
    await deps.onBuilt?.(component, weights === 'float16' ? `${deps.compute}, float16 weights` : deps.compute, ms);
    return bytes;
  };
}
