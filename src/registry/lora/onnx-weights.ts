/**
 * Where a LoRA's target weights are in an exported ONNX graph: each MatMul / Gemm / Conv node
 * named by a module path, as torch.onnx names nodes in optimum's exports and as the checkpoint
 * builder writes them (`/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`), has
 * its weight input followed back through Transpose / Reshape / Cast / Identity to an initializer,
 * whose bytes are then located: inline `raw_data` at a byte offset of model.onnx, or a range of an
 * external-data file. The layout relation to the torch weight comes along (optimum's MatMul takes
 * `[in, out]` directly; the builder transposes `[out, in]` in the graph; Gemm says it in transB;
 * Conv is `[out, in, kh, kw]`).
 *
 * The model is decoded with onnx-proto, whose reader hands bytes fields out as views of the input:
 * an inline initializer's offset is its view's offset (checked, never assumed).
 */
import onnxProto, { type onnx } from 'onnx-proto';
import type { WeightLayout } from '../../pipeline/diffusion/lora';

const { ModelProto, TensorProto } = onnxProto.onnx;

export type WeightType = 'float32' | 'float16' | 'bfloat16';

const WEIGHT_TYPES: Partial<Record<number, WeightType>> = {
  [TensorProto.DataType.FLOAT]: 'float32',
  [TensorProto.DataType.FLOAT16]: 'float16',
  [TensorProto.DataType.BFLOAT16]: 'bfloat16',
};

export const WEIGHT_TYPE_BYTES: Record<WeightType, number> = { float32: 4, float16: 2, bfloat16: 2 };

export interface WeightTarget {
  /** The module path (`down_blocks.0.resnets.0.conv1`). */
  path: string;
  node: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  initializer: string;
  type: WeightType;
  dims: number[];
  layout: WeightLayout;
  /** The file holding the bytes, relative to the component's folder: `model.onnx` when inline. */
  file: string;
  offset: number;
  length: number;
}

export interface GraphWeights {
  /** Module path → its weight. */
  targets: Map<string, WeightTarget>;
  /** Paths whose weight cannot be patched, and why (quantised, typed fields, ambiguous). */
  problems: Map<string, string>;
}

/** The file name inline initializers live in (the graph itself). */
export const MODEL_FILE = 'model.onnx';

/** Ops that only pass a weight on (a dtype, a view, a copy); a Transpose flips the layout. */
const PASS_THROUGH = new Set(['Reshape', 'Cast', 'Identity', 'Squeeze', 'Unsqueeze']);

export function findWeightTargets(model: Uint8Array): GraphWeights {
  const decoded = ModelProto.decode(model);
  const graph = decoded.graph;
  const targets = new Map<string, WeightTarget>();
  const problems = new Map<string, string>();
  if (!graph) return { targets, problems };

  const initializers = new Map<string, onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) if (t.name) initializers.set(t.name, t);
  const producers = new Map<string, onnx.INodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producers.set(o, n);

  for (const node of graph.node ?? []) {
    const op = node.opType;
    if (op !== 'MatMul' && op !== 'Gemm' && op !== 'Conv') continue;
    const path = modulePath(node.name ?? '');
    const input = node.input?.[1];
    if (!path || !input) continue;
    const traced = trace(input, initializers, producers);
    if (!traced) continue; // an activation × activation MatMul (attention scores), not a weight
    const { tensor, transposed } = traced;
    const found = locate(tensor, model);
    if (typeof found === 'string') {
      problems.set(path, found);
      continue;
    }
    let layout: WeightLayout;
    if (op === 'Conv') {
      if (transposed) continue;
      if (intAttr(node, 'group', 1) !== 1) {
        problems.set(path, 'a grouped convolution');
        continue;
      }
      layout = 'out_in';
    } else {
      // MatMul: y = x·B, B [in, out]; Gemm: B as is ([in, out]) or transposed (transB: [out, in]).
      const storedOutIn = op === 'Gemm' && intAttr(node, 'transB', 0) === 1;
      layout = storedOutIn !== transposed ? 'out_in' : 'in_out';
    }
    const target: WeightTarget = { path, node: node.name ?? '', op, initializer: tensor.name ?? '', dims: (tensor.dims ?? []).map(Number), layout, ...found };
    const known = targets.get(path);
    if (known && known.initializer !== target.initializer) {
      problems.set(path, `two weights (${known.initializer}, ${target.initializer}) under one module path`);
      targets.delete(path);
      continue;
    }
    if (!problems.has(path)) targets.set(path, target);
  }
  return { targets, problems };
}

/**
 * `/down_blocks.0/resnets.0/conv1/Conv` → `down_blocks.0.resnets.0.conv1`; `/to_out.0/MatMul_1`
 * → `to_out.0`. Names without a scope (`MatMul_123`, `node_MatMul_4`) give null.
 */
export function modulePath(nodeName: string): string | null {
  if (!nodeName.startsWith('/')) return null;
  const parts = nodeName.slice(1).split('/');
  if (parts.length < 2 || parts.slice(0, -1).some((p) => p === '')) return null;
  return parts.slice(0, -1).join('.');
}

function trace(
  value: string,
  initializers: ReadonlyMap<string, onnx.ITensorProto>,
  producers: ReadonlyMap<string, onnx.INodeProto>,
): { tensor: onnx.ITensorProto; transposed: boolean } | null {
  let transposed = false;
  for (let step = 0; step < 8; step++) {
    const tensor = initializers.get(value);
    if (tensor) return { tensor, transposed };
    const node = producers.get(value);
    if (!node?.input?.[0]) return null;
    if (node.opType === 'Transpose') {
      const perm = node.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
      if (perm && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0)) return null;
      transposed = !transposed;
    } else if (!PASS_THROUGH.has(node.opType ?? '')) return null;
    value = node.input[0];
  }
  return null;
}

function intAttr(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? fallback : Number(a.i);
}

/** An initializer's bytes: its file, offset and length, or why it cannot be patched. */
function locate(tensor: onnx.ITensorProto, model: Uint8Array): Pick<WeightTarget, 'type' | 'file' | 'offset' | 'length'> | string {
  const type = WEIGHT_TYPES[tensor.dataType ?? 0];
  if (!type) return `its weight is stored as ONNX type ${tensor.dataType} (quantised?), not float32/float16/bfloat16`;
  const count = (tensor.dims ?? []).reduce<number>((p, d) => p * Number(d), 1);
  const length = count * WEIGHT_TYPE_BYTES[type];
  if (tensor.dataLocation === TensorProto.DataLocation.EXTERNAL) {
    const entry = (key: string) => tensor.externalData?.find((e) => e.key === key)?.value ?? undefined;
    const location = entry('location');
    if (!location) return 'its external data has no location';
    const declared = entry('length');
    if (declared !== undefined && Number(declared) !== length) return `its external data is ${declared} bytes, not the ${length} its shape needs`;
    return { type, file: location.replace(/^\.\//, ''), offset: Number(entry('offset') ?? 0), length };
  }
  const raw = tensor.rawData;
  if (!raw || raw.length === 0) return 'its values are stored in typed fields, not raw_data';
  if (raw.length !== length) return `its raw_data is ${raw.length} bytes, not the ${length} its shape needs`;
  // raw_data is a view into the decoded buffer: its offset there is its offset in the file.
  if (raw.buffer !== model.buffer) return 'its raw_data could not be located in the file';
  const offset = raw.byteOffset - model.byteOffset;
  if (offset < 0 || offset + length > model.byteLength) return 'its raw_data could not be located in the file';
  return { type, file: MODEL_FILE, offset, length };
}
