// @vitest-environment node
/**
 * Growing a text encoder's token-embedding table by an embedding's vectors, checked by running it
 * (onnxruntime-web, WASM) against an independent reference: the same checkpoint whose table rows
 * for two existing ids were overwritten, in the file's bytes, with the embedding's vectors. Fed the
 * new ids, the grown encoder must give exactly what the reference gives for those two ids.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { placeEmbeddings, type Embedding, type EmbeddingSet } from '../../../src/pipeline/diffusion/embeddings/embedding';
import { EmbeddingTokenizer } from '../../../src/pipeline/diffusion/embeddings/tokenizer';
import { applyEmphasis, buildConditioning } from '../../../src/pipeline/diffusion/prompt/conditioning';
import { float32ToFloat16Bits } from '../../../src/pipeline/float16';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { DATA_FILE, writeCheckpointFolder, type CheckpointBytes } from '../../../src/registry/checkpoint/onnx-folder';
import { checkpointFolder } from '../../../src/registry/checkpoint/virtual-folder';
import { encodeModel } from '../../../src/registry/convert/onnx-build';
import { embeddingFolder, type FolderReader } from '../../../src/registry/embedding/folder';
import { loadEmbedding } from '../../../src/registry/embedding/load';
import { extendedModel, findTokenTable, OPTIMUM_TOKEN_GATHER, TABLE_DATA_FILE, TOKEN_TABLE_NAME } from '../../../src/registry/embedding/token-table';
import { inspectOnnx, sliceableBytes } from '../../../src/registry/onnx-inspect';
import { readSafetensorsHeader } from '../../../src/registry/safetensors';
import { loadDiffusionModel } from '../../../workers/ort/diffusion-model';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../../fixtures/ldm-checkpoint';
import { buildSafetensors } from '../../fixtures/safetensors-builder';
import { buildTextEncoder as hashedTextEncoder } from '../../fixtures/tiny-diffusion/factory';
import { nodeOrt } from '../../helpers/node-ort';

const { ModelProto, TensorProto } = onnxProto.onnx;

const START = 49406;
const END = 49407;
const VOCAB = 49408;
const A = 320; // "a</w>"
const CAT = 2368; // "cat</w>"
const WIDTH = 32; // tinyLdmConfig's text width
/** The existing ids whose rows the reference overwrites. */
const R1 = 1000;
const R2 = 1001;

type Dtype = 'F16' | 'F32';

/** Two vectors, values of both signs, exact in float16. */
const VECTORS = Float32Array.from({ length: 2 * WIDTH }, (_, i) => ((i * 37) % 64) / 32 - 1);

function embeddingFile(dtype: Dtype, vectors = VECTORS, width = WIDTH): Uint8Array {
  const data = dtype === 'F32' ? new Uint8Array(vectors.slice().buffer) : new Uint8Array(Uint16Array.from(vectors, float32ToFloat16Bits).buffer);
  return buildSafetensors([{ name: 'emb_params', dtype, shape: [vectors.length / width, width], data }]);
}

const TOKEN_TABLE_KEY = {
  sd1: 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight',
  sd2: 'cond_stage_model.model.token_embedding.weight',
};

/** A tiny checkpoint; `overwrite` writes the embedding's vectors over rows R1, R2 of its token table. */
async function checkpoint(family: 'sd1' | 'sd2', dtype: Dtype, options: { overwrite?: Float32Array; vocab?: number } = {}) {
  const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig(family, { vocab: options.vocab }), dtype), 7);
  const header = await readSafetensorsHeader(new Blob([bytes]));
  if (options.overwrite) {
    const table = header.tensors.find((t) => t.name === TOKEN_TABLE_KEY[family])!;
    const view = new DataView(bytes.buffer);
    const size = dtype === 'F32' ? 4 : 2;
    options.overwrite.forEach((v, i) => {
      const at = 8 + header.headerBytes + table.begin + (R1 * WIDTH + i) * size;
      if (dtype === 'F32') view.setFloat32(at, v, true);
      else view.setUint16(at, float32ToFloat16Bits(v), true);
    });
  }
  const plan = planCheckpoint(header, 'tiny.safetensors');
  const source: CheckpointBytes = { dataOffset: 8 + header.headerBytes, read: async (begin, end) => bytes.slice(begin, end) };
  return { plan, source, folder: checkpointFolder(plan, source) };
}

/** 77 ids: start, `body`, end, padding. */
function ids77(body: number[], pad = END): number[] {
  return [START, ...body, END, ...Array<number>(75 - body.length).fill(pad)];
}

/** Runs `text_encoder/model.onnx` of a folder (with the external files it names) on 77 ids. */
async function runTextEncoder(read: FolderReader, ids: number[]): Promise<Float32Array> {
  const ort = nodeOrt();
  const model = (await read('text_encoder/model.onnx'))!;
  const info = await inspectOnnx(sliceableBytes(model));
  const externalData: Array<{ path: string; data: Uint8Array }> = [];
  for (const { location } of info.externalData) externalData.push({ path: location, data: (await read(`text_encoder/${location}`))! });
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], externalData });
  try {
    const type = info.inputs[0].type === 'int64' ? 'int64' : 'int32';
    const tensor = type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, 77]) : new ort.Tensor('int32', Int32Array.from(ids), [1, 77]);
    const out = await session.run({ input_ids: tensor });
    return new Float32Array((await out.last_hidden_state.getData()) as Float32Array);
  } finally {
    await session.release();
  }
}

const setOf = (...embeddings: Embedding[]): EmbeddingSet => placeEmbeddings(embeddings, { firstId: VOCAB, width: WIDTH });

describe('findTokenTable', () => {
  it("finds the checkpoint builder's table (external data, read through a Cast when float16)", async () => {
    const { folder } = await checkpoint('sd1', 'F16');
    const table = findTokenTable((await folder.read('text_encoder/model.onnx'))!);
    expect(table).toMatchObject({ initializer: TOKEN_TABLE_NAME, gathers: ['/text_model/embeddings/Gather'], dtype: 'float16', rows: VOCAB, width: WIDTH });
    expect(table.cast).toBeDefined();
    expect(table.storage).toMatchObject({ kind: 'external', location: DATA_FILE, length: VOCAB * WIDTH * 2 });
    const f32 = findTokenTable((await (await checkpoint('sd2', 'F32')).folder.read('text_encoder/model.onnx'))!);
    expect([f32.dtype, f32.cast]).toEqual(['float32', undefined]);
  });

  it('says so when a text encoder has no recognisable token-embedding table', () => {
    // The test factory's encoder hashes ids into 257 buckets: a Gather over a table with no known name.
    expect(() => findTokenTable(hashedTextEncoder().bytes)).toThrow(/no recognisable token-embedding table .*cannot be added/);
  });
});

describe.each([
  ['sd1', 'F16', 'F32'],
  ['sd1', 'F32', 'F16'],
  ['sd2', 'F16', 'F16'],
] as const)('a %s %s checkpoint (external-data table) with a %s embedding file', (family, dtype, fileDtype) => {
  let grown: FolderReader;
  let reference: FolderReader;
  let original: FolderReader;
  let set: EmbeddingSet;
  const pad = family === 'sd2' ? 0 : END;

  beforeAll(async () => {
    const embedding = loadEmbedding(embeddingFile(fileDtype), 'MyStyle.safetensors', { width: WIDTH });
    set = setOf(embedding);
    const { folder } = await checkpoint(family, dtype);
    original = folder.read;
    grown = embeddingFolder(folder.read, set);
    reference = (await checkpoint(family, dtype, { overwrite: embedding.vectors })).folder.read;
  });

  it('the grown encoder fed the new ids gives what the reference gives for the overwritten ids, exactly', async () => {
    const out = await runTextEncoder(grown, ids77([A, VOCAB, VOCAB + 1, CAT], pad));
    const expected = await runTextEncoder(reference, ids77([A, R1, R2, CAT], pad));
    expect(out).toEqual(expected);
    // …and the same ids without the embedding do not (the test can fail).
    expect(await runTextEncoder(original, ids77([A, R1, R2, CAT], pad))).not.toEqual(expected);
  });

  it('gives the original output for prompts without the new ids', async () => {
    const ids = ids77([A, CAT, 1929], pad);
    expect(await runTextEncoder(grown, ids)).toEqual(await runTextEncoder(original, ids));
  });

  it('keeps the table in its dtype in a file of its own; the other weights stay where they were', async () => {
    const model = (await grown('text_encoder/model.onnx'))!;
    const info = await inspectOnnx(sliceableBytes(model));
    expect(info.externalData.map((e) => e.location).sort()).toEqual([DATA_FILE, TABLE_DATA_FILE].sort());
    const table = findTokenTable(model);
    expect(table).toMatchObject({ rows: VOCAB + 2, dtype: dtype === 'F16' ? 'float16' : 'float32', storage: { kind: 'external', location: TABLE_DATA_FILE, offset: 0 } });
    expect((await grown(`text_encoder/${TABLE_DATA_FILE}`))!.byteLength).toBe((VOCAB + 2) * WIDTH * (dtype === 'F16' ? 2 : 4));
    // Every other byte of the graph is as it was: same nodes, same initializers but the table.
    const graphOf = (bytes: Uint8Array) => ModelProto.decode(bytes).graph as onnx.GraphProto;
    const before = graphOf((await original('text_encoder/model.onnx'))!);
    const after = graphOf(model);
    const nodes = (g: onnx.GraphProto) => g.node.map((n) => onnxProto.onnx.NodeProto.toObject(n as onnx.NodeProto));
    expect(nodes(after)).toEqual(nodes(before));
    const others = (g: onnx.GraphProto) => g.initializer.filter((t) => t.name !== TOKEN_TABLE_NAME).map((t) => TensorProto.toObject(t as onnx.TensorProto));
    expect(others(after)).toEqual(others(before));
    // Other components and files pass through untouched.
    expect(await grown('unet/model.onnx')).toEqual(await original('unet/model.onnx'));
  });
});

/** The folder writeCheckpointFolder makes, kept in memory, with every weight moved inline (an optimum-style single file). */
async function inlineFolder(ck: Awaited<ReturnType<typeof checkpoint>>, dtype: 'float32' | undefined, edit?: (model: onnx.IModelProto) => void): Promise<FolderReader> {
  const files = new Map<string, Uint8Array>();
  await writeCheckpointFolder(ck.plan, ck.source, {
    async write(path, data) {
      if (data instanceof Uint8Array) return void files.set(path, data);
      const chunks: Uint8Array[] = [];
      for await (const chunk of data) chunks.push(chunk);
      files.set(path, new Uint8Array(Buffer.concat(chunks)));
    },
  }, { dtype });
  const model = ModelProto.decode(files.get('text_encoder/model.onnx')!);
  const external = files.get(`text_encoder/${DATA_FILE}`)!;
  for (const t of (model.graph as onnx.GraphProto).initializer as onnx.TensorProto[]) {
    if (t.externalData.length === 0) continue;
    const entry = (key: string) => Number(t.externalData.find((e) => e.key === key)!.value);
    t.rawData = external.slice(entry('offset'), entry('offset') + entry('length'));
    t.externalData = [];
    t.dataLocation = TensorProto.DataLocation.DEFAULT;
  }
  edit?.(model);
  files.set('text_encoder/model.onnx', encodeModel(model));
  files.delete(`text_encoder/${DATA_FILE}`);
  return async (path) => files.get(path);
}

describe('an inline token-embedding table (weights inside model.onnx)', () => {
  let embedding: Embedding;
  beforeAll(() => {
    embedding = loadEmbedding(embeddingFile('F32'), 'MyStyle.safetensors', { width: WIDTH });
  });

  it('float16 through a Cast: grown inline, same output as the reference', async () => {
    const read = await inlineFolder(await checkpoint('sd1', 'F16'), undefined);
    const grown = embeddingFolder(read, setOf(embedding));
    const model = (await grown('text_encoder/model.onnx'))!;
    expect((await inspectOnnx(sliceableBytes(model))).externalData).toEqual([]);
    expect(findTokenTable(model)).toMatchObject({ rows: VOCAB + 2, dtype: 'float16', storage: { kind: 'inline' } });
    const reference = await inlineFolder(await checkpoint('sd1', 'F16', { overwrite: embedding.vectors }), undefined);
    expect(await runTextEncoder(grown, ids77([VOCAB, VOCAB + 1, CAT]))).toEqual(await runTextEncoder(reference, ids77([R1, R2, CAT])));
  });

  it("found by optimum's Gather name alone, with the table in float_data and declared as a graph input (old exporters)", async () => {
    const optimumStyle = (model: onnx.IModelProto) => {
      const g = model.graph!;
      const table = g.initializer!.find((t) => t.name === TOKEN_TABLE_NAME)!;
      const gather = g.node!.find((n) => n.input![0] === TOKEN_TABLE_NAME)!;
      gather.name = OPTIMUM_TOKEN_GATHER;
      table.name = gather.input![0] = 'onnx::Gather_42';
      table.floatData = Array.from(new Float32Array(table.rawData!.slice().buffer));
      table.rawData = null;
      g.input!.push({ name: 'onnx::Gather_42', type: { tensorType: { elemType: TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: VOCAB }, { dimValue: WIDTH }] } } } });
    };
    const ck = await checkpoint('sd1', 'F32');
    const read = await inlineFolder(ck, 'float32', optimumStyle);
    const before = findTokenTable((await read('text_encoder/model.onnx'))!);
    expect(before).toMatchObject({ initializer: 'onnx::Gather_42', gathers: [OPTIMUM_TOKEN_GATHER], dtype: 'float32', storage: { kind: 'inline' } });
    const grown = embeddingFolder(read, setOf(embedding));
    const model = ModelProto.decode((await grown('text_encoder/model.onnx'))!);
    const declared = (model.graph as onnx.GraphProto).input.find((i) => i.name === 'onnx::Gather_42')!;
    expect(Number(declared.type!.tensorType!.shape!.dim![0].dimValue)).toBe(VOCAB + 2);
    const reference = await inlineFolder(await checkpoint('sd1', 'F32', { overwrite: embedding.vectors }), 'float32', optimumStyle);
    expect(await runTextEncoder(grown, ids77([A, VOCAB + 1, VOCAB, CAT]))).toEqual(await runTextEncoder(reference, ids77([A, R2, R1, CAT])));
  });

  it('refuses a table something other than the token lookup reads', async () => {
    const read = await inlineFolder(await checkpoint('sd1', 'F32'), 'float32', (model) => {
      model.graph!.node!.push({ name: 'spy', opType: 'Shape', input: [TOKEN_TABLE_NAME], output: ['spy_out'] });
    });
    const model = (await read('text_encoder/model.onnx'))!;
    expect(() => extendedModel(model, setOf(embedding))).toThrow(/also read by Shape node 'spy'/);
  });
});

describe('mismatches', () => {
  it('an embedding of another width is refused, naming both widths', async () => {
    const { folder } = await checkpoint('sd1', 'F16');
    const wide = placeEmbeddings([loadEmbedding(embeddingFile('F32', new Float32Array(768), 768), 'wide.safetensors')], { firstId: VOCAB, width: 768 });
    const grown = embeddingFolder(folder.read, wide);
    await expect(grown('text_encoder/model.onnx')).rejects.toThrow(`the embeddings "wide" are 768 wide but this text encoder's token embeddings are ${WIDTH} wide`);
  });

  it('ids that would not follow the table are refused (a table of another vocabulary size)', async () => {
    const { folder } = await checkpoint('sd1', 'F16', { vocab: 1000 });
    const grown = embeddingFolder(folder.read, setOf(loadEmbedding(embeddingFile('F32'), 'x.safetensors')));
    await expect(grown('text_encoder/model.onnx')).rejects.toThrow(/ids start at 49408 but this text encoder's token-embedding table has 1000 rows/);
  });

  it('an empty set leaves the folder as it is', async () => {
    const { folder } = await checkpoint('sd1', 'F16');
    expect(embeddingFolder(folder.read, setOf())).toBe(folder.read);
  });
});

describe('through the studio loader and the prompt path', () => {
  it("a prompt naming the embedding conditions the UNet as the reference does with the overwritten rows, weights included", async () => {
    const embedding = loadEmbedding(embeddingFile('F16'), 'MyStyle.safetensors', { width: WIDTH });
    const set = setOf(embedding);
    const ort = nodeOrt();
    const model = await loadDiffusionModel(ort, embeddingFolder((await checkpoint('sd1', 'F16')).folder.read, set), 'wasm');
    const reference = await loadDiffusionModel(ort, (await checkpoint('sd1', 'F16', { overwrite: embedding.vectors })).folder.read, 'wasm');
    try {
      const tokenizer = new EmbeddingTokenizer(model.tokenizer, set);
      const c = await buildConditioning('a (MyStyle:1.2) cat', { tokenizer, textEncoder: model.textEncoder });
      expect(c.tokenCount).toBe(4);
      const ref = await reference.textEncoder.run(Int32Array.from(ids77([A, R1, R2, CAT])), [1, 77]);
      const weights = new Float32Array(77).fill(1);
      weights[2] = weights[3] = 1.2;
      const expected = applyEmphasis(ref.data, weights, WIDTH, 'original');
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(c.embeddings.data[i] - expected[i]));
      expect(diff).toBeLessThanOrEqual(1e-6);
    } finally {
      await model.release();
      await reference.release();
    }
  });
});
