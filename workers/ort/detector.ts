/**
 * onnxruntime-web implementation of the pipeline's DetectorPort: a session from the model's
 * bytes, its input and output names and shapes from the session, and its decoding layout
 * identified from those shapes (the same rules `detect` checks on every run). The bundled
 * detectors (models.json) are opened through OrtDetectorProvider, integrity-checked by sha256,
 * and so are the verified detectors the user imported whose classes name the target.
 */
import { fromFloat16Array, toFloat16Array } from '../../src/pipeline/float16';
import { identifyDetector, type DetectorDecoding } from '../../src/pipeline/detection/layouts';
import { YOLO_DECODING } from '../../src/pipeline/detection/specs';
import type { DetectorLayout, DetectorPort } from '../../src/pipeline/ports';
import type { Tensor } from '../../src/pipeline/tensor';
import type { Backend } from '../../src/protocol/schemas';
import { readBundledManifest, isBundledDetector, verifiedBundledBytes, type BundledDetector } from '../../src/registry/bundled';
import type { Ort, OrtSession } from './types';

type OrtTensor = import('onnxruntime-web').Tensor;

export interface OrtDetectorOptions {
  ort: Ort;
  backend: Backend;
  /** Name for messages (a models.json name or a file name). */
  id: string;
  /** The layout the registry or models.json recorded; the outputs must agree. */
  layout?: DetectorLayout;
  /** Class names by index; default: the SSD family's class, or `class 0`, `class 1`, … for YOLO. */
  classes?: readonly string[];
  /** Input value range; default: the identified family's. */
  valueRange?: readonly [number, number];
}

export interface OrtDetector extends DetectorPort {
  /** What the outputs were identified as (an SSD family's spec, or YOLO with its class count). */
  readonly decoding: DetectorDecoding;
  release(): Promise<void>;
}

/** The model is not an image → boxes detector this port can feed. */
export class DetectorInputError extends Error {
  override name = 'DetectorInputError';
}

/**
 * The class names a detector gets when nothing names them (a YOLO export's classes are numbers
 * to onnxruntime: its `names` live in metadata the runtime does not read).
 */
export const anonymousClass = (index: number): string => `class ${index}`;
export const isAnonymousClass = (name: string): boolean => /^class \d+$/.test(name);

const FLOAT_TYPES = new Set(['float32', 'float16']);
const dimsOf = (shape: ReadonlyArray<number | string>) => `[${shape.join(', ')}]`;
const isStatic = (shape: ReadonlyArray<number | string>) => shape.every((d) => typeof d === 'number' && d > 0);

/** `[1, 3, S, S]` (NCHW) or `[1, S, S, 3]` (NHWC, TF exports): the square side and the layout. */
function squareImageInput(shape: ReadonlyArray<number | string>): { size: number; nhwc: boolean } | null {
  if (shape.length !== 4 || !isStatic(shape)) return null;
  const [n, a, b, c] = shape as number[];
  if (n !== 1) return null;
  if (a === 3 && b === c) return { size: b, nhwc: false };
  if (c === 3 && a === b) return { size: a, nhwc: true };
  return null;
}

/** NCHW `[1, 3, S, S]` → NHWC `[1, S, S, 3]`. */
function toNhwc(t: Tensor): Float32Array {
  const [, c, h, w] = t.dims;
  const plane = h * w;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < plane; i++) for (let k = 0; k < c; k++) out[i * c + k] = t.data[k * plane + i];
  return out;
}

async function readFloat(out: OrtTensor): Promise<Tensor> {
  const raw = await out.getData();
  const data = out.type === 'float16' ? fromFloat16Array(raw as Uint16Array) : new Float32Array(raw as Float32Array);
  return { data, dims: [...out.dims] };
}

export async function createOrtDetector(bytes: Uint8Array, options: OrtDetectorOptions): Promise<OrtDetector> {
  const { ort, backend, id } = options;
  const session: OrtSession = await ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: 'all' });
  try {
    // 1. One float image input, square and of fixed size.
    if (session.inputMetadata.length !== 1) {
      throw new DetectorInputError(`detector '${id}' has ${session.inputMetadata.length} inputs (${session.inputNames.join(', ')}); a detector takes one image`);
    }
    const meta = session.inputMetadata[0];
    const image = meta.isTensor ? squareImageInput(meta.shape) : null;
    if (!meta.isTensor || !image || !FLOAT_TYPES.has(meta.type)) {
      const what = meta.isTensor ? `${meta.type} ${dimsOf(meta.shape)}` : 'not a tensor';
      throw new DetectorInputError(`detector '${id}' input '${meta.name}' is ${what}; expected float32 or float16 [1, 3, S, S] or [1, S, S, 3] with a fixed size S`);
    }
    const inputType = meta.type as 'float32' | 'float16';
    const inputDims = image.nhwc ? [1, image.size, image.size, 3] : [1, 3, image.size, image.size];
    const feed = (t: Tensor): OrtTensor => {
      const data = image.nhwc ? toNhwc(t) : t.data;
      return inputType === 'float16' ? new ort.Tensor('float16', toFloat16Array(data), inputDims) : new ort.Tensor('float32', data, inputDims);
    };
    const runSession = async (t: Tensor): Promise<Tensor[]> => {
      const input = feed(t);
      try {
        const results = await session.run({ [meta.name]: input });
        const outputs: Tensor[] = [];
        for (const name of session.outputNames) {
          outputs.push(await readFloat(results[name]));
          results[name].dispose();
        }
        return outputs;
      } finally {
        input.dispose();
      }
    };
    // 2. Output shapes from the session, or from one run on a black image when they are symbolic.
    const declared = session.outputMetadata.map((m) => (m.isTensor ? m.shape : []));
    const shapes = declared.every(isStatic)
      ? (declared as number[][])
      : (await runSession({ data: new Float32Array(3 * image.size * image.size), dims: [1, 3, image.size, image.size] })).map((t) => [...t.dims]);
    // 3. The layout they fit; the port's class names and value range follow from it.
    const decoding = identifyDetector(image.size, shapes, options.layout);
    const classes =
      options.classes ??
      (decoding.layout === 'yolo' ? Array.from({ length: decoding.numClasses }, (_, i) => anonymousClass(i)) : [decoding.spec.className]);
    const valueRange = options.valueRange ?? (decoding.layout === 'yolo' ? YOLO_DECODING.valueRange : decoding.spec.valueRange);
    // One run at a time: Find and a job's detailer may share this session, and a session runs one call at once.
    let queue: Promise<unknown> = Promise.resolve();
    const run = (t: Tensor): Promise<Tensor[]> => {
      const result = queue.then(() => runSession(t));
      queue = result.catch(() => undefined);
      return result;
    };
    return {
      id,
      layout: decoding.layout,
      inputSize: image.size,
      valueRange,
      classes,
      decoding,
      run,
      release: () => session.release(),
    };
  } catch (err) {
    await session.release();
    throw err;
  }
}

/** A verified detector the user imported: what the probe found, and how to read its file from storage. */
export interface ImportedDetector {
  name: string;
  layout: DetectorLayout;
  classes: readonly string[];
  /** Changes when the stored file does (a model removed and imported again under its name), so no stale session is reused. */
  key: string;
  load(): Promise<Uint8Array>;
}

export interface DetectorChoice<B, I> {
  /** Used for the target, in this order: the bundled ones first, then the imported. */
  bundled: B[];
  imported: I[];
  /** Imported detectors whose classes are all unnamed (`class 0`, …): never used for a target on their own. */
  unnamed: I[];
}

/**
 * Which detectors find `target`: those whose class names include it, the bundled first (known
 * and tested), then the imported. A detector whose classes are only numbers is not used: nothing
 * says which number is a face, and guessing would redraw whatever it finds.
 */
export function chooseDetectors<B extends { classes: readonly string[] }, I extends { classes: readonly string[] }>(
  target: string,
  bundled: readonly B[],
  imported: readonly I[],
): DetectorChoice<B, I> {
  return {
    bundled: bundled.filter((m) => m.classes.includes(target)),
    imported: imported.filter((m) => m.classes.includes(target)),
    unnamed: imported.filter((m) => m.classes.length > 0 && m.classes.every(isAnonymousClass)),
  };
}

export interface OrtDetectorProviderOptions {
  ort: Ort;
  backend: Backend;
  /** Reads a file next to models.json (fetch in browsers, fs in Node). */
  readModelFile(file: string): Promise<Uint8Array>;
  /** Verified detectors the user imported (from the registry), read on every `forClass`. */
  imported?: () => Promise<ImportedDetector[]>;
}

/** The bundled detectors of models.json and the imported ones, one session each, reused across jobs. */
export class OrtDetectorProvider {
  private manifest: Promise<BundledDetector[]> | null = null;
  private detectors = new Map<string, Promise<OrtDetector>>();

  constructor(private readonly options: OrtDetectorProviderOptions) {}

  models(): Promise<BundledDetector[]> {
    this.manifest ??= readBundledManifest(this.options.readModelFile).then((models) => models.filter(isBundledDetector));
    return this.manifest;
  }

  /** Every class some bundled detector finds (`face`, `hand`). */
  async classes(): Promise<string[]> {
    return [...new Set((await this.models()).flatMap((m) => m.classes))];
  }

  /** The detectors that find `target` (a class name), opened: the bundled ones first, then the imported. */
  async forClass(target: string): Promise<OrtDetector[]> {
    const imported = (await this.options.imported?.().catch(() => [])) ?? [];
    const choice = chooseDetectors(target, await this.models(), imported);
    if (choice.bundled.length + choice.imported.length === 0) {
      const named = (models: readonly { classes: readonly string[] }[]) =>
        [...new Set(models.flatMap((m) => m.classes).filter((c) => !isAnonymousClass(c)))].join(', ') || 'nothing';
      const importedNote = imported.length ? `; imported detectors find: ${named(imported)}` : '';
      const unnamed = choice.unnamed.length
        ? ` (${choice.unnamed.map((m) => `'${m.name}'`).join(', ')} name no classes, only class 0, class 1, …, and are not used on their own)`
        : '';
      throw new Error(`no bundled detector finds '${target}'; bundled detectors find: ${named(await this.models())}${importedNote}${unnamed}`);
    }
    return Promise.all([...choice.bundled.map((m) => this.load(m)), ...choice.imported.map((m) => this.loadImported(m))]);
  }

  load(model: BundledDetector): Promise<OrtDetector> {
    return this.cached(model.name, () => this.open(model));
  }

  private loadImported(model: ImportedDetector): Promise<OrtDetector> {
    return this.cached(`imported:${model.key}`, async () =>
      createOrtDetector(await model.load(), {
        ort: this.options.ort,
        backend: this.options.backend,
        id: model.name,
        layout: model.layout,
        classes: model.classes,
      }),
    );
  }

  private cached(key: string, open: () => Promise<OrtDetector>): Promise<OrtDetector> {
    let detector = this.detectors.get(key);
    if (!detector) {
      detector = open();
      this.detectors.set(key, detector);
      // A failed load must not poison the cache: the next job tries again.
      detector.catch(() => this.detectors.delete(key));
    }
    return detector;
  }

  private async open(model: BundledDetector): Promise<OrtDetector> {
    const bytes = await verifiedBundledBytes(model, await this.options.readModelFile(model.file));
    return createOrtDetector(bytes, {
      ort: this.options.ort,
      backend: this.options.backend,
      id: model.name,
      layout: model.detector_layout,
      classes: model.classes,
      valueRange: model.value_range,
    });
  }

  async release(): Promise<void> {
    const detectors = [...this.detectors.values()];
    this.detectors.clear();
    await Promise.all(detectors.map(async (d) => (await d.catch(() => null))?.release()));
  }
}
