/**
 * The folder reader of a checkpoint stored as one single-file `.safetensors`: the model's files as
 * the folder loader (diffusion-model.ts) and the probe read them, served by `checkpointFolder` from
 * the stored chunks. Weights are byte ranges of the stored file (never the whole file at once);
 * each `<component>/model.onnx` is built on first use, then kept in the graph cache, so the next
 * load reads it back instead of building it again.
 */
import type { BuiltComponent, ModelInfo } from '../src/protocol/models';
import { planCheckpoint } from '../src/registry/checkpoint/ldm-keys';
import { checkpointFolder } from '../src/registry/checkpoint/virtual-folder';
import { readSafetensorsHeader } from '../src/registry/safetensors';
import type { GraphKey } from '../src/storage/model-graphs';
import type { FolderReader } from './ort/diffusion-model';

/**
 * Part of every cached graph's key. Bump it whenever src/registry/checkpoint/build/ (or
 * virtual-folder.ts's part layout) changes the graphs it writes: rows of an older builder are then
 * never read, and a model built before the change is built again on its next load.
 */
export const CHECKPOINT_BUILDER_VERSION = 1;

export type ComputeType = 'float32' | 'float16';

/** How each built component is named in status lines ("Building the UNet from the checkpoint…"). */
const COMPONENT_NAMES: Record<BuiltComponent, string> = {
  text_encoder: 'text encoder',
  unet: 'UNet',
  vae_decoder: 'VAE decoder',
  vae_encoder: 'VAE encoder',
};

const GRAPH = /^(text_encoder|unet|vae_decoder|vae_encoder)\/model\.onnx$/;

export interface CheckpointReaderDeps {
  /** The stored file as one Blob of its chunks (ModelRepository.readFile): slices read lazily. */
  readFile(fileId: string): Promise<Blob>;
  /** The graph cache; without one every load builds. */
  graphs?: { get(key: GraphKey): Promise<Uint8Array | undefined>; put(key: GraphKey, bytes: Uint8Array, buildMs: number): Promise<void> };
  compute: ComputeType;
  /** A line for the person waiting, before each build. */
  onStatus?: (message: string) => void;
  /** After a graph was built (not read from the cache): how long it took. */
  onBuilt?: (component: BuiltComponent, compute: ComputeType, ms: number) => Promise<void> | void;
  now?: () => number;
}

export function buildStatus(component: BuiltComponent): string {
  return `Building the ${COMPONENT_NAMES[component]} from the checkpoint…`;
}

/** The reader of a model whose `source` is a single-file checkpoint. */
export function checkpointReader(info: ModelInfo, deps: CheckpointReaderDeps): FolderReader {
  const file = info.components.find((c) => c.role === 'checkpoint_weights');
  if (!file) throw new Error(`'${info.name}' has no stored checkpoint file; import it again`);
  const now = deps.now ?? (() => performance.now());
  // Opened once per reader, on first read: the header is parsed again from the stored file (the
  // plan is cheap to make and never stored, so it always matches the builder that uses it).
  let folder: Promise<ReturnType<typeof checkpointFolder>> | undefined;
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
      return checkpointFolder(plan, source, { compute: deps.compute });
    })());

  return async (path) => {
    const graph = GRAPH.exec(path);
    if (!graph) return (await open()).read(path);
    const component = graph[1] as BuiltComponent;
    const key: GraphKey = { fileId: file.file_id, component, compute: deps.compute, builder: CHECKPOINT_BUILDER_VERSION };
    // A cache that cannot be read (a damaged row, a closed database) is a cache miss.
    const cached = await deps.graphs?.get(key).catch(() => undefined);
    if (cached) return cached;
    deps.onStatus?.(buildStatus(component));
    const started = now();
    const bytes = await (await open()).read(path);
    if (!bytes) return undefined;
    const ms = Math.round(now() - started);
    // A full disk only costs the next load a rebuild.
    await deps.graphs?.put(key, bytes, ms).catch((err: unknown) => console.warn(`could not cache the built ${component} graph:`, err));
    await deps.onBuilt?.(component, deps.compute, ms);
    return bytes;
  };
}
