/**
 * A heavier random-weight UNet for the text-to-image benchmark, with the tiny fixture's
 * signature (`sample` [batch, 4, h, w] float32, `timestep` int64 [steps], `encoder_hidden_states`
 * [batch, seq, hidden] float32 → `out_sample` [batch, 4, h, w]), so it drops into the same folder.
 *
 * The fixture's UNet is one 4→4 3×3 convolution: a run costs less than ORT's per-call overhead,
 * so runtime ratios mean nothing on it. This one does real convolution work (conv_in 4→C, `blocks`
 * residual 3×3 C→C convolutions with SiLU, text and timestep conditioning as a per-channel bias,
 * conv_out C→4, tanh): 1.25 GFLOP per 64×64 latent at C = 64, blocks = 2 — hundreds of times less
 * than SD 1.5's UNet, but enough for ORT's kernels, not its call overhead, to set the time.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import { seededRandom } from '../fixtures/tiny-diffusion/factory';

const { ModelProto, TensorProto } = onnxProto.onnx;
const FLOAT = TensorProto.DataType.FLOAT;
const INT64 = TensorProto.DataType.INT64;

export interface BenchUnetOptions {
  channels?: number;
  blocks?: number;
  hidden?: number;
  seed?: number;
}

/** FLOPs of one UNet run on one latent of h × w (multiply-adds × 2, convolutions only). */
export function benchUnetFlops(h: number, w: number, { channels = 64, blocks = 2 }: BenchUnetOptions = {}): number {
  const conv = (cin: number, cout: number) => 2 * h * w * cin * cout * 9;
  return conv(4, channels) + 2 * blocks * conv(channels, channels) + conv(channels, 4);
}

export function buildBenchUnet({ channels = 64, blocks = 2, hidden = 768, seed = 7 }: BenchUnetOptions = {}): Uint8Array {
  const random = seededRandom(seed);
  const nodes: onnx.INodeProto[] = [];
  const initializer: onnx.ITensorProto[] = [];
  let id = 0;
  const node = (op: string, input: string[], attrs: onnx.IAttributeProto[] = []): string => {
    const out = `${op.toLowerCase()}_${id++}`;
    nodes.push({ name: out, opType: op, input, output: [out], attribute: attrs });
    return out;
  };
  const floats = (name: string, dims: number[], values: Float32Array): string => {
    initializer.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer) });
    return name;
  };
  const uniform = (name: string, dims: number[], scale: number) => {
    const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = (random() * 2 - 1) * scale;
    return floats(name, dims, values);
  };
  const int64s = (name: string, values: number[]): string => {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    initializer.push({ name, dims: [values.length], dataType: INT64, rawData: bytes });
    return name;
  };
  const ints = (name: string, values: number[]): onnx.IAttributeProto => ({ name, type: onnxProto.onnx.AttributeProto.AttributeType.INTS, ints: values });
  const int = (name: string, value: number): onnx.IAttributeProto => ({ name, type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: value });
  const conv = (x: string, name: string, cin: number, cout: number, gain = 1) =>
    node('Conv', [x, uniform(`${name}.weight`, [cout, cin, 3, 3], gain * Math.sqrt(3 / (cin * 9))), uniform(`${name}.bias`, [cout], 0.05)], [
      ints('kernel_shape', [3, 3]),
      ints('pads', [1, 1, 1, 1]),
    ]);
  const silu = (x: string) => node('Mul', [x, node('Sigmoid', [x])]);

  // Conditioning: mean of the text embeddings → per-channel bias; timestep → sinusoid per channel.
  const ctx = node('ReduceMean', ['encoder_hidden_states'], [ints('axes', [1]), int('keepdims', 0)]); // [b, hidden]
  const condBias = node('MatMul', [ctx, uniform('cond.weight', [hidden, channels], Math.sqrt(3 / hidden))]); // [b, C]
  const cond4 = node('Reshape', [condBias, int64s('shape_b_c_1_1', [-1, channels, 1, 1])]);
  const t = node('Reshape', [node('Cast', ['timestep'], [int('to', FLOAT)]), int64s('shape_b_1_1_1', [-1, 1, 1, 1])]);
  const freq = uniform('time.freq', [1, channels, 1, 1], 0.05);
  const temb = node('Sin', [node('Add', [node('Mul', [t, freq]), uniform('time.phase', [1, channels, 1, 1], Math.PI)])]);

  let x = node('Add', [node('Add', [silu(conv('sample', 'conv_in', 4, channels)), cond4]), temb]);
  for (let b = 0; b < blocks; b++) {
    const h = conv(silu(conv(x, `block${b}.conv1`, channels, channels)), `block${b}.conv2`, channels, channels, 0.5);
    x = node('Add', [x, h]);
  }
  const out = node('Tanh', [conv(silu(x), 'conv_out', channels, 4, 0.5)]);
  nodes.push({ name: 'out', opType: 'Identity', input: [out], output: ['out_sample'] });

  const tensor = (name: string, elemType: number, dims: Array<number | string>): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'media-lab-bench-unet',
    graph: {
      name: 'bench_unet',
      node: nodes,
      initializer,
      input: [
        tensor('sample', FLOAT, ['batch_size', 4, 'height', 'width']),
        tensor('timestep', INT64, ['steps']),
        tensor('encoder_hidden_states', FLOAT, ['batch_size', 'sequence_length', hidden]),
      ],
      output: [tensor('out_sample', FLOAT, ['batch_size', 4, 'height', 'width'])],
    },
  };
  return new Uint8Array(ModelProto.encode(model).finish());
}
