// @vitest-environment node
/**
 * inspectOnnx: the streaming protobuf walk must agree with onnx-proto's full decode on every tiny
 * diffusion component and the bundled upscaler, report external data, refuse non-ONNX and
 * truncated files with plain messages, and read only a sliver of a big file.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { openAsBlob, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto, { type onnx } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectOnnx, OnnxFormatError, type SliceableFile } from '../../src/registry/onnx-inspect';
import { buildTextEncoder, buildUnet, presetFiles, presets, seededRandom, type PresetName } from '../fixtures/tiny-diffusion/factory';

const { ModelProto, GraphProto, TensorProto } = onnxProto.onnx;
const MODELS = fileURLToPath(new URL('../../public/models', import.meta.url));

/** A Blob that counts the bytes read through it. */
function countingFile(blob: Blob, name?: string): SliceableFile & { bytesRead: number; reads: number } {
  const file = {
    size: blob.size,
    name,
    bytesRead: 0,
    reads: 0,
    slice(start: number, end: number) {
      file.bytesRead += Math.min(end, blob.size) - start;
      file.reads++;
      return blob.slice(start, end);
    },
  };
  return file;
}

const asFile = (bytes: Uint8Array, name?: string) => countingFile(new Blob([bytes as Uint8Array<ArrayBuffer>]), name);

// ---------------------------------------------------------------------------------------------
// The reference: onnx-proto's full decode, reduced to the same facts

const TYPE_NAMES: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 10: 'float16' };
const ELEMENT_BYTES: Record<number, number> = { 1: 4, 6: 4, 7: 8, 10: 2 };
const num = (v: number | { toNumber(): number } | null | undefined) => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

function reference(bytes: Uint8Array) {
  const model = ModelProto.decode(bytes);
  // A decoded message has every repeated field (the I-interfaces mark them optional).
  const graph = model.graph as onnx.GraphProto;
  const names = new Set(graph.initializer.map((t) => t.name));
  const sig = (v: onnx.IValueInfoProto) => ({
    name: v.name,
    type: TYPE_NAMES[v.type!.tensorType!.elemType!],
    shape: v.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : num(d.dimValue))),
  });
  const sizes = graph.initializer.map((t) => {
    const ext = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    if (ext.length) return Number(ext.length);
    return t.rawData?.length ? t.rawData.length : (t.dims ?? []).reduce<number>((a, d) => a * num(d), 1) * ELEMENT_BYTES[t.dataType!];
  });
  return {
    irVersion: num(model.irVersion),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: num(o.version) })),
    producer: { name: model.producerName, version: model.producerVersion },
    inputs: graph.input.filter((i) => !names.has(i.name)).map(sig),
    outputs: graph.output.map(sig),
    initializerCount: graph.initializer.length,
    initializerBytes: sizes.reduce((a, b) => a + b, 0),
    largest: Math.max(0, ...sizes),
    nodeCount: graph.node.length,
    opTypes: [...new Set(graph.node.map((n) => n.opType))].sort(),
  };
}

async function expectMatchesReference(bytes: Uint8Array, name: string) {
  const file = asFile(bytes, name);
  const info = await inspectOnnx(file);
  const ref = reference(bytes);
  expect(info.irVersion).toBe(ref.irVersion);
  expect(info.opsets).toEqual(ref.opsets);
  expect(info.producer).toEqual(ref.producer);
  expect(info.inputs).toEqual(ref.inputs);
  expect(info.outputs).toEqual(ref.outputs);
  expect(info.initializers.count).toBe(ref.initializerCount);
  expect(info.initializers.bytes).toBe(ref.initializerBytes);
  expect(Object.values(info.initializers.byType).reduce((a, b) => a + b, 0)).toBe(ref.initializerBytes);
  expect(info.largestInitializerBytes).toBe(ref.largest);
  expect(info.nodeCount).toBe(ref.nodeCount);
  expect(info.opTypes).toEqual(ref.opTypes);
  expect(info.protobufBytes).toBe(bytes.length);
  return { info, file };
}

// ---------------------------------------------------------------------------------------------

describe('inspectOnnx on the tiny diffusion components', () => {
  for (const preset of Object.keys(presets) as PresetName[]) {
    it(`${preset}: every component matches onnx-proto's full decode`, async () => {
      const files = presetFiles(preset);
      const onnxFiles = [...files.keys()].filter((p) => p.endsWith('.onnx'));
      expect(onnxFiles.length).toBeGreaterThanOrEqual(3);
      for (const path of onnxFiles) {
        const { info } = await expectMatchesReference(files.get(path)!, path);
        const weights = presets[preset].layout === 'sd-turbo' || preset === 'sd15-fp16-static77' ? 'float16' : 'float32';
        expect(info.weightDtype, path).toBe(weights);
        expect(info.opsets).toEqual([{ domain: '', version: 17 }]);
        const external = files.get(path.replace('model.onnx', 'model.onnx_data'));
        expect(info.externalData, path).toEqual(external ? [{ location: 'model.onnx_data', bytes: external.length }] : []);
      }
    });
  }

  it('names the external data file of an external-data UNet with its byte count', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const data = files.get('unet/model.onnx_data')!;
    const info = await inspectOnnx(asFile(files.get('unet/model.onnx')!));
    expect(info.externalData).toEqual([{ location: 'model.onnx_data', bytes: data.length }]);
    // Weights live outside, yet their sizes are known: bytes are the same as the inline build.
    const inline = await inspectOnnx(asFile(buildUnet({ seed: 12, hidden: 768, timestep: 'int64', timestepShape: 'batch' }).bytes));
    expect(info.initializers).toEqual(inline.initializers);
    expect(info.protobufBytes).toBeLessThan(inline.protobufBytes);
  });

  it('reads float16 weights, int32 ids and static shapes', async () => {
    const files = presetFiles('sd15-fp16-static77');
    const te = await inspectOnnx(asFile(files.get('text_encoder/model.onnx')!));
    expect(te.inputs).toEqual([{ name: 'input_ids', type: 'int64', shape: [1, 77] }]);
    expect(te.outputs[0]).toEqual({ name: 'last_hidden_state', type: 'float16', shape: [1, 77, 768] });
    expect(te.initializers.byType).toEqual({ int64: 32, float16: te.initializers.bytes - 32 });
  });
});

describe('inspectOnnx: metadata_props', () => {
  it('reads every key and value (Ultralytics keeps names, imgsz, stride, task there); none gives {}', async () => {
    const bytes = presetFiles('sd15-fp16-static77').get('text_encoder/model.onnx')!;
    expect((await inspectOnnx(asFile(bytes))).metadata).toEqual({});
    const model = ModelProto.decode(bytes);
    const props = [
      ['names', "{0: 'hand', 1: 'face'}"],
      ['imgsz', '[640, 640]'],
      ['stride', '32'],
      ['task', 'detect'],
      ['__proto__', 'an ordinary key'],
      ['empty', ''],
      // A repeated key keeps its last value.
      ['task', 'segment'],
    ];
    model.metadataProps = props.map(([key, value]) => ({ key, value }));
    const withMetadata = new Uint8Array(ModelProto.encode(model).finish());
    const { info } = await expectMatchesReference(withMetadata, 'with-metadata.onnx');
    expect(Object.keys(info.metadata)).toEqual(['names', 'imgsz', 'stride', 'task', '__proto__', 'empty']);
    expect(info.metadata).toMatchObject({ names: "{0: 'hand', 1: 'face'}", imgsz: '[640, 640]', stride: '32', task: 'segment', empty: '' });
    expect(Object.getPrototypeOf(info.metadata)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(info.metadata, '__proto__')?.value).toBe('an ordinary key');
  });

  it('refuses a metadata entry that is not a protobuf message, as not ONNX', async () => {
    const bytes = presetFiles('sd15-fp16-static77').get('text_encoder/model.onnx')!;
    // Field 14 (length 2) holding key field 1 with a length (80) that runs past the entry.
    const broken = new Uint8Array([...bytes, 0x72, 2, 0x0a, 80]);
    await expect(inspectOnnx(asFile(broken, 'odd.onnx'))).rejects.toThrow(/^odd\.onnx: not an ONNX model: a metadata entry is not a valid protobuf message$/);
  });
});

describe('inspectOnnx on the bundled upscaler', () => {
  it('esrgan-slim-x4.onnx matches the full decode', async () => {
    const bytes = new Uint8Array(readFileSync(join(MODELS, 'esrgan-slim-x4.onnx')));
    const { info } = await expectMatchesReference(bytes, 'esrgan-slim-x4.onnx');
    expect(info.inputs).toEqual([{ name: 'input', type: 'float32', shape: [1, 3, 'height', 'width'] }]);
    expect(info.outputs).toEqual([{ name: 'output', type: 'float32', shape: [1, 3, 'height_out', 'width_out'] }]);
    expect(info.producer.name).toBe('media-lab-converter');
    expect(info.weightDtype).toBe('float32');
    expect(info.externalData).toEqual([]);
    expect(info.opTypes).toContain('Conv');
  });
});

describe('inspectOnnx on odd but valid files', () => {
  it('does not count weights listed as graph inputs (old exporters) as inputs', async () => {
    const model = ModelProto.decode(buildTextEncoder().bytes);
    const graph = model.graph as onnx.GraphProto;
    graph.input.push(...graph.initializer.map((t) => ({ name: t.name, type: { tensorType: { elemType: t.dataType, shape: { dim: (t.dims ?? []).map((d) => ({ dimValue: d })) } } } })));
    const bytes = ModelProto.encode(model).finish();
    const info = await inspectOnnx(asFile(bytes));
    expect(graph.input.length).toBeGreaterThan(5);
    expect(info.inputs.map((i) => i.name)).toEqual(['input_ids']);
  });

  it('sizes initializers stored in typed fields, external ones without a length, and unknown dims', async () => {
    const model: onnx.IModelProto = {
      irVersion: 7,
      producerName: 'hand',
      opsetImport: [{ domain: '', version: 13 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        node: [{ opType: 'Add', input: ['x', 'w'], output: ['y'] }, { opType: 'FusedGemm', domain: 'com.microsoft', input: ['y'], output: ['z'] }],
        initializer: [
          { name: 'w', dims: [3], dataType: TensorProto.DataType.FLOAT, floatData: [1, 2, 3] },
          { name: 'i', dims: [2, 2], dataType: TensorProto.DataType.INT64, int64Data: [1, 2, 3, 4] },
          {
            name: 'e',
            dims: [10, 10],
            dataType: TensorProto.DataType.FLOAT16,
            dataLocation: TensorProto.DataLocation.EXTERNAL,
            externalData: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '64' }],
          },
        ],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }, {}, { dimValue: 3 }] } } } }],
        output: [{ name: 'z', type: { tensorType: { elemType: 1 } } }],
      },
    };
    const info = await inspectOnnx(asFile(ModelProto.encode(model).finish()));
    expect(info.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['n', '?', 3] }]);
    expect(info.outputs).toEqual([{ name: 'z', type: 'float32', shape: [] }]);
    expect(info.initializers).toEqual({ count: 3, bytes: 12 + 32 + 200, byType: { float32: 12, int64: 32, float16: 200 } });
    expect(info.externalData).toEqual([{ location: 'weights.bin', bytes: 264 }]);
    expect(info.weightDtype).toBe('float16'); // 200 of 212 float bytes
    expect(info.opTypes).toEqual(['Add', 'com.microsoft.FusedGemm']);
    expect(info.opsets).toEqual([{ domain: '', version: 13 }, { domain: 'com.microsoft', version: 1 }]);
  });

  it('walks a long node list with growing read windows (not one read per field)', async () => {
    const node = Array.from({ length: 20000 }, (_, i) => ({ opType: 'Relu', name: `relu_${i}`, input: [`t${i}`], output: [`t${i + 1}`] }));
    const bytes = ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        node,
        input: [{ name: 't0', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
        output: [{ name: 't20000', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
      },
    }).finish();
    const file = asFile(bytes);
    const info = await inspectOnnx(file);
    expect(info.nodeCount).toBe(20000);
    expect(info.opTypes).toEqual(['Relu']);
    expect(file.reads).toBeLessThan(20);
    expect(file.bytesRead).toBeLessThan(2 * bytes.length);
  });
});

describe('inspectOnnx refuses what is not a whole ONNX model', () => {
  it('random bytes', async () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = seededRandom(seed);
      const bytes = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
      await expect(inspectOnnx(asFile(bytes, 'noise.onnx'))).rejects.toThrow(/^noise\.onnx: not an ONNX model: /);
    }
  });

  it('other formats: PNG, JSON, a TensorFlow-like protobuf', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    const json = new TextEncoder().encode('{"format": "layers-model", "modelTopology": {}}');
    // field 1 as a length-delimited message (a GraphDef's first node), not ONNX's ir_version varint
    const graphDef = new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x78]);
    for (const bytes of [png, json, graphDef]) {
      const error = await inspectOnnx(asFile(bytes)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OnnxFormatError);
      expect((error as Error).message).toMatch(/^not an ONNX model: /);
    }
  });

  it('an empty file', async () => {
    await expect(inspectOnnx(asFile(new Uint8Array(0)))).rejects.toThrow('not an ONNX model: the file is empty');
  });

  it('a protobuf without a graph', async () => {
    const bytes = ModelProto.encode({ irVersion: 8, producerName: 'nothing', opsetImport: [{ domain: '', version: 17 }] }).finish();
    await expect(inspectOnnx(asFile(bytes))).rejects.toThrow(/^an ONNX file without a graph$/);
  });

  it('a file cut in the middle of an initializer', async () => {
    const bytes = buildTextEncoder().bytes;
    const model = ModelProto.decode(bytes);
    // Find the token embedding's raw bytes in the file and cut half-way through them.
    const raw = (model.graph as onnx.GraphProto).initializer.find((t) => t.name === 'token_embedding')!.rawData!;
    const at = Buffer.from(bytes).indexOf(Buffer.from(raw));
    expect(at).toBeGreaterThan(0);
    const cut = bytes.slice(0, at + raw.length / 2);
    const error = await inspectOnnx(asFile(cut, 'te.onnx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnnxFormatError);
    const message = (error as Error).message;
    expect(message).toMatch(/^te\.onnx: the file ends in the middle of initializer #\d+ 'token_embedding' \(truncated\? expected (\d+) bytes, have (\d+)\)$/);
    const [, expected, have] = message.match(/expected (\d+) bytes, have (\d+)/)!.map(Number);
    expect(have).toBe(cut.length);
    // At least the whole graph; protobufjs writes opset_import after it, so not quite the file.
    expect(expected).toBeGreaterThan(bytes.length - 20);
    expect(expected).toBeLessThanOrEqual(bytes.length);
  });

  it('a file cut in the middle of the graph header and among the nodes', async () => {
    const bytes = buildTextEncoder().bytes;
    const model = ModelProto.decode(bytes);
    // Everything before the graph field: the header fields protobufjs writes first.
    const graphAt = ModelProto.encode({ ...model, graph: null, opsetImport: [] }).finish().length;
    expect(bytes[graphAt]).toBe(0x3a); // field 7, length-delimited
    // Tag and the first byte of the (multi-byte) length.
    await expect(inspectOnnx(asFile(bytes.slice(0, graphAt + 2)))).rejects.toThrow(/^the file ends in the middle of the model header \(truncated\? expected \d+ bytes, have \d+\)$/);
    // Tag and length complete, a few bytes into the first node.
    const lengthBytes = GraphProto.encode(model.graph!).finish().length >= 128 ? 3 : 2;
    await expect(inspectOnnx(asFile(bytes.slice(0, graphAt + 1 + lengthBytes + 5)))).rejects.toThrow(/^the file ends in the middle of node #1 \(truncated\?/);
    // Just the ir_version.
    await expect(inspectOnnx(asFile(bytes.slice(0, 2)))).rejects.toThrow(/^an ONNX file without a graph$/);
  });
});

// ---------------------------------------------------------------------------------------------
// A big file on disk: ~300 MB of float32 weights, written in chunks so memory stays low

function varint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Uint8Array.from(out);
}
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

/**
 * Writes a model whose graph holds nodes and an input, then one `elements`-long float32
 * initializer, then a small initializer and the output: the walk must jump over the payload to
 * find the output. `write` receives the bytes in order; the payload comes as `chunk` repeated.
 */
async function writeBigModel(elements: number, write: (bytes: Uint8Array) => Promise<void>): Promise<void> {
  const head = ModelProto.encode({ irVersion: 8, producerName: 'big-test', producerVersion: '1', opsetImport: [{ domain: '', version: 17 }] }).finish();
  const before = GraphProto.encode({
    name: 'big',
    node: [{ opType: 'MatMul', input: ['x', 'big.weight'], output: ['y'] }, { opType: 'Add', input: ['y', 'small.bias'], output: ['z'] }],
    input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: elements }] } } } }],
  }).finish();
  const after = GraphProto.encode({
    initializer: [{ name: 'small.bias', dims: [1], dataType: 1, rawData: new Uint8Array(4) }],
    output: [{ name: 'z', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1 }] } } } }],
  }).finish();
  const payloadBytes = elements * 4;
  const tensorHead = concat(TensorProto.encode({ name: 'big.weight', dims: [elements, 1], dataType: 1 }).finish(), Uint8Array.of(0x4a), varint(payloadBytes));
  const tensorBytes = tensorHead.length + payloadBytes;
  const initializerHead = concat(Uint8Array.of(0x2a), varint(tensorBytes));
  const graphBytes = before.length + initializerHead.length + tensorBytes + after.length;

  await write(concat(head, Uint8Array.of(0x3a), varint(graphBytes), before, initializerHead, tensorHead));
  const chunk = new Uint8Array(4 * 1024 * 1024);
  new Float32Array(chunk.buffer).fill(0.5);
  for (let left = payloadBytes; left > 0; left -= chunk.length) await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
  await write(after);
}

describe('inspectOnnx on a big file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-inspect-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the big-model writer produces a valid ONNX protobuf (checked small with onnx-proto)', async () => {
    const parts: Uint8Array[] = [];
    await writeBigModel(1000, async (b) => void parts.push(b.slice()));
    const bytes = concat(...parts);
    const { info } = await expectMatchesReference(bytes, 'small.onnx');
    expect(info.outputs).toEqual([{ name: 'z', type: 'float32', shape: ['batch', 1] }]);
    expect(info.initializers.bytes).toBe(4004);
  });

  it('reads a ~300 MB model from disk with a few small reads, quickly', async () => {
    const elements = 75_000_000; // 300 MB of float32
    const path = join(dir, 'big.onnx');
    const handle = await open(path, 'w');
    try {
      await writeBigModel(elements, async (b) => void (await handle.write(b)));
    } finally {
      await handle.close();
    }
    const file = countingFile(await openAsBlob(path), 'big.onnx');
    expect(file.size).toBeGreaterThan(300_000_000);

    const started = performance.now();
    const info = await inspectOnnx(file);
    const ms = performance.now() - started;
    console.log(`inspectOnnx: ${(file.size / 1e6).toFixed(0)} MB file in ${ms.toFixed(1)} ms, ${file.bytesRead} bytes read in ${file.reads} slices`);

    expect(info.initializers).toEqual({ count: 2, bytes: elements * 4 + 4, byType: { float32: elements * 4 + 4 } });
    expect(info.largestInitializerBytes).toBe(elements * 4);
    expect(info.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['batch', elements] }]);
    expect(info.outputs).toEqual([{ name: 'z', type: 'float32', shape: ['batch', 1] }]);
    expect(info.nodeCount).toBe(2);
    expect(info.weightDtype).toBe('float32');
    expect(file.bytesRead).toBeLessThan(256 * 1024);
    expect(ms).toBeLessThan(1000);

    // Cut inside the payload: truncation is found without reading it.
    const cut = countingFile((await openAsBlob(path)).slice(0, 200_000_000));
    await expect(inspectOnnx(cut)).rejects.toThrow(/the file ends in the middle of initializer #1 'big.weight' \(truncated\? expected \d+ bytes, have 200000000\)/);
    expect(cut.bytesRead).toBeLessThan(256 * 1024);
  });
});
