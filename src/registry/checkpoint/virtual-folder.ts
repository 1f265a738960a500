/**
 * A single-file checkpoint seen as a diffusers / optimum ONNX folder, without writing one: what
 * the studio's folder loader reads, served from the checkpoint itself.
 *
 * `<component>/model.onnx` is the graph the builder makes (megabytes), its initializers pointing
 * into `<component>/model.onnx_data` (or `.0`, `.1`, … when a component's weights exceed one
 * part), and each part is a byte range of the checkpoint read when asked: no weight is copied
 * or converted, so the weights keep the checkpoint's dtype and the graph casts them to `compute`.
 * The small files (tokenizer, scheduler config, model_index.json) are the converted folder's.
 */
import { encodeModel } from '../convert/onnx-build';
import { CHECKPOINT_COMPONENTS, type CheckpointComponent, type CheckpointPlan } from './architecture';
import { MAX_PART_BYTES, planExternalParts, type ComputeType, type ExternalPartsPlan } from './build';
import { BUILDERS, DATA_FILE, folderConfigFiles, type CheckpointBytes } from './onnx-folder';

export interface VirtualFolderOptions {
  /** The type the graphs compute in and declare their float I/O in (default float32). */
  compute?: ComputeType;
  /** default MAX_PART_BYTES */
  maxPartBytes?: number;
}

export interface VirtualFolder {
  /** A file by its path inside the folder (`unet/model.onnx`); undefined when there is none. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Every file the folder has. */
  paths(): string[];
}

/** A checkpoint seen as a diffusers/optimum ONNX folder without writing one: `<component>/model.onnx` is built on demand (no weight copy), `<component>/<part>` are byte ranges of the checkpoint, plus model_index.json, scheduler/scheduler_config.json, tokenizer/*. */
export function checkpointFolder(plan: CheckpointPlan, source: CheckpointBytes, options: VirtualFolderOptions = {}): VirtualFolder {
  const compute = options.compute ?? 'float32';
  // Planned up front (cheap): the part names are part of the listing, and a tensor too large
  // for any part is refused before anything loads.
  const parts = new Map<CheckpointComponent, ExternalPartsPlan>(
    CHECKPOINT_COMPONENTS.map((c) => [
      c,
      planExternalParts(plan.weights[c].values(), { location: DATA_FILE, dataOffset: source.dataOffset, maxBytes: options.maxPartBytes ?? MAX_PART_BYTES }),
    ]),
  );
  const graphs = new Map<CheckpointComponent, Uint8Array>();
  const graph = (component: CheckpointComponent) => {
    let bytes = graphs.get(component);
    if (!bytes) {
      bytes = encodeModel(BUILDERS[component](plan, { locate: parts.get(component)!.locate, compute }).model);
      graphs.set(component, bytes);
    }
    // A copy: a caller may transfer or detach what it is given, and the kept graph must survive.
    return bytes.slice();
  };

  const files = new Map<string, () => Promise<Uint8Array>>();
  for (const component of CHECKPOINT_COMPONENTS) {
    files.set(`${component}/model.onnx`, async () => graph(component));
    for (const part of parts.get(component)!.parts) files.set(`${component}/${part.location}`, () => source.read(part.begin, part.end));
  }
  for (const file of folderConfigFiles(plan)) files.set(file.path, file.data);

  return {
    read: async (path) => files.get(path)?.(),
    paths: () => [...files.keys()],
  };
}
