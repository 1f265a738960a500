/**
 * What every converter in this folder writes into an ONNX model: the format versions, tensors and
 * attributes as onnx-proto objects, and the serialisation.
 *
 * Serialisation is deterministic: the same model object always gives the same bytes (no
 * timestamps, fields in a fixed order), so committed models can be checked against a fresh
 * conversion.
 */
import onnxProto, { type onnx } from 'onnx-proto';

// onnx-proto is CommonJS (`module.exports = $root`): Node's ESM loader only exposes it as the
// default export, so a runtime `import { onnx }` fails under tsx/vitest. Types come from the
// type-only import above, values from the default export.
const { ModelProto, TensorProto, AttributeProto } = onnxProto.onnx;

export const IR_VERSION = 8;
export const OPSET = 17;
export const PRODUCER_NAME = 'media-lab-converter';

export const FLOAT = TensorProto.DataType.FLOAT;
const INT64 = TensorProto.DataType.INT64;
const AttrType = AttributeProto.AttributeType;

/** Float32 little-endian raw_data (ONNX's on-disk byte order), independent of the host. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

/** Int64 little-endian raw_data (shapes, pads: what ONNX wants where TF has int32). */
export function int64Tensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]), true);
  return { name, dims, dataType: INT64, rawData: bytes };
}

export function intsAttr(name: string, ints: number[]): onnx.IAttributeProto {
  return { name, type: AttrType.INTS, ints };
}
export function intAttr(name: string, i: number): onnx.IAttributeProto {
  return { name, type: AttrType.INT, i };
}
export function floatAttr(name: string, f: number): onnx.IAttributeProto {
  return { name, type: AttrType.FLOAT, f };
}
export function stringAttr(name: string, s: string): onnx.IAttributeProto {
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(s) };
}

/** A float32 graph input or output; numbers are fixed sizes, strings symbolic ones. */
export function floatValueInfo(name: string, dims: ReadonlyArray<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** HWIO [kh, kw, cin, cout] → OIHW [cout, cin, kh, kw]. */
export function hwioToOihw(kernel: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] = kernel[((y * kw + x) * cin + i) * cout + o];
        }
      }
    }
  }
  return out;
}

/** Serialises a model into a plain Uint8Array (protobufjs' writer gives a Node Buffer in Node). */
export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return new Uint8Array(ModelProto.encode(model).finish());
}
