// @vitest-environment node
/**
 * Imported YOLO detectors get their class names: from the Ultralytics `names` metadata the file
 * carries, else (one class only) from an ADetailer-style file name, else they stay numbered and
 * are never chosen for a target. Checked through inspect, classify and the runtime probe on tiny
 * YOLO-layout ONNX files built here.
 */
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { ModelInfo } from '../../src/protocol/models';
import { classifyOnnx } from '../../src/registry/classify';
import { encodeModel, floatTensor, floatValueInfo, int64Tensor, IR_VERSION, OPSET } from '../../src/registry/convert/onnx-build';
import { inspectOnnx, sliceableBytes } from '../../src/registry/onnx-inspect';
import { chooseDetectors } from '../../workers/ort/detector';
import { probeModel } from '../../workers/ort/probe';
import { nodeOrt } from '../helpers/node-ort';

const SIZE = 32;

/**
 * `[1, 3, S, S]` → `output0 [1, 4 + classes, S·S]` (a zero-weight 1×1 convolution reshaped to
 * YOLOv8's layout), with the given `metadata_props`, as Ultralytics' exporter adds them.
 */
function tinyYolo(classes: number, metadata: Record<string, string> = {}): Uint8Array {
  const { NodeProto } = onnxProto.onnx;
  const rows = 4 + classes;
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'pytorch',
    graph: {
      name: 'tiny-yolo',
      node: [
        NodeProto.create({ opType: 'Conv', input: ['images', 'w', 'b'], output: ['maps'] }),
        NodeProto.create({ opType: 'Reshape', input: ['maps', 'shape'], output: ['output0'] }),
      ],
      initializer: [floatTensor('w', [rows, 3, 1, 1], new Float32Array(rows * 3)), floatTensor('b', [rows], new Float32Array(rows)), int64Tensor('shape', [3], [1, rows, SIZE * SIZE])],
      input: [floatValueInfo('images', [1, 3, SIZE, SIZE])],
      output: [floatValueInfo('output0', [1, rows, SIZE * SIZE])],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
}

/** What Ultralytics writes besides `names` (str() of each value). */
const ULTRALYTICS = { description: 'Ultralytics YOLOv8n model trained on data.yaml', author: 'Ultralytics', stride: '32', task: 'detect', batch: '1', imgsz: `[${SIZE}, ${SIZE}]` };

async function probe(file: string, bytes: Uint8Array) {
  const info = ModelInfo.parse({
    name: 'imported',
    model_type: 'detector',
    file_path: file,
    file_size_bytes: bytes.length,
    discovered_at: '2026-12-03T00:00:00.000Z',
    status: 'importing',
    components: [{ path: file, role: 'detector', bytes: bytes.length, sha256: '0'.repeat(64), file_id: 'f' }],
  });
  return probeModel(nodeOrt(), info, async (path) => (path === file ? bytes : undefined), 'wasm');
}

describe('imported YOLO detectors: class names', () => {
  it("names {0: 'face'}: inspect reads the metadata, classify and the probe give ['face']", async () => {
    const bytes = tinyYolo(1, { ...ULTRALYTICS, names: "{0: 'face'}" });
    const info = await inspectOnnx(sliceableBytes(bytes, 'detector.onnx'));
    expect(info.metadata).toMatchObject({ names: "{0: 'face'}", task: 'detect', imgsz: `[${SIZE}, ${SIZE}]` });
    const c = classifyOnnx(info);
    expect(c).toMatchObject({ role: 'detector', details: { style: 'yolo', classes: ['face'] } });
    expect(c.description).toBe(`detector (YOLO-style, finds face), input ${SIZE}×${SIZE} NCHW`);
    const result = await probe('detector.onnx', bytes);
    expect(result).toMatchObject({ ok: true, detector: { layout: 'yolo', classes: ['face'], input_size: SIZE } });
    expect(result.message).toMatch(/yolo decoding, finds face, input 32×32$/);
  });

  it("two classes {0: 'Hands', 1: 'face'} map onto the studio's words, in the model's order", async () => {
    const result = await probe('detector.onnx', tinyYolo(2, { ...ULTRALYTICS, names: "{0: 'Hands', 1: 'face'}" }));
    expect(result.detector?.classes).toEqual(['hand', 'face']);
    // Both targets find it; other names are kept as written.
    expect(chooseDetectors('hand', [], [{ classes: result.detector!.classes }]).imported).toHaveLength(1);
    const person = await probe('detector.onnx', tinyYolo(2, { names: "{0: 'person', 1: 'Face'}" }));
    expect(person.detector?.classes).toEqual(['person', 'face']);
  });

  it('without names, a one-class detector named like ADetailer’s files gets the class from its name', async () => {
    expect((await probe('face_yolov8n.onnx', tinyYolo(1))).detector?.classes).toEqual(['face']);
    expect((await probe('adetailer/hand_yolov8s.onnx', tinyYolo(1, ULTRALYTICS))).detector?.classes).toEqual(['hand']);
    // Malformed names fall back the same way.
    expect((await probe('face_yolov8n.onnx', tinyYolo(1, { names: '{0: face}' }))).detector?.classes).toEqual(['face']);
  });

  it('otherwise the classes stay numbered, and such a detector is not chosen for a target', async () => {
    const cases = [
      await probe('yolov8n.onnx', tinyYolo(1)),
      await probe('detector.onnx', tinyYolo(1, { names: "{0: 'face'" })),
      // Names that do not fit the outputs (one name, two classes) are not trusted; the file name
      // only names one-class detectors.
      await probe('face_yolov8n.onnx', tinyYolo(2, { names: "{0: 'face'}" })),
    ];
    expect(cases.map((r) => [r.ok, r.detector?.classes])).toEqual([
      [true, ['class 0']],
      [true, ['class 0']],
      [true, ['class 0', 'class 1']],
    ]);
    const choice = chooseDetectors('face', [], cases.map((r) => ({ classes: r.detector!.classes })));
    expect(choice.imported).toEqual([]);
    expect(choice.unnamed).toHaveLength(3);
  });
});
