/**
 * A single-file checkpoint seen as a diffusers / optimum ONNX folder, without writing one: what
 * the studio's folder loader reads, served from the checkpoint itself.
 *
 * `<component>/model.onnx` is the graph the builder makes (megabytes), its initializers pointing
 * into `<component>/model.onnx_data` (or `.0`, `.1`, … when a component's weights exceed one
 * part), and each part is a byte range of the checkpoint read when asked: no weight is copied
 * or converted, so the weights keep the checkpoint's dtype and the graph casts them to `compute`.
 * With `weights: 'float16'` a component with float32 (or bfloat16) weights is the exception: its
 * parts are float16 copies made when read, component by component (half the memory of the
 * float32 weights, which a full-size UNet needs on WASM's 4 GB and on WebGPU).
 * The small files (tokenizer, scheduler config, model_index.json) are the converted folder's.
 */
import { encodeModel } from '../convert/onnx-build';
import { CHECKPOINT_COMPONENTS, type CheckpointComponent, type CheckpointPlan } from './architecture';
import { MAX_PART_BYTES, planExternalParts, type ComputeType, type ExternalPart, type ExternalPartsPlan } from './build';
import { BUILDERS, convertFloats, DATA_FILE, folderConfigFiles, folderLayout, type CheckpointBytes, type FloatDtype } from './onnx-folder';

/** How the weights are held: as the checkpoint stores them, or converted to float16 copies. */
export type CheckpointWeights = 'checkpoint' | 'float16';

export interface VirtualFolderOptions {
  /** The type the graphs compute in and declare their float I/O in (default float32). */
  compute?: ComputeType;
  /** default MAX_PART_BYTES */
  maxPartBytes?: number;
  /** default 'checkpoint' (no copy) */
  weights?: CheckpointWeights;
}

/** A component's external-data parts, the plan its graph is built from, and how a part is read. */
interface ComponentParts extends ExternalPartsPlan {
  plan: CheckpointPlan;
  converted: boolean;
  read(part: ExternalPart): Promise<Uint8Array>;
}

export interface VirtualFolder {
  /** A file by its path inside the folder (`unet/model.onnx`); undefined when there is none. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Every file the folder has. */
  paths(): string[];
  /** Whether the component's weights are converted copies (its parts are made when read). */
  converts(component: CheckpointComponent): boolean;
}

/** A checkpoint seen as a diffusers/optimum ONNX folder without writing one: `<component>/model.onnx` is built on demand (no weight copy), `<component>/<part>` are byte ranges of the checkpoint, plus model_index.json, scheduler/scheduler_config.json, tokenizer/*. */
export function checkpointFolder(plan: CheckpointPlan, source: CheckpointBytes, options: VirtualFolderOptions = {}): VirtualFolder {
  const compute = options.compute ?? 'float32';
  const maxBytes = options.maxPartBytes ?? MAX_PART_BYTES;
  // Planned up front (cheap): the part names are part of the listing, and a tensor too large
  // for any part is refused before anything loads.
  const parts = new Map<CheckpointComponent, ComponentParts>(
    CHECKPOINT_COMPONENTS.map((c) => [c, options.weights === 'float16' && !allHalf(plan, c) ? convertedParts(plan, c, source, maxBytes) : fileParts(plan, c, source, maxBytes)]),
  );
  const graphs = new Map<CheckpointComponent, Uint8Array>();
  const graph = (component: CheckpointComponent) => {
    let bytes = graphs.get(component);
    if (!bytes) {
      const { plan: built, locate } = parts.get(component)!;
      bytes = encodeModel(BUILDERS[component](built, { locate, compute }).model);
      graphs.set(component, bytes);
    }
    // A copy: a caller may transfer or detach what it is given, and the kept graph must survive.
    return bytes.slice();
  };

  const files = new Map<string, () => Promise<Uint8Array>>();
  for (const component of CHECKPOINT_COMPONENTS) {
    files.set(`${component}/model.onnx`, async () => graph(component));
    const { parts: list, read } = parts.get(component)!;
    for (const part of list) files.set(`${component}/${part.location}`, () => read(part));
  }
  for (const file of folderConfigFiles(plan)) files.set(file.path, file.data);

  return {
    read: async (path) => files.get(path)?.(),
    paths: () => [...files.keys()],
    converts: (component) => parts.get(component)!.converted,
  };
}

const allHalf = (plan: CheckpointPlan, component: CheckpointComponent) => [...plan.weights[component].values()].every((ref) => ref.dtype === 'F16');

/** Parts that are byte ranges of the checkpoint file itself. */
function fileParts(plan: CheckpointPlan, component: CheckpointComponent, source: CheckpointBytes, maxBytes: number): ComponentParts {
  const planned = planExternalParts(plan.weights[component].values(), { location: DATA_FILE, dataOffset: source.dataOffset, maxBytes });
  return { ...planned, plan, converted: false, read: (part) => source.read(part.begin, part.end) };
}

/**
 * Parts holding float16 copies of the component's weights, packed as the converted folder packs
 * them (folderLayout); each part is filled tensor by tensor when read, so converting costs the
 * part and one source tensor at a time.
 */
function convertedParts(plan: CheckpointPlan, component: CheckpointComponent, source: CheckpointBytes, maxBytes: number): ComponentParts {
  const layout = folderLayout(plan, component, 'float16');
  const planned = planExternalParts(layout.weights.values(), { location: DATA_FILE, dataOffset: 0, maxBytes });
  return {
    ...planned,
    plan: { ...plan, weights: { ...plan.weights, [component]: layout.weights } },
    converted: true,
    async read(part) {
      const out = new Uint8Array(part.end - part.begin);
      for (const { from, to } of layout.copies) {
        if (to.begin < part.begin || to.end > part.end) continue;
        const bytes = await source.read(source.dataOffset + from.begin, source.dataOffset + from.end);
        out.set(convertFloats(bytes, from.dtype as FloatDtype, to.dtype as FloatDtype), to.begin - part.begin);
      }
      return out;
    },
  };
}
