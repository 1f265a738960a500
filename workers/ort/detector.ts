/**
 * onnxruntime-web implementation of the pipeline's DetectorPort: a session from the model's
 * bytes, its input and output names and shapes from the session, and its decoding layout
 * identified from those shapes (the same rules `detect` checks on every run). The bundled
 * detectors (models.json) are opened through OrtDetectorProvider, integrity-checked by sha256.
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
      (decoding.layout === 'yolo' ? Array.from({ length: decoding.numClasses }, (_, i) => `class ${i}`) : [decoding.spec.className]);
    const valueRange = options.valueRange ?? (decoding.layout === 'yolo' ? YOLO_DECODING.valueRange : decoding.spec.valueRange);
    return {
      id,
      layout: decoding.layout,
      inputSize: image.size,
      valueRange,
      classes,
      decoding,
      run: runSession,
      release: () => session.release(),
    };
  } catch (err) {
    await session.release();
    throw err;
  }
}

export interface OrtDetectorProviderOptions {
  ort: Ort;
  backend: Backend;
  /** Reads a file next to models.json (fetch in browsers, fs in Node). */
  readModelFile(file: string): Promise<Uint8Array>;
}

/** The bundled detectors of models.json, one session each, reused across jobs. */
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

  /** The bundled detectors that find `target` (a class name), opened. */
  async forClass(target: string): Promise<OrtDetector[]> {
    const models = (await this.models()).filter((m) => m.classes.includes(target));
    if (models.length === 0) {
      throw new Error(`no bundled detector finds '${target}'; bundled detectors find: ${(await this.classes()).join(', ')}`);
    }
    return Promise.all(models.map((m) => this.load(m)));
  }

  load(model: BundledDetector): Promise<OrtDetector> {
    let detector = this.detectors.get(model.name);
    if (!detector) {
      detector = this.open(model);
      this.detectors.set(model.name, detector);
      // A failed load must not poison the cache: the next job tries again.
      detector.catch(() => this.detectors.delete(model.name));
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
