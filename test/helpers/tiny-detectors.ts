/**
 * Tiny ONNX detectors built in code: a YOLO-style model whose every box is the same constant
 * (so its one detection is known exactly), and a model whose output matches no detector layout.
 */
import onnxProto from 'onnx-proto';
import { encodeModel, floatTensor, floatValueInfo, int64Tensor, IR_VERSION, OPSET } from '../../src/registry/convert/onnx-build';

const model = (nodes: object[], initializer: object[], inputSize: number, output: { name: string; dims: Array<number | string> }) =>
  encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'media-lab-tests',
    graph: {
      name: 'tiny-detector',
      node: nodes as never,
      initializer: initializer as never,
      input: [floatValueInfo('images', [1, 3, inputSize, inputSize])],
      output: [floatValueInfo(output.name, output.dims)],
    },
  });

/**
 * `[1, 3, S, S]` → `[1, 5, S·S]`: a 1×1 convolution with zero weights and the bias
 * (cx, cy, w, h, score), reshaped to YOLOv8's layout. The output's box count is left symbolic,
 * as dynamic exports declare it.
 */
export function constantYolo(inputSize: number, box: [number, number, number, number], score: number): Uint8Array {
  const { NodeProto } = onnxProto.onnx;
  return model(
    [
      NodeProto.create({ opType: 'Conv', input: ['images', 'w', 'b'], output: ['maps'] }),
      NodeProto.create({ opType: 'Reshape', input: ['maps', 'shape'], output: ['output0'] }),
    ],
    [floatTensor('w', [5, 3, 1, 1], new Float32Array(15)), floatTensor('b', [5], [...box, score]), int64Tensor('shape', [3], [1, 5, inputSize * inputSize])],
    inputSize,
    { name: 'output0', dims: [1, 5, 'boxes'] },
  );
}

/** `[1, 3, S, S]` → `[1, 3, 1, 1]` (global average pool): an image model, but no detector. */
export function notADetector(inputSize: number): Uint8Array {
  const { NodeProto } = onnxProto.onnx;
  return model([NodeProto.create({ opType: 'GlobalAveragePool', input: ['images'], output: ['pooled'] })], [], inputSize, { name: 'pooled', dims: [1, 3, 1, 1] });
}

/**
 * `[1, 3, S, S]` → `boxes [1, S·S, 7]`: per-anchor rows of 7 values, which the registry takes for
 * a detector (boxes and scores) but which fit no layout the studio decodes.
 */
export function undecodableBoxes(inputSize: number): Uint8Array {
  const { NodeProto, AttributeProto } = onnxProto.onnx;
  return model(
    [
      NodeProto.create({ opType: 'Conv', input: ['images', 'w', 'b'], output: ['maps'] }),
      NodeProto.create({ opType: 'Reshape', input: ['maps', 'shape'], output: ['rows'] }),
      NodeProto.create({
        opType: 'Transpose',
        input: ['rows'],
        output: ['boxes'],
        attribute: [AttributeProto.create({ name: 'perm', type: AttributeProto.AttributeType.INTS, ints: [0, 2, 1] })],
      }),
    ],
    [floatTensor('w', [7, 3, 1, 1], new Float32Array(21)), floatTensor('b', [7], new Float32Array(7)), int64Tensor('shape', [3], [1, 7, inputSize * inputSize])],
    inputSize,
    { name: 'boxes', dims: [1, inputSize * inputSize, 7] },
  );
}
