/**
 * The graph builder every component builder writes through: nodes named by diffusers' module
 * paths (`/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`, as torch.onnx
 * names them in optimum's exports), small constants inline, and the checkpoint's weights as ONNX
 * external data pointing at their bytes in the file, so a build copies no weights.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import type { SafetensorsDtype } from '../../safetensors-header';
import type { ComponentWeights, TensorRef } from '../architecture';
import { IR_VERSION, OPSET, floatAttr, intAttr, intsAttr, stringAttr } from '../../convert/onnx-build';
import { float32ToFloat16Bits } from '../../../pipeline/float16';

const { TensorProto } = onnxProto.onnx;
const DataType = TensorProto.DataType;

export const BUILDER_PRODUCER = 'media-lab-checkpoint-builder';

/** The float type a graph computes in (and declares its float inputs and outputs in). */
export type ComputeType = 'float32' | 'float16';

export const ONNX_TYPE = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  bfloat16: DataType.BFLOAT16,
  int32: DataType.INT32,
  int64: DataType.INT64,
  bool: DataType.BOOL,
} as const;

/** The checkpoint dtypes a weight may have: floats the graph can Cast from. */
const WEIGHT_TYPES: Partial<Record<SafetensorsDtype, number>> = {
  F32: DataType.FLOAT,
  F16: DataType.FLOAT16,
  BF16: DataType.BFLOAT16,
};

/** Where a weight's bytes are: a file name ORT resolves beside the model, and the byte offset in it. */
export interface WeightLocation {
  location: string;
  offset: number;
}

/** One external-data range the built model reads (the caller supplies these bytes to ORT). */
export interface ExternalRange extends WeightLocation {
  length: number;
  /** The initializer (diffusers parameter name) and the LDM key it came from. */
  name: string;
  key: string;
}

export interface WeightSource {
  weights: ComponentWeights;
  /**
   * Where each weight's bytes are. The usual case, one checkpoint file given to ORT whole, is
   * `fileLocation(name, 8 + headerBytes)`; a caller splitting the file (the browser's 2 GB
   * ArrayBuffer limit) maps each range to its part.
   */
  locate: (ref: TensorRef) => WeightLocation;
}

/** Weights read from one file `location` whose data section starts at byte `dataOffset`. */
export function fileLocation(location: string, dataOffset: number): (ref: TensorRef) => WeightLocation {
  return (ref) => ({ location, offset: dataOffset + ref.begin });
}

export type AttrValue = number | number[] | string | { float: number };

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (typeof v === 'string') return stringAttr(name, v);
  if (Array.isArray(v)) return intsAttr(name, v);
  if (typeof v === 'object') return floatAttr(name, v.float);
  return intAttr(name, v);
}

type Dim = number | string;

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly ranges: ExternalRange[] = [];
  /** Weight name → the value the graph uses (after a Cast when its dtype is not `compute`). */
  private readonly weightValues = new Map<string, string>();
  private readonly constValues = new Map<string, string>();
  private readonly initializerNames = new Set<string>();
  /** Per scope, how many nodes of each op type it has (torch.onnx's `MatMul`, `MatMul_1`, …). */
  private readonly opCounts = new Map<string, number>();
  private readonly scopes: string[] = [];

  constructor(
    private readonly source: WeightSource,
    readonly compute: ComputeType = 'float32',
  ) {}

  get computeType(): number {
    return ONNX_TYPE[this.compute];
  }

  /** Runs `fn` inside the module path `name` (dots kept: `down_blocks.0`, `to_out.0`). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** The current module path as a parameter prefix (`down_blocks.0.resnets.1.`). */
  get prefix(): string {
    return this.scopes.map((s) => `${s}.`).join('');
  }

  /** Adds a node named `/scope/…/Op[_n]`; returns its outputs (`…/Op_output_0`). */
  nodeN(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string[] {
    const path = `/${this.scopes.join('/')}${this.scopes.length ? '/' : ''}`;
    const count = this.opCounts.get(path + op) ?? 0;
    this.opCounts.set(path + op, count + 1);
    const name = `${path}${op}${count ? `_${count}` : ''}`;
    const output = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    this.nodes.push({
      name,
      opType: op,
      input: inputs,
      output,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.nodeN(op, inputs, attrs, 1)[0];
  }

  /** The checkpoint weight `name` (relative to the current scope), as the graph's compute type. */
  weight(name: string, dims?: number[]): string {
    return this.weightAbsolute(this.prefix + name, dims);
  }

  /** Whether the component has the weight `name` (relative to the current scope). */
  has(name: string): boolean {
    return this.source.weights.has(this.prefix + name);
  }

  /** The weight's shape as the plan reads it. */
  shape(name: string): number[] {
    return this.ref(this.prefix + name).shape;
  }

  private ref(fullName: string): TensorRef {
    const ref = this.source.weights.get(fullName);
    if (!ref) throw new Error(`checkpoint weight missing: ${fullName}`);
    return ref;
  }

  /**
   * `dims` views the same bytes in another shape (a 1×1 conv `[o, i, 1, 1]` as `[o, i]`, a bias
   * `[c]` as `[c, 1, 1]`); the element count must match.
   */
  weightAbsolute(fullName: string, dims?: number[]): string {
    const ref = this.ref(fullName);
    const shape = dims ?? ref.shape;
    const viewKey = `${fullName}:${shape.join('x')}`;
    const known = this.weightValues.get(viewKey);
    if (known) return known;
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== ref.shape.reduce((a, b) => a * b, 1)) {
      throw new Error(`checkpoint weight ${fullName} (${ref.key}) has shape [${ref.shape}], expected ${count} elements as [${shape}]`);
    }
    const dataType = WEIGHT_TYPES[ref.dtype];
    if (dataType === undefined) throw new Error(`checkpoint weight ${ref.key} is ${ref.dtype}; only F32, F16 and BF16 can be built`);
    const length = ref.end - ref.begin;
    if (length !== count * (ref.dtype === 'F32' ? 4 : 2)) {
      throw new Error(`checkpoint weight ${ref.key} spans ${length} bytes, not the ${count} ${ref.dtype} values of shape [${ref.shape}]`);
    }
    const { location, offset } = this.source.locate(ref);
    // The initializer keeps the diffusers parameter name (what LoRA merging looks for); the same
    // weight viewed in a second shape is a second initializer over the same bytes.
    const initName = this.initializerNames.has(fullName) ? `${fullName}:${shape.join('x')}` : fullName;
    this.initializerNames.add(initName);
    this.initializers.push({
      name: initName,
      dims: shape,
      dataType,
      dataLocation: TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    this.ranges.push({ name: initName, key: ref.key, location, offset, length });
    // The weight's own dtype is kept in the file; the graph casts it once to what it computes in.
    const value = dataType === this.computeType ? initName : this.castNamed(initName, this.computeType);
    this.weightValues.set(viewKey, value);
    return value;
  }

  private castNamed(input: string, to: number): string {
    const name = `${input}/Cast`;
    const output = `${input}_cast`;
    this.nodes.push({ name, opType: 'Cast', input: [input], output: [output], attribute: [intAttr('to', to)] });
    return output;
  }

  /** A small inline constant in the compute type (computed values: frequencies, ones, epsilons). */
  floatConst(name: string, dims: number[], values: ArrayLike<number>): string {
    return this.typedConst(name, dims, values, this.compute);
  }

  /** A float32 inline constant whatever the compute type (the timestep embedding's maths). */
  float32Const(name: string, dims: number[], values: ArrayLike<number>): string {
    return this.typedConst(name, dims, values, 'float32');
  }

  private typedConst(name: string, dims: number[], values: ArrayLike<number>, type: ComputeType): string {
    const key = `${type}:${dims.join('x')}:${Array.from(values).join(',')}`;
    const known = this.constValues.get(key);
    if (known) return known;
    const width = type === 'float16' ? 2 : 4;
    const bytes = new Uint8Array(values.length * width);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) {
      if (type === 'float16') view.setUint16(i * 2, float32ToFloat16Bits(values[i]), true);
      else view.setFloat32(i * 4, values[i], true);
    }
    const unique = this.uniqueConstName(name);
    this.initializers.push({ name: unique, dims, dataType: ONNX_TYPE[type], rawData: bytes });
    this.constValues.set(key, unique);
    return unique;
  }

  /** An int64 inline constant (shapes, axes, indices). */
  int64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const known = this.constValues.get(key);
    if (known) return known;
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]), true);
    const unique = this.uniqueConstName(`const_i64_${values.join('_').replace(/-/g, 'm')}`);
    this.initializers.push({ name: unique, dims, dataType: DataType.INT64, rawData: bytes });
    this.constValues.set(key, unique);
    return unique;
  }

  private uniqueConstName(base: string): string {
    let name = base;
    for (let i = 1; this.initializerNames.has(name); i++) name = `${base}_${i}`;
    this.initializerNames.add(name);
    return name;
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /**
   * Declares `value` as the graph output `name` (through an Identity, so the name is free);
   * `dims` null leaves the shape to ORT's inference.
   */
  output(name: string, elemType: number, dims: Dim[] | null, value: string): void {
    this.nodes.push({ name: `/${name}/Identity`, opType: 'Identity', input: [value], output: [name] });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** The external-data ranges the model reads so far, in initializer order. */
  get externalRanges(): readonly ExternalRange[] {
    return this.ranges;
  }

  build(graphName: string, docString: string): onnx.IModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: BUILDER_PRODUCER,
      docString,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }
}

function valueInfo(name: string, elemType: number, dims: Dim[] | null): onnx.IValueInfoProto {
  const shape = dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined;
  return { name, type: { tensorType: { elemType, shape } } };
}
