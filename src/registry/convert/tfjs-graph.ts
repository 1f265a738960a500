/**
 * Reader for TensorFlow.js *graph* models (`model.json` with `format: "graph-model"`: a TensorFlow
 * GraphDef as JSON in `modelTopology.node`, constants in the weight shards) into a small list of
 * typed operations that `graph-to-onnx.ts` lowers to ONNX.
 *
 * Deliberately narrow, like the layers reader: it accepts the ops the bundled MediaPipe detectors
 * (BlazeFace, palm detection) use, with the attribute values whose semantics the lowering
 * reproduces, and rejects anything else with an error naming the node and the op or attribute.
 * Only nodes the outputs depend on are read (TF.js executes no others).
 *
 * Pure TypeScript (no node:fs, no DOM): it takes the JSON text and the shard bytes.
 */
import { z } from 'zod';
import { manifestShardPaths, readWeights, weightsManifestSchema, type WeightTensor } from './tfjs-weights';

/** A float32 constant in TF's own layout (filters HWIO, vectors along the channel axis). */
export interface ConstTensor {
  shape: number[];
  data: Float32Array;
}

export type Padding = 'SAME' | 'VALID';

/** The activation fused into `_FusedConv2D` after its BiasAdd. */
export type FusedActivation =
  | { kind: 'relu' }
  | { kind: 'relu6' }
  | { kind: 'leakyrelu'; alpha: number }
  | { kind: 'prelu'; alpha: ConstTensor };

/** A binary operand: a tensor computed by the graph, or a constant. */
export type Operand = { tensor: string } | { constant: ConstTensor };

/**
 * One operation; `name` is its node's name, which also names its (single) output tensor, and
 * tensor inputs are node names. Spatial pairs are [height, width]; shapes are TF's (NHWC).
 */
export type GraphOp =
  | {
      op: 'conv2d';
      name: string;
      input: string;
      /** HWIO [kh, kw, cin, cout]. */
      filter: ConstTensor;
      bias: Float32Array;
      strides: [number, number];
      padding: Padding;
      activation: FusedActivation | null;
    }
  /** Filter [kh, kw, cin, multiplier]; output channel c·multiplier + m. */
  | { op: 'depthwise_conv2d'; name: string; input: string; filter: ConstTensor; strides: [number, number]; padding: Padding }
  /** Conv2DBackpropInput: filter [kh, kw, cout, cin], output shape NHWC given by the graph. */
  | { op: 'conv2d_transpose'; name: string; input: string; filter: ConstTensor; outputShape: number[]; strides: [number, number]; padding: Padding }
  | { op: 'max_pool'; name: string; input: string; window: [number, number]; strides: [number, number]; padding: Padding }
  | { op: 'add' | 'mul'; name: string; operands: [Operand, Operand] }
  | { op: 'relu'; name: string; input: string }
  /** Zero padding, [before, after] per TF axis. */
  | { op: 'pad'; name: string; input: string; paddings: Array<[number, number]> }
  /** Target shape as TF gives it (one entry may be -1). */
  | { op: 'reshape'; name: string; input: string; shape: number[] }
  | { op: 'concat'; name: string; inputs: string[]; axis: number }
  | { op: 'identity'; name: string; input: string };

export interface TfGraph {
  /** The Placeholder: its node name and static NHWC shape. */
  input: { name: string; shape: number[] };
  /** Topological order (every op after the ops it reads). */
  ops: GraphOp[];
  /** Output node names, in TF.js's order (the signature's, else the graph's sinks). */
  outputs: string[];
}

// ---------------------------------------------------------------------------------------------
// model.json schema (only what we read)

const intValue = z.union([z.string(), z.number()]).transform(Number);

const attrSchema = z.object({
  s: z.string().optional(),
  i: intValue.optional(),
  f: z.number().optional(),
  b: z.boolean().optional(),
  type: z.string().optional(),
  shape: z.object({ dim: z.array(z.object({ size: intValue.optional() })).optional() }).optional(),
  list: z.object({ s: z.array(z.string()).optional(), i: z.array(intValue).optional() }).optional(),
});
type Attr = z.infer<typeof attrSchema>;

const nodeSchema = z.object({
  name: z.string(),
  op: z.string(),
  input: z.array(z.string()).default([]),
  attr: z.record(z.string(), attrSchema).default({}),
});
type GraphNode = z.infer<typeof nodeSchema>;

const signatureSchema = z.object({
  inputs: z.record(z.string(), z.object({ name: z.string() })).optional(),
  outputs: z.record(z.string(), z.object({ name: z.string() })).optional(),
});

const modelJsonSchema = z.object({
  format: z.literal('graph-model'),
  modelTopology: z.object({ node: z.array(nodeSchema) }),
  weightsManifest: weightsManifestSchema,
  signature: signatureSchema.optional(),
  // Some converters (tf.saved_model → tfjs) put the signature here instead; TF.js prefers it.
  userDefinedMetadata: z.object({ signature: signatureSchema.optional() }).optional(),
});
export type GraphModelJson = z.infer<typeof modelJsonSchema>;

/** Validates `model.json` text (or an already parsed object) against the graph-model schema. */
export function parseGraphModelJson(json: string | unknown): GraphModelJson {
  const raw = typeof json === 'string' ? JSON.parse(json) : json;
  const result = modelJsonSchema.safeParse(raw);
  if (!result.success) {
    throw new Error(`tfjs-graph: model.json is not a supported TF.js graph model: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** The shard file names, in manifest order, that `parseGraphModel` expects bytes for. */
export function graphModelShardPaths(json: string | unknown): string[] {
  return manifestShardPaths(parseGraphModelJson(json).weightsManifest);
}

// ---------------------------------------------------------------------------------------------
// Nodes and attributes

export const SUPPORTED_OPS = [
  'Const',
  'Placeholder',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'Conv2DBackpropInput',
  'MaxPool',
  'AddV2',
  'Add',
  'Mul',
  'Relu',
  'Pad',
  'Reshape',
  'ConcatV2',
  'Identity',
] as const;

function nodeError(node: GraphNode, message: string): Error {
  return new Error(`tfjs-graph: node "${node.name}" (${node.op}): ${message}`);
}

const decodeBase64 = (s: string) => new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));

function attr(node: GraphNode, key: string): Attr | undefined {
  return node.attr[key];
}
function attrString(node: GraphNode, key: string): string | undefined {
  const s = attr(node, key)?.s;
  return s === undefined ? undefined : decodeBase64(s);
}
function attrInts(node: GraphNode, key: string): number[] | undefined {
  return attr(node, key)?.list?.i;
}

/** NHWC only: the lowering maps TF's axes from NHWC. */
function checkNhwc(node: GraphNode): void {
  const format = attrString(node, 'data_format');
  if (format !== undefined && format !== 'NHWC') throw nodeError(node, `unsupported data_format "${format}" (only NHWC)`);
}

function checkNoDilation(node: GraphNode): void {
  const dilations = attrInts(node, 'dilations');
  if (dilations && dilations.some((d) => d !== 1)) throw nodeError(node, `unsupported dilations [${dilations.join(', ')}] (only 1)`);
}

function readPadding(node: GraphNode): Padding {
  const padding = attrString(node, 'padding');
  if (padding !== 'SAME' && padding !== 'VALID') throw nodeError(node, `unsupported padding "${padding}" (SAME or VALID)`);
  return padding;
}

/** A 4-element NHWC window attribute (strides, ksize) → its [height, width] part. */
function readSpatial(node: GraphNode, key: string): [number, number] {
  const value = attrInts(node, key);
  if (!value || value.length !== 4 || value[0] !== 1 || value[3] !== 1 || value.some((v) => !Number.isInteger(v) || v < 1)) {
    throw nodeError(node, `unsupported ${key} ${JSON.stringify(value)} (expected [1, h, w, 1])`);
  }
  return [value[1], value[2]];
}

/** `name`, `name:0` → name; control inputs (`^name`) order execution only and carry no data. */
function dataInputs(node: GraphNode): string[] {
  return node.input
    .filter((input) => !input.startsWith('^'))
    .map((input) => {
      const [name, index] = input.split(':');
      if (index !== undefined && index !== '0') throw nodeError(node, `reads output ${index} of "${name}"; only single-output ops are supported`);
      return name;
    });
}

// ---------------------------------------------------------------------------------------------
// Graph

/**
 * Parses a TF.js graph model. `shards` maps each manifest path (see `graphModelShardPaths`) to
 * its bytes. Throws on anything the ONNX lowering could not reproduce exactly.
 */
export function parseGraphModel(json: string | unknown, shards: Readonly<Record<string, ArrayBuffer>>): TfGraph {
  const model = parseGraphModelJson(json);
  const weights = readWeights(model.weightsManifest, shards, 'tfjs-graph');
  const nodes = new Map<string, GraphNode>();
  for (const node of model.modelTopology.node) {
    if (nodes.has(node.name)) throw nodeError(node, 'duplicate node name');
    nodes.set(node.name, node);
  }

  const signature = model.userDefinedMetadata?.signature ?? model.signature;
  const outputs = signature?.outputs
    ? Object.values(signature.outputs).map((entry) => entry.name.split(':')[0])
    : sinks(model.modelTopology.node);
  if (outputs.length === 0) throw new Error('tfjs-graph: the graph has no outputs');
  for (const name of outputs) if (!nodes.has(name)) throw new Error(`tfjs-graph: output "${name}" is not a node of the graph`);

  const ordered = orderNeeded(nodes, outputs);
  const placeholders = ordered.filter((node) => node.op === 'Placeholder');
  if (placeholders.length !== 1) throw new Error(`tfjs-graph: expected one input (Placeholder), the outputs depend on ${placeholders.length}`);
  const input = { name: placeholders[0].name, shape: readInputShape(placeholders[0]) };

  const constant = (node: GraphNode, name: string): WeightTensor => {
    const source = nodes.get(name)!;
    if (source.op !== 'Const') throw nodeError(node, `input "${name}" must be a constant, it is a ${source.op}`);
    const value = weights.get(name);
    if (!value) throw nodeError(source, 'constant without a value in the weights manifest');
    return value;
  };
  const floatConst = (node: GraphNode, name: string): ConstTensor => {
    const value = constant(node, name);
    if (value.dtype !== 'float32') throw nodeError(node, `constant "${name}" is ${value.dtype}, expected float32`);
    return value;
  };
  const intConst = (node: GraphNode, name: string): number[] => {
    const value = constant(node, name);
    if (value.dtype !== 'int32') throw nodeError(node, `constant "${name}" is ${value.dtype}, expected int32`);
    return Array.from(value.data);
  };
  const isConst = (name: string) => nodes.get(name)!.op === 'Const';
  const tensor = (node: GraphNode, name: string): string => {
    if (isConst(name)) throw nodeError(node, `input "${name}" is a constant; constant folding is not supported`);
    return name;
  };
  const operand = (node: GraphNode, name: string): Operand => (isConst(name) ? { constant: floatConst(node, name) } : { tensor: name });

  const ops: GraphOp[] = [];
  for (const node of ordered) {
    const inputs = dataInputs(node);
    const expectInputs = (count: number) => {
      if (inputs.length !== count) throw nodeError(node, `expected ${count} inputs, got ${inputs.length}`);
    };
    const name = node.name;
    switch (node.op) {
      case 'Const':
      case 'Placeholder':
        break;
      case '_FusedConv2D': {
        checkNhwc(node);
        checkNoDilation(node);
        const fused = (attr(node, 'fused_ops')?.list?.s ?? []).map(decodeBase64);
        // x, filter, then the fused ops' arguments: the bias, and PReLU's slopes.
        const activation = readFusedActivation(node, fused, () => (expectInputs(4), floatConst(node, inputs[3])));
        const numArgs = attr(node, 'num_args')?.i ?? 0;
        const extra = activation?.kind === 'prelu' ? 1 : 0;
        if (numArgs !== 1 + extra) throw nodeError(node, `num_args ${numArgs} does not match fused_ops [${fused.join(', ')}]`);
        expectInputs(3 + extra);
        const filter = floatConst(node, inputs[1]);
        const bias = floatConst(node, inputs[2]);
        if (filter.shape.length !== 4 || bias.shape.length !== 1 || bias.shape[0] !== filter.shape[3]) {
          throw nodeError(node, `filter ${JSON.stringify(filter.shape)} and bias ${JSON.stringify(bias.shape)} do not fit together`);
        }
        ops.push({
          op: 'conv2d',
          name,
          input: tensor(node, inputs[0]),
          filter,
          bias: bias.data,
          strides: readSpatial(node, 'strides'),
          padding: readPadding(node),
          activation,
        });
        break;
      }
      case 'DepthwiseConv2dNative': {
        checkNhwc(node);
        checkNoDilation(node);
        expectInputs(2);
        const filter = floatConst(node, inputs[1]);
        if (filter.shape.length !== 4) throw nodeError(node, `filter shape ${JSON.stringify(filter.shape)} is not [kh, kw, cin, multiplier]`);
        ops.push({ op: 'depthwise_conv2d', name, input: tensor(node, inputs[0]), filter, strides: readSpatial(node, 'strides'), padding: readPadding(node) });
        break;
      }
      case 'Conv2DBackpropInput': {
        checkNhwc(node);
        checkNoDilation(node);
        expectInputs(3);
        const filter = floatConst(node, inputs[1]);
        const outputShape = intConst(node, inputs[0]);
        if (filter.shape.length !== 4 || outputShape.length !== 4) throw nodeError(node, `filter ${JSON.stringify(filter.shape)} / output shape ${JSON.stringify(outputShape)} are not 4-D`);
        ops.push({
          op: 'conv2d_transpose',
          name,
          input: tensor(node, inputs[2]),
          filter,
          outputShape,
          strides: readSpatial(node, 'strides'),
          padding: readPadding(node),
        });
        break;
      }
      case 'MaxPool':
        checkNhwc(node);
        expectInputs(1);
        ops.push({ op: 'max_pool', name, input: tensor(node, inputs[0]), window: readSpatial(node, 'ksize'), strides: readSpatial(node, 'strides'), padding: readPadding(node) });
        break;
      case 'Add':
      case 'AddV2':
      case 'Mul': {
        expectInputs(2);
        const operands: [Operand, Operand] = [operand(node, inputs[0]), operand(node, inputs[1])];
        if (operands.every((o) => 'constant' in o)) throw nodeError(node, 'both operands are constants; constant folding is not supported');
        ops.push({ op: node.op === 'Mul' ? 'mul' : 'add', name, operands });
        break;
      }
      case 'Relu':
      case 'Identity':
        expectInputs(1);
        ops.push({ op: node.op === 'Relu' ? 'relu' : 'identity', name, input: tensor(node, inputs[0]) });
        break;
      case 'Pad': {
        expectInputs(2);
        const flat = intConst(node, inputs[1]);
        if (flat.length % 2 !== 0 || flat.some((p) => p < 0)) throw nodeError(node, `unsupported paddings ${JSON.stringify(flat)}`);
        const paddings = Array.from({ length: flat.length / 2 }, (_, i): [number, number] => [flat[2 * i], flat[2 * i + 1]]);
        ops.push({ op: 'pad', name, input: tensor(node, inputs[0]), paddings });
        break;
      }
      case 'Reshape':
        expectInputs(2);
        ops.push({ op: 'reshape', name, input: tensor(node, inputs[0]), shape: intConst(node, inputs[1]) });
        break;
      case 'ConcatV2': {
        if (inputs.length < 2) throw nodeError(node, 'expected the tensors and an axis');
        const axis = intConst(node, inputs[inputs.length - 1]);
        if (axis.length !== 1) throw nodeError(node, `axis ${JSON.stringify(axis)} is not a scalar`);
        ops.push({ op: 'concat', name, inputs: inputs.slice(0, -1).map((i) => tensor(node, i)), axis: axis[0] });
        break;
      }
      default:
        throw nodeError(node, `unsupported op "${node.op}" (supported: ${SUPPORTED_OPS.join(', ')})`);
    }
  }
  return { input, ops, outputs };
}

function readFusedActivation(node: GraphNode, fused: string[], preluAlpha: () => ConstTensor): FusedActivation | null {
  if (fused[0] !== 'BiasAdd' || fused.length > 2) {
    throw nodeError(node, `unsupported fused_ops [${fused.join(', ')}] (BiasAdd, then optionally Relu, Relu6, LeakyRelu or Prelu)`);
  }
  switch (fused[1]) {
    case undefined:
      return null;
    case 'Relu':
      return { kind: 'relu' };
    case 'Relu6':
      return { kind: 'relu6' };
    case 'LeakyRelu':
      return { kind: 'leakyrelu', alpha: attr(node, 'leakyrelu_alpha')?.f ?? 0.2 };
    case 'Prelu':
      return { kind: 'prelu', alpha: preluAlpha() };
    default:
      throw nodeError(node, `unsupported fused activation "${fused[1]}" (Relu, Relu6, LeakyRelu, Prelu)`);
  }
}

/** The static NHWC input shape; an unknown batch (-1) is taken as 1, other unknowns refused. */
function readInputShape(node: GraphNode): number[] {
  const dtype = attr(node, 'dtype')?.type;
  if (dtype !== 'DT_FLOAT') throw nodeError(node, `input dtype ${dtype} (only DT_FLOAT)`);
  const dims = (attr(node, 'shape')?.shape?.dim ?? []).map((d) => d.size ?? -1);
  if (dims.length !== 4) throw nodeError(node, `input shape [${dims.join(', ')}] is not an NHWC image`);
  if (dims.slice(1).some((d) => d < 1)) throw nodeError(node, `input shape [${dims.join(', ')}] must have a fixed height, width and channels`);
  return [1, ...dims.slice(1)];
}

/** Nodes nothing reads, in file order (TF.js's outputs when the model has no signature). */
function sinks(nodes: GraphNode[]): string[] {
  const read = new Set(nodes.flatMap((node) => node.input.map((input) => input.replace(/^\^/, '').split(':')[0])));
  return nodes.filter((node) => node.op !== 'Const' && !read.has(node.name)).map((node) => node.name);
}

/**
 * The nodes the outputs depend on, each after its inputs (depth-first from the outputs, inputs
 * in argument order: deterministic for a given model.json).
 */
function orderNeeded(nodes: Map<string, GraphNode>, outputs: string[]): GraphNode[] {
  const ordered: GraphNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: GraphNode | null) => {
    const node = nodes.get(name);
    if (!node) throw new Error(`tfjs-graph: ${from ? `node "${from.name}" reads` : 'output'} "${name}", which is not in the graph`);
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw nodeError(node, 'the graph has a cycle through this node');
    state.set(name, 'visiting');
    for (const input of dataInputs(node)) visit(input, node);
    state.set(name, 'done');
    ordered.push(node);
  };
  for (const name of outputs) visit(name, null);
  return ordered;
}
