/**
 * Lowers a TF.js graph model (read by `tfjs-graph.ts`) to an ONNX model.
 *
 * Layout: TF computes in NHWC, ONNX convolutions and pools in NCHW. The ONNX input is the image
 * in NCHW (`input`, float32 [1, C, H, W]) and every tensor produced by a convolution or pool
 * stays NCHW; element-wise ops, padding and channel concatenation follow it with their axes and
 * constants permuted. A Transpose back to NHWC is inserted only where the memory order itself is
 * observed: before a Reshape (it flattens NHWC order), a concatenation of non-image tensors, and
 * an output still in NCHW. So every output has TF's shape and element order exactly.
 *
 * Padding: TF's SAME pads (total = max((out-1)·s + k - in, 0), the odd pixel after) are written
 * as explicit, possibly asymmetric ONNX pads; transposed convolutions get the same pads and an
 * output_padding for what TF adds past the last input.
 *
 * Names: each ONNX tensor is named after the TF node producing it (outputs keep TF.js's output
 * names, without `:0`); the converter's own tensors add a `:suffix` (a character TF node names
 * cannot contain), so they never collide.
 */
import type { onnx } from 'onnx-proto';
import { encodeModel, floatAttr, floatTensor, floatValueInfo, hwioToOihw, int64Tensor, intAttr, intsAttr, IR_VERSION, OPSET, PRODUCER_NAME } from './onnx-build';
import type { ConstTensor, GraphOp, Operand, Padding, TfGraph } from './tfjs-graph';

/** The ONNX model's single input. */
export const GRAPH_INPUT = 'input';

export interface GraphConversion {
  model: onnx.IModelProto;
  bytes: Uint8Array;
  /** The input's NCHW shape [1, C, H, W]. */
  inputShape: number[];
  /** The outputs in TF.js's order, with TF's shapes and element order. */
  outputs: Array<{ name: string; shape: number[] }>;
}

/** A tensor of the graph: its ONNX name, how its data is laid out, its TF shape. */
interface Value {
  name: string;
  /** `nchw`: a TF NHWC tensor held transposed to NCHW; `tf`: held exactly as TF holds it. */
  layout: 'nchw' | 'tf';
  shape: number[];
}

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** Where each NHWC axis is in NCHW. */
const NCHW_AXIS_OF = [0, 2, 3, 1];

/** Output size and [before, after] padding of one spatial axis, as TF defines SAME and VALID. */
function window1d(inSize: number, size: number, stride: number, padding: Padding): { out: number; before: number; after: number } {
  if (padding === 'VALID') return { out: Math.ceil((inSize - size + 1) / stride), before: 0, after: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + size - inSize, 0);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

/** Row-major transpose of a small constant. */
function transposeData(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let d = 0; d < rank; d++) source += index[d] * strides[perm[d]];
    out[o] = data[source];
    for (let d = rank - 1; d >= 0 && ++index[d] === outShape[d]; d--) index[d] = 0;
  }
  return out;
}

function broadcastShape(a: number[], b: number[], where: string): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`graph-to-onnx: "${where}": shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

/** Builds the ONNX model for `graph` and serialises it; `name` names the ONNX graph. */
export function graphToOnnx(graph: TfGraph, name: string): GraphConversion {
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const values = new Map<string, Value>();
  const transposed = new Set<string>();

  const inputShape = graph.input.shape;
  values.set(graph.input.name, { name: GRAPH_INPUT, layout: 'nchw', shape: inputShape });
  if (graph.input.name !== GRAPH_INPUT && graph.ops.some((op) => op.name === GRAPH_INPUT)) {
    throw new Error(`graph-to-onnx: a node is named "${GRAPH_INPUT}", the name the ONNX input needs`);
  }

  const value = (tensor: string): Value => {
    const v = values.get(tensor);
    if (!v) throw new Error(`graph-to-onnx: "${tensor}" is read before it is computed`);
    return v;
  };
  const emit = (opType: string, nodeName: string, inputs: string[], output: string, attribute: onnx.IAttributeProto[] = []) => {
    nodes.push({ name: nodeName, opType, input: inputs, output: [output], attribute });
  };
  const initializer = (tensor: onnx.ITensorProto): string => {
    initializers.push(tensor);
    return tensor.name!;
  };
  const convert = (v: Value, layout: Value['layout']): string => {
    if (v.layout === layout) return v.name;
    if (v.shape.length !== 4) throw new Error(`graph-to-onnx: "${v.name}" (rank ${v.shape.length}) cannot be changed to ${layout}`);
    const out = `${v.name}:${layout === 'nchw' ? 'nchw' : 'nhwc'}`;
    if (!transposed.has(out)) {
      transposed.add(out);
      emit('Transpose', out, [v.name], out, [intsAttr('perm', layout === 'nchw' ? TO_NCHW : TO_NHWC)]);
    }
    return out;
  };
  /** A constant that broadcasts against an NHWC tensor, laid out to broadcast against its NCHW form. */
  const nchwConstant = (constant: ConstTensor, tensorName: string): onnx.ITensorProto => {
    if (constant.shape.length > 4) throw new Error(`graph-to-onnx: "${tensorName}": a rank-${constant.shape.length} constant cannot broadcast against an image`);
    const shape = [...new Array<number>(4 - constant.shape.length).fill(1), ...constant.shape];
    return floatTensor(tensorName, TO_NCHW.map((p) => shape[p]), transposeData(constant.data, shape, TO_NCHW));
  };
  /** Spatial output size and ONNX pads [top, left, bottom, right] of a window op on `x`. */
  const spatial = (op: GraphOp & { padding: Padding; strides: [number, number] }, x: Value, window: [number, number]) => {
    const h = window1d(x.shape[1], window[0], op.strides[0], op.padding);
    const w = window1d(x.shape[2], window[1], op.strides[1], op.padding);
    if (h.out < 1 || w.out < 1) throw new Error(`graph-to-onnx: "${op.name}": a ${window.join('×')} window does not fit the ${x.shape[1]}×${x.shape[2]} input`);
    return { height: h.out, width: w.out, pads: [h.before, w.before, h.after, w.after] };
  };
  const checkImage = (op: GraphOp, x: Value, channels: number) => {
    if (x.shape.length !== 4 || x.shape[3] !== channels) {
      throw new Error(`graph-to-onnx: "${op.name}" expects an NHWC image with ${channels} channels, its input is [${x.shape.join(', ')}]`);
    }
  };

  for (const op of graph.ops) {
    values.set(op.name, lower(op));
  }

  function lower(op: GraphOp): Value {
    switch (op.op) {
      case 'conv2d': {
        const x = value(op.input);
        const [kh, kw, cin, cout] = op.filter.shape;
        checkImage(op, x, cin);
        const { height, width, pads } = spatial(op, x, [kh, kw]);
        const weight = initializer(floatTensor(`${op.name}:filter`, [cout, cin, kh, kw], hwioToOihw(op.filter.data, kh, kw, cin, cout)));
        const bias = initializer(floatTensor(`${op.name}:bias`, [cout], op.bias));
        const convOut = op.activation ? `${op.name}:conv` : op.name;
        emit('Conv', op.name, [convert(x, 'nchw'), weight, bias], convOut, [
          intsAttr('dilations', [1, 1]),
          intAttr('group', 1),
          intsAttr('kernel_shape', [kh, kw]),
          intsAttr('pads', pads),
          intsAttr('strides', op.strides),
        ]);
        const activation = op.activation;
        const act = `${op.name}:activation`;
        if (activation?.kind === 'relu') emit('Relu', act, [convOut], op.name);
        if (activation?.kind === 'relu6') {
          const min = initializer(floatTensor(`${op.name}:min`, [], [0]));
          const max = initializer(floatTensor(`${op.name}:max`, [], [6]));
          emit('Clip', act, [convOut, min, max], op.name);
        }
        if (activation?.kind === 'leakyrelu') emit('LeakyRelu', act, [convOut], op.name, [floatAttr('alpha', activation.alpha)]);
        if (activation?.kind === 'prelu') emit('PRelu', act, [convOut, initializer(nchwConstant(activation.alpha, `${op.name}:alpha`))], op.name);
        return { name: op.name, layout: 'nchw', shape: [x.shape[0], height, width, cout] };
      }
      case 'depthwise_conv2d': {
        const x = value(op.input);
        const [kh, kw, cin, multiplier] = op.filter.shape;
        checkImage(op, x, cin);
        const { height, width, pads } = spatial(op, x, [kh, kw]);
        // One group per input channel: ONNX output channel o reads input channel
        // floor(o / multiplier), as TF's c·multiplier + m reads c. Read as HWIO, the filter is
        // [kh, kw, 1, cin·multiplier] with that same channel order.
        const cout = cin * multiplier;
        const weight = initializer(floatTensor(`${op.name}:filter`, [cout, 1, kh, kw], hwioToOihw(op.filter.data, kh, kw, 1, cout)));
        emit('Conv', op.name, [convert(x, 'nchw'), weight], op.name, [
          intsAttr('dilations', [1, 1]),
          intAttr('group', cin),
          intsAttr('kernel_shape', [kh, kw]),
          intsAttr('pads', pads),
          intsAttr('strides', op.strides),
        ]);
        return { name: op.name, layout: 'nchw', shape: [x.shape[0], height, width, cout] };
      }
      case 'conv2d_transpose': {
        const x = value(op.input);
        const [kh, kw, cout, cin] = op.filter.shape;
        checkImage(op, x, cin);
        const [, outHeight, outWidth, outChannels] = op.outputShape;
        if (outChannels !== cout) throw new Error(`graph-to-onnx: "${op.name}": output shape [${op.outputShape.join(', ')}] has not the filter's ${cout} channels`);
        // TF defines it as the gradient of the forward convolution from the output size to the
        // input size: that convolution's pads, and output_padding for rows TF leaves uncovered.
        const axes = [
          [x.shape[1], outHeight, kh, op.strides[0]],
          [x.shape[2], outWidth, kw, op.strides[1]],
        ].map(([inSize, outSize, size, stride]) => {
          const forward = window1d(outSize, size, stride, op.padding);
          const extra = outSize - ((inSize - 1) * stride + size - forward.before - forward.after);
          if (forward.out !== inSize || extra < 0 || extra >= stride) {
            throw new Error(`graph-to-onnx: "${op.name}": output size ${outSize} does not match input ${inSize}, kernel ${size}, stride ${stride}, ${op.padding}`);
          }
          return { ...forward, extra };
        });
        // TF filter [kh, kw, cout, cin] → ONNX ConvTranspose weight [cin, cout, kh, kw], i.e. an
        // HWIO → OIHW transpose with the roles of cin and cout swapped.
        const weight = initializer(floatTensor(`${op.name}:filter`, [cin, cout, kh, kw], hwioToOihw(op.filter.data, kh, kw, cout, cin)));
        emit('ConvTranspose', op.name, [convert(x, 'nchw'), weight], op.name, [
          intsAttr('dilations', [1, 1]),
          intAttr('group', 1),
          intsAttr('kernel_shape', [kh, kw]),
          intsAttr('output_padding', axes.map((a) => a.extra)),
          intsAttr('pads', [axes[0].before, axes[1].before, axes[0].after, axes[1].after]),
          intsAttr('strides', op.strides),
        ]);
        return { name: op.name, layout: 'nchw', shape: [x.shape[0], outHeight, outWidth, cout] };
      }
      case 'max_pool': {
        const x = value(op.input);
        checkImage(op, x, x.shape[3]);
        // ONNX MaxPool, like TF's SAME, never picks a padded position.
        const { height, width, pads } = spatial(op, x, op.window);
        emit('MaxPool', op.name, [convert(x, 'nchw')], op.name, [
          intsAttr('kernel_shape', op.window),
          intsAttr('pads', pads),
          intsAttr('strides', op.strides),
        ]);
        return { name: op.name, layout: 'nchw', shape: [x.shape[0], height, width, x.shape[3]] };
      }
      case 'add':
      case 'mul': {
        const tensors = op.operands.flatMap((o) => ('tensor' in o ? [value(o.tensor)] : []));
        const layout = tensors.some((t) => t.layout === 'nchw') && tensors.every((t) => t.shape.length === 4) ? 'nchw' : 'tf';
        const shapeOf = (o: Operand) => ('tensor' in o ? value(o.tensor).shape : o.constant.shape);
        const shape = broadcastShape(shapeOf(op.operands[0]), shapeOf(op.operands[1]), op.name);
        const inputs = op.operands.map((o, i) => {
          if ('tensor' in o) return convert(value(o.tensor), layout);
          const tensorName = `${op.name}:operand${i}`;
          return initializer(layout === 'nchw' ? nchwConstant(o.constant, tensorName) : floatTensor(tensorName, o.constant.shape, o.constant.data));
        });
        emit(op.op === 'add' ? 'Add' : 'Mul', op.name, inputs, op.name);
        return { name: op.name, layout, shape };
      }
      case 'relu':
      case 'identity': {
        const x = value(op.input);
        emit(op.op === 'relu' ? 'Relu' : 'Identity', op.name, [x.name], op.name);
        return { ...x, name: op.name };
      }
      case 'pad': {
        const x = value(op.input);
        if (op.paddings.length !== x.shape.length) throw new Error(`graph-to-onnx: "${op.name}": ${op.paddings.length} paddings for a rank-${x.shape.length} tensor`);
        const paddings = x.layout === 'nchw' ? TO_NCHW.map((axis) => op.paddings[axis]) : op.paddings;
        const pads = initializer(int64Tensor(`${op.name}:pads`, [2 * paddings.length], [...paddings.map((p) => p[0]), ...paddings.map((p) => p[1])]));
        emit('Pad', op.name, [x.name, pads], op.name, []);
        return { ...x, name: op.name, shape: x.shape.map((size, axis) => size + op.paddings[axis][0] + op.paddings[axis][1]) };
      }
      case 'reshape': {
        const x = value(op.input);
        const count = x.shape.reduce((a, b) => a * b, 1);
        const known = op.shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        const shape = op.shape.map((d) => (d === -1 ? count / known : d));
        if (op.shape.filter((d) => d === -1).length > 1 || shape.reduce((a, b) => a * b, 1) !== count || !shape.every(Number.isInteger)) {
          throw new Error(`graph-to-onnx: "${op.name}": cannot reshape [${x.shape.join(', ')}] to [${op.shape.join(', ')}]`);
        }
        const target = initializer(int64Tensor(`${op.name}:shape`, [shape.length], shape));
        emit('Reshape', op.name, [convert(x, 'tf'), target], op.name);
        return { name: op.name, layout: 'tf', shape };
      }
      case 'concat': {
        const inputs = op.inputs.map(value);
        const rank = inputs[0].shape.length;
        const axis = op.axis < 0 ? op.axis + rank : op.axis;
        const layout = inputs.every((v) => v.layout === 'nchw' && v.shape.length === 4) ? 'nchw' : 'tf';
        const shape = [...inputs[0].shape];
        shape[axis] = 0;
        for (const v of inputs) {
          if (v.shape.length !== rank || v.shape.some((size, d) => d !== axis && size !== inputs[0].shape[d])) {
            throw new Error(`graph-to-onnx: "${op.name}": cannot concatenate [${v.shape.join(', ')}] with [${inputs[0].shape.join(', ')}] on axis ${op.axis}`);
          }
          shape[axis] += v.shape[axis];
        }
        emit('Concat', op.name, inputs.map((v) => convert(v, layout)), op.name, [intAttr('axis', layout === 'nchw' ? NCHW_AXIS_OF[axis] : axis)]);
        return { name: op.name, layout, shape };
      }
    }
  }

  // An output still in NCHW: its producer writes `<name>:nchw` and a Transpose gives `<name>`.
  const outputs = graph.outputs.map((output) => {
    const v = value(output);
    if (v.name === GRAPH_INPUT) throw new Error(`graph-to-onnx: output "${output}" is the input itself`);
    if (graph.outputs.indexOf(output) !== graph.outputs.lastIndexOf(output)) throw new Error(`graph-to-onnx: output "${output}" is listed twice`);
    if (v.layout === 'nchw') {
      const internal = `${v.name}:nchw`;
      for (const node of nodes) {
        node.input = node.input!.map((i) => (i === v.name ? internal : i));
        node.output = node.output!.map((o) => (o === v.name ? internal : o));
      }
      emit('Transpose', `${v.name}:output`, [internal], v.name, [intsAttr('perm', TO_NHWC)]);
    }
    return { name: v.name, shape: v.shape };
  });

  const nchwInput = TO_NCHW.map((axis) => inputShape[axis]);
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: PRODUCER_NAME,
    graph: {
      name,
      node: nodes,
      initializer: initializers,
      input: [floatValueInfo(GRAPH_INPUT, nchwInput)],
      output: outputs.map((o) => floatValueInfo(o.name, o.shape)),
    },
  };
  return { model, bytes: encodeModel(model), inputShape: nchwInput, outputs };
}
