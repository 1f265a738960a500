/**
 * A text encoder's token-embedding table grown by a set of textual-inversion vectors: the ONNX
 * initializer `[vocab, width]` becomes `[vocab + n, width]` with the embeddings' rows after the
 * vocabulary, in the initializer's own dtype, so the ids 49408… that the embeddings' tokenizer
 * gives look them up (see src/pipeline/diffusion/embeddings/ for why new ids).
 *
 * The table is found through the Gather that reads it: optimum's exports name that node
 * `/text_model/embeddings/token_embedding/Gather`; the graphs the studio builds from checkpoints
 * keep the initializer name `text_model.embeddings.token_embedding.weight`. Either may read the
 * table through a Cast (float16 weights computed in float32, or the reverse).
 *
 * The model is rewritten at the protobuf level: only the table's TensorProto (and any value info
 * declaring its shape) is replaced and the graph's length prefix fixed, so every other byte stays
 * as it was and a 500 MB inline export is not decoded whole. An inline table stays inline; an
 * external one moves to a file of its own beside the model (the other weights keep theirs).
 */
import onnxProto, { type onnx } from 'onnx-proto';
import { embeddingRows, type EmbeddingSet } from '../../pipeline/diffusion/embeddings/embedding';
import { float32ToFloat16Bits } from '../../pipeline/float16';

// onnx-proto is CommonJS: values come from its default export (see convert/to-onnx.ts).
const { NodeProto, TensorProto, ValueInfoProto } = onnxProto.onnx;
const DataType = TensorProto.DataType;

/** The node optimum's CLIP exports read the table with. */
export const OPTIMUM_TOKEN_GATHER = '/text_model/embeddings/token_embedding/Gather';
/** transformers' parameter name, which optimum and the checkpoint builder keep for the initializer. */
export const TOKEN_TABLE_NAME = 'text_model.embeddings.token_embedding.weight';
/** The file an external table moves to, beside model.onnx. */
export const TABLE_DATA_FILE = 'model.onnx_token_embedding';

export class TokenTableError extends Error {
  override name = 'TokenTableError';
}

export type TableDtype = 'float32' | 'float16' | 'bfloat16';
const DTYPES: Record<number, { name: TableDtype; bytes: number }> = {
  [DataType.FLOAT]: { name: 'float32', bytes: 4 },
  [DataType.FLOAT16]: { name: 'float16', bytes: 2 },
  [DataType.BFLOAT16]: { name: 'bfloat16', bytes: 2 },
};

/** What the text encoder's token-embedding table is and where its bytes are. */
export interface TokenTable {
  initializer: string;
  /** The Gather node(s) reading it. */
  gathers: string[];
  /** The Cast between table and Gather, if any. */
  cast?: string;
  dtype: TableDtype;
  rows: number;
  width: number;
  storage: { kind: 'inline' } | { kind: 'external'; location: string; offset: number; length: number };
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format (the model is in memory; text encoders are under protobuf's 2 GB)

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A field of a message: the tag starts at `tagStart`, the value occupies [start, end). */
interface Field {
  num: number;
  wire: number;
  tagStart: number;
  start: number;
  end: number;
}

function varint(bytes: Uint8Array, pos: number, end: number): [number, number] {
  // Multiply rather than shift: values may exceed 32 bits.
  let value = 0;
  let scale = 1;
  for (let i = pos; i < end && i < pos + 10; i++) {
    const b = bytes[i];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new TokenTableError('the text encoder is not a readable ONNX model (a malformed number in its protobuf)');
}

function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    const [tag, at] = varint(bytes, pos, end);
    const num = Math.floor(tag / 8);
    const wire = tag % 8;
    let field: Field;
    if (wire === WIRE_VARINT) field = { num, wire, tagStart, start: at, end: varint(bytes, at, end)[1] };
    else if (wire === WIRE_LEN) {
      const [length, s] = varint(bytes, at, end);
      field = { num, wire, tagStart, start: s, end: s + length };
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) field = { num, wire, tagStart, start: at, end: at + (wire === WIRE_FIXED64 ? 8 : 4) };
    else throw new TokenTableError(`the text encoder is not a readable ONNX model (protobuf wire type ${wire})`);
    if (field.end > end) throw new TokenTableError('the text encoder is not a readable ONNX model (a field runs past its message; truncated?)');
    yield field;
    pos = field.end;
  }
}

function encodeVarint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/** A length-delimited field: tag, length, payload. */
function lengthField(num: number, payload: Uint8Array): Uint8Array {
  const head = [...encodeVarint(num * 8 + WIRE_LEN), ...encodeVarint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

const toNumber = (v: number | { toNumber(): number }): number => (typeof v === 'number' ? v : v.toNumber());

const utf8 = new TextDecoder();

/** A TensorProto's name (field 8) without decoding its payload. */
function tensorName(bytes: Uint8Array, tensor: Field): string {
  for (const f of fields(bytes, tensor.start, tensor.end)) if (f.num === 8 && f.wire === WIRE_LEN) return utf8.decode(bytes.subarray(f.start, f.end));
  return '';
}

// ---------------------------------------------------------------------------------------------
// Finding the table

interface Located {
  table: TokenTable;
  graph: Field;
  tensorField: Field;
  tensor: onnx.TensorProto;
  /** Graph inputs and value infos that declare the table's (or its Cast's) shape. */
  shapeDeclarations: Array<{ field: Field; info: onnx.ValueInfoProto }>;
}

function locate(model: Uint8Array): Located {
  let graph: Field | undefined;
  for (const f of fields(model, 0, model.length)) {
    if (f.num !== 7) continue;
    if (f.wire !== WIRE_LEN) throw new TokenTableError('the text encoder is not a readable ONNX model (its graph field has the wrong type)');
    if (graph) throw new TokenTableError('the text encoder has two graph fields; the studio cannot rewrite it');
    graph = f;
  }
  if (!graph) throw new TokenTableError('the text encoder has no graph');

  const nodes: onnx.NodeProto[] = [];
  // Initializers by name only: decoding them all would copy any float_data payloads.
  const initializers = new Map<string, Field>();
  const declarations: Array<{ field: Field; info: onnx.ValueInfoProto }> = [];
  for (const f of fields(model, graph.start, graph.end)) {
    if (f.wire !== WIRE_LEN) continue;
    const bytes = model.subarray(f.start, f.end);
    if (f.num === 1) nodes.push(NodeProto.decode(bytes));
    else if (f.num === 5) initializers.set(tensorName(model, f), f);
    else if (f.num === 11 || f.num === 13) declarations.push({ field: f, info: ValueInfoProto.decode(bytes) });
  }

  const producer = new Map<string, onnx.NodeProto>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);
  const isGather = (n: onnx.NodeProto) =>
    n.opType === 'Gather' && (!n.domain || n.domain === 'ai.onnx') && toNumber(n.attribute.find((a) => a.name === 'axis')?.i ?? 0) === 0;

  // Each Gather's data input, followed back through one Cast to an initializer.
  const candidates: Array<{ gather: onnx.NodeProto; initializer?: string; cast?: onnx.NodeProto; source?: string }> = [];
  for (const n of nodes.filter(isGather)) {
    const data = n.input[0];
    if (initializers.has(data)) candidates.push({ gather: n, initializer: data });
    else {
      const p = producer.get(data);
      if (p?.opType === 'Cast' && initializers.has(p.input[0])) candidates.push({ gather: n, initializer: p.input[0], cast: p });
      else candidates.push({ gather: n, source: p ? `a ${p.opType} node ('${p.name}')` : `'${data}'` });
    }
  }
  const byNode = candidates.find((c) => c.gather.name === OPTIMUM_TOKEN_GATHER);
  const chosen = byNode ?? candidates.find((c) => c.initializer === TOKEN_TABLE_NAME);
  if (!chosen) {
    throw new TokenTableError(
      `this text encoder has no recognisable token-embedding table (no Gather named '${OPTIMUM_TOKEN_GATHER}' and no initializer '${TOKEN_TABLE_NAME}'); ` +
        'textual-inversion embeddings cannot be added to it',
    );
  }
  if (!chosen.initializer) {
    throw new TokenTableError(`the token-embedding Gather '${chosen.gather.name}' reads its table from ${chosen.source}, not from a weight; textual-inversion embeddings cannot be added to it`);
  }
  const tensorField = initializers.get(chosen.initializer)!;
  const tensor = TensorProto.decode(model.subarray(tensorField.start, tensorField.end));
  const dims = tensor.dims.map(toNumber);
  const dtype = DTYPES[tensor.dataType];
  if (dims.length !== 2 || !dtype) {
    throw new TokenTableError(`the token-embedding table '${tensor.name}' is a [${dims.join(', ')}] tensor of ONNX type ${tensor.dataType}; expected a float [vocabulary, width] matrix`);
  }

  // Everything reading the table (or its Cast) must be a row lookup: a grown table changes nothing else.
  const values = new Set([tensor.name, ...(chosen.cast ? chosen.cast.output : [])]);
  const gathers: string[] = [];
  for (const n of nodes) {
    n.input.forEach((input, i) => {
      if (!values.has(input)) return;
      if (n === chosen.cast && i === 0) return;
      if (isGather(n) && i === 0) gathers.push(n.name);
      else throw new TokenTableError(`the token-embedding table '${tensor.name}' is also read by ${n.opType} node '${n.name}'; growing it would change that node`);
    });
  }

  const table: TokenTable = { initializer: tensor.name, gathers, dtype: dtype.name, rows: dims[0], width: dims[1], storage: { kind: 'inline' } };
  if (chosen.cast) table.cast = chosen.cast.name;
  const external = tensor.dataLocation === TensorProto.DataLocation.EXTERNAL || tensor.externalData.length > 0;
  if (external) {
    const entry = (key: string) => tensor.externalData.find((e) => e.key === key)?.value;
    const location = entry('location');
    if (!location) throw new TokenTableError(`the token-embedding table '${tensor.name}' is stored externally but names no file`);
    const offset = Number(entry('offset') ?? 0);
    const length = Number(entry('length') ?? dims[0] * dims[1] * dtype.bytes);
    if (!Number.isSafeInteger(offset) || length !== dims[0] * dims[1] * dtype.bytes) {
      throw new TokenTableError(`the token-embedding table '${tensor.name}' has an unreadable external offset or a length (${length}) that does not match its shape`);
    }
    table.storage = { kind: 'external', location: location.replace(/^\.\//, ''), offset, length };
  }
  const shapeDeclarations = declarations.filter((d) => values.has(d.info.name));
  return { table, graph, tensorField, tensor, shapeDeclarations };
}

/** The text encoder's token-embedding table, or a TokenTableError saying why there is none. */
export function findTokenTable(model: Uint8Array): TokenTable {
  return locate(model).table;
}

// ---------------------------------------------------------------------------------------------
// Growing it

/** Checks the set against the table: same width, new ids right after the table's rows. */
function checkSet(table: TokenTable, set: EmbeddingSet): void {
  if (set.width !== table.width) {
    const names = set.embeddings.map((e) => `"${e.name}"`).join(', ');
    throw new TokenTableError(`the embeddings ${names} are ${set.width} wide but this text encoder's token embeddings are ${table.width} wide`);
  }
  if (set.firstId !== table.rows) {
    throw new TokenTableError(`the embeddings' ids start at ${set.firstId} but this text encoder's token-embedding table has ${table.rows} rows (a tokenizer of another vocabulary?)`);
  }
}

/** The set's rows as the table's little-endian element bytes. */
function rowBytes(set: EmbeddingSet, dtype: TableDtype): Uint8Array {
  const values = embeddingRows(set);
  const size = dtype === 'float32' ? 4 : 2;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  const u32 = new Uint32Array(1);
  const f32 = new Float32Array(u32.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'float32') view.setFloat32(i * 4, values[i], true);
    else if (dtype === 'float16') view.setUint16(i * 2, float32ToFloat16Bits(values[i]), true);
    else {
      // bfloat16: the float32's top half, rounded to nearest even (values are finite).
      f32[0] = values[i];
      const bits = u32[0];
      view.setUint16(i * 2, ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff, true);
    }
  }
  return out;
}

/** An inline table's element bytes, whichever field holds them. */
function inlineBytes(tensor: onnx.TensorProto, table: TokenTable): Uint8Array {
  const count = table.rows * table.width;
  const size = table.dtype === 'float32' ? 4 : 2;
  if (tensor.rawData.length > 0) {
    if (tensor.rawData.length !== count * size) throw new TokenTableError(`the token-embedding table '${table.initializer}' holds ${tensor.rawData.length} bytes, not ${count * size}`);
    return tensor.rawData;
  }
  const out = new Uint8Array(count * size);
  const view = new DataView(out.buffer);
  if (table.dtype === 'float32' && tensor.floatData.length === count) tensor.floatData.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (table.dtype !== 'float32' && tensor.int32Data.length === count) tensor.int32Data.forEach((v, i) => view.setUint16(i * 2, v, true));
  else throw new TokenTableError(`the token-embedding table '${table.initializer}' has no data for its ${count} values`);
  return out;
}

/** A value info with its first dim changed from `from` to `to` (when it states that size). */
function regrow(info: onnx.ValueInfoProto, from: number, to: number): Uint8Array | undefined {
  const dim = info.type?.tensorType?.shape?.dim?.[0];
  if (!dim || !Object.hasOwn(dim, 'dimValue') || dim.dimValue == null || toNumber(dim.dimValue) !== from) return undefined;
  dim.dimValue = to;
  return ValueInfoProto.encode(info).finish();
}

export interface ExtendedTextEncoder {
  /** The rewritten model.onnx. */
  model: Uint8Array;
  /** New files beside it (the grown table of an external-data model), by location. */
  files: Map<string, Uint8Array>;
  table: TokenTable;
}

/** Reads an external-data file named in the model (relative to the model's folder). */
export type ReadExternal = (location: string) => Promise<Uint8Array | undefined>;

/** The model with the grown table declared; an external table points at TABLE_DATA_FILE. */
export function extendedModel(model: Uint8Array, set: EmbeddingSet): { model: Uint8Array; table: TokenTable } {
  const { table, graph, tensorField, tensor, shapeDeclarations } = locate(model);
  checkSet(table, set);
  const rows = table.rows + set.rows;
  const grown: onnx.ITensorProto = { name: tensor.name, dims: [rows, table.width], dataType: tensor.dataType };
  if (table.storage.kind === 'inline') {
    grown.rawData = concat([inlineBytes(tensor, table), rowBytes(set, table.dtype)]);
  } else {
    grown.dataLocation = TensorProto.DataLocation.EXTERNAL;
    grown.externalData = [
      { key: 'location', value: TABLE_DATA_FILE },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(rows * table.width * (table.dtype === 'float32' ? 4 : 2)) },
    ];
  }
  const replacements = [{ field: tensorField, bytes: lengthField(5, TensorProto.encode(grown).finish()) }];
  for (const d of shapeDeclarations) {
    const bytes = regrow(d.info, table.rows, rows);
    if (bytes) replacements.push({ field: d.field, bytes: lengthField(d.field.num, bytes) });
  }
  replacements.sort((a, b) => a.field.tagStart - b.field.tagStart);

  const graphParts: Uint8Array[] = [];
  let at = graph.start;
  for (const r of replacements) {
    graphParts.push(model.subarray(at, r.field.tagStart), r.bytes);
    at = r.field.end;
  }
  graphParts.push(model.subarray(at, graph.end));
  // One copy of the model (an inline export is hundreds of MB): the graph's new header, then its parts.
  const graphLength = graphParts.reduce((n, p) => n + p.length, 0);
  const graphHeader = Uint8Array.from([...encodeVarint(7 * 8 + WIRE_LEN), ...encodeVarint(graphLength)]);
  return {
    model: concat([model.subarray(0, graph.tagStart), graphHeader, ...graphParts, model.subarray(graph.end)]),
    table: { ...table, rows },
  };
}

/** The bytes of TABLE_DATA_FILE for an external-data table: its rows, then the set's. */
export async function extendedTableFile(model: Uint8Array, set: EmbeddingSet, readExternal: ReadExternal): Promise<Uint8Array> {
  const { table } = locate(model);
  checkSet(table, set);
  if (table.storage.kind !== 'external') throw new TokenTableError('the token-embedding table is inline; there is no table file to write');
  const { location, offset, length } = table.storage;
  const file = await readExternal(location);
  if (!file) throw new TokenTableError(`the token-embedding table is in ${location}, which the model folder lacks`);
  if (offset + length > file.byteLength) throw new TokenTableError(`the token-embedding table runs past the end of ${location} (${offset + length} > ${file.byteLength} bytes)`);
  return concat([file.subarray(offset, offset + length), rowBytes(set, table.dtype)]);
}

/** The model and any new file, in one call. */
export async function extendTokenEmbedding(model: Uint8Array, set: EmbeddingSet, readExternal: ReadExternal): Promise<ExtendedTextEncoder> {
  const extended = extendedModel(model, set);
  const files = new Map<string, Uint8Array>();
  if (extended.table.storage.kind === 'external') files.set(TABLE_DATA_FILE, await extendedTableFile(model, set, readExternal));
  return { ...extended, files };
}
