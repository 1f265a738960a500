/**
 * Reads what the registry needs to know about an ONNX model — its I/O signature, opsets, the
 * size and type of its weights, the external data files it points to — without onnxruntime and
 * without loading the file whole.
 *
 * Why not `onnx.ModelProto.decode(bytes)`: a float32 SD UNet is 3.4 GB, a float16 one 1.7 GB in a
 * single file; reading that into one ArrayBuffer may fail outright in a browser, and is slow
 * anyway. Almost all of those bytes are tensor payloads (`raw_data`) that we never need, so we walk
 * the protobuf wire format through `file.slice()` reads, skip payloads by their length prefix,
 * and hand only small sub-messages (ValueInfoProto, OperatorSetIdProto, StringStringEntryProto)
 * to onnx-proto. A multi-GB model is inspected by reading a few hundred KB.
 *
 * Runs in the worker and in Node: no node: imports, no DOM APIs (Blob and File both fit
 * `SliceableFile`; Node 20's `fs.openAsBlob` too).
 */
import onnxProto from 'onnx-proto';
import type { TensorSignature } from '../protocol/models';

// onnx-proto is CommonJS: values come from its default export (see convert/to-onnx.ts).
const { onnx } = onnxProto;

/** What `inspectOnnx` needs of a file: `Blob`, `File` and Node's `fs.openAsBlob()` all fit. */
export interface SliceableFile {
  size: number;
  name?: string;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface OnnxInfo {
  irVersion: number;
  opsets: Array<{ domain: string; version: number }>;
  producer: { name: string; version: string };
  /** Graph inputs that are not initializers (old exports also list every weight as an input). */
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  /** All initializers, inline and external; `byType` is bytes per element type. */
  initializers: { count: number; bytes: number; byType: Record<string, number> };
  /** External data files, with the extent used in each (max offset + length). */
  externalData: Array<{ location: string; bytes: number }>;
  largestInitializerBytes: number;
  /** The weights' element type (≥ 90% of weight bytes), `mixed`, or `none` without weights. */
  weightDtype: string;
  /** Size of the .onnx file itself (the protobuf). */
  protobufBytes: number;
  nodeCount: number;
  /** Distinct op types, sorted; ops of other domains are qualified (`com.microsoft.Attention`). */
  opTypes: string[];
  /**
   * The model's `metadata_props` (key → value; a repeated key keeps its last value). Ultralytics
   * exports keep `names`, `imgsz`, `stride` and `task` here; see detector-classes.ts.
   */
  metadata: Record<string, string>;
}

/** Bytes already in memory (a stored model the worker read back) as a `SliceableFile`. */
export function sliceableBytes(bytes: Uint8Array, name?: string): SliceableFile {
  return { size: bytes.length, name, slice: (start, end) => ({ arrayBuffer: async () => bytes.slice(start, end).buffer as ArrayBuffer }) };
}

/** The file is not an ONNX model, is truncated, or has no graph; the message says which. */
export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

/** ONNX TensorProto.DataType numbers → the names the studio uses (onnxruntime-web's). */
const DATA_TYPES: Record<number, { name: string; bits: number }> = {
  1: { name: 'float32', bits: 32 },
  2: { name: 'uint8', bits: 8 },
  3: { name: 'int8', bits: 8 },
  4: { name: 'uint16', bits: 16 },
  5: { name: 'int16', bits: 16 },
  6: { name: 'int32', bits: 32 },
  7: { name: 'int64', bits: 64 },
  8: { name: 'string', bits: 0 }, // variable length: sized from its data
  9: { name: 'bool', bits: 8 },
  10: { name: 'float16', bits: 16 },
  11: { name: 'float64', bits: 64 },
  12: { name: 'uint32', bits: 32 },
  13: { name: 'uint64', bits: 64 },
  14: { name: 'complex64', bits: 64 },
  15: { name: 'complex128', bits: 128 },
  16: { name: 'bfloat16', bits: 16 },
  17: { name: 'float8e4m3fn', bits: 8 },
  18: { name: 'float8e4m3fnuz', bits: 8 },
  19: { name: 'float8e5m2', bits: 8 },
  20: { name: 'float8e5m2fnuz', bits: 8 },
  21: { name: 'uint4', bits: 4 },
  22: { name: 'int4', bits: 4 },
  23: { name: 'float4e2m1', bits: 4 },
};

export function dataTypeName(type: number): string {
  return DATA_TYPES[type]?.name ?? (type === 0 ? 'undefined' : `type${type}`);
}

/** Element types that hold shapes, indices and masks rather than weights. */
const NON_WEIGHT_TYPES = new Set(['int64', 'int32', 'bool', 'string']);
/** Share of the weight bytes one type must hold to name the model's weight type. */
const DOMINANT_SHARE = 0.9;

// Read-ahead: after a jump over a payload the next thing is a small header, so read a little;
// while the walk moves forward through small fields (nodes, value infos, small tensors), double
// the window up to 4 MB so a long run of nodes costs a handful of reads, not thousands.
const MIN_WINDOW = 16 * 1024;
const MAX_WINDOW = 4 * 1024 * 1024;
/** Small sub-messages we decode whole; anything bigger in their place means a corrupt file. */
const MAX_SMALL_MESSAGE = 16 * 1024 * 1024;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A field of a protobuf message: its value occupies [start, end) (`value` for varints). */
interface Field {
  num: number;
  wire: number;
  start: number;
  end: number;
  value: number;
}

/** Buffered random access to a `SliceableFile`. */
class WindowReader {
  private window = new Uint8Array(0);
  private windowStart = 0;
  private windowSize = MIN_WINDOW;
  /** Total bytes fetched through `slice()` (for tests and curiosity). */
  bytesRead = 0;

  constructor(
    private readonly file: SliceableFile,
    readonly size: number,
  ) {}

  has(pos: number, n: number): boolean {
    return pos >= this.windowStart && pos + n <= this.windowStart + this.window.length;
  }

  /** Makes [pos, pos + n) readable; the caller keeps it inside the file. */
  async load(pos: number, n: number): Promise<void> {
    if (this.has(pos, n)) return;
    const windowEnd = this.windowStart + this.window.length;
    const forward = pos >= this.windowStart && pos <= windowEnd + MIN_WINDOW;
    this.windowSize = forward ? Math.min(this.windowSize * 2, MAX_WINDOW) : MIN_WINDOW;
    const length = Math.min(this.size - pos, Math.max(n, this.windowSize));
    const bytes = new Uint8Array(await this.file.slice(pos, pos + length).arrayBuffer());
    this.bytesRead += bytes.length;
    if (bytes.length < n) throw new OnnxFormatError(`the file could not be read at byte ${pos} (it changed or was cut while reading)`);
    this.window = bytes;
    this.windowStart = pos;
  }

  byte(pos: number): number {
    return this.window[pos - this.windowStart];
  }

  /** A view of [pos, pos + n), which must have been loaded. */
  view(pos: number, n: number): Uint8Array {
    const at = pos - this.windowStart;
    return this.window.subarray(at, at + n);
  }
}

const utf8 = new TextDecoder();

/** Walks protobuf fields with error messages a user can act on. */
class Walker {
  /** A plausible ir_version was read: from then on, running out of bytes means "truncated". */
  headerSeen = false;
  /** The furthest end of any field seen: a lower bound for the size of an intact file. */
  private declaredEnd = 0;

  constructor(
    readonly reader: WindowReader,
    private readonly fileName: string | undefined,
  ) {}

  private get prefix(): string {
    return this.fileName ? `${this.fileName}: ` : '';
  }

  notOnnx(reason: string): OnnxFormatError {
    return new OnnxFormatError(`${this.prefix}not an ONNX model: ${reason}`);
  }

  truncated(what: string, need: number): OnnxFormatError {
    const size = this.reader.size;
    // Random bytes also "run out" quickly; only a file that started like ONNX counts as cut short.
    if (!this.headerSeen) return this.notOnnx(`its bytes do not form an ONNX protobuf (a field runs past the end of the ${size}-byte file)`);
    const expected = Math.max(need, this.declaredEnd);
    return new OnnxFormatError(`${this.prefix}the file ends in the middle of ${what} (truncated? expected ${expected} bytes, have ${size})`);
  }

  noGraph(): OnnxFormatError {
    return new OnnxFormatError(`${this.prefix}an ONNX file without a graph`);
  }

  /** Decodes a varint at `pos` inside a message ending at `end`; returns [value, next position]. */
  async varint(pos: number, end: number, what: string): Promise<[number, number]> {
    const size = this.reader.size;
    const avail = Math.min(10, end - pos, size - pos);
    if (avail <= 0) throw pos >= size ? this.truncated(what, pos + 1) : this.notOnnx(`a field runs past the end of ${what}`);
    if (!this.reader.has(pos, avail)) await this.reader.load(pos, avail);
    // Multiply rather than shift: offsets and lengths of multi-GB files exceed 32 bits.
    let value = 0;
    let scale = 1;
    for (let i = 0; i < avail; i++) {
      const b = this.reader.byte(pos + i);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return [value, pos + i + 1];
      scale *= 128;
    }
    if (avail < 10 && pos + avail >= size) throw this.truncated(what, pos + avail + 1);
    throw this.notOnnx(`a malformed number in ${what}`);
  }

  /** Reads the field header at `pos` of a message ending at `end`; checks the value fits. */
  async field(pos: number, end: number, what: string): Promise<Field> {
    const [tag, at] = await this.varint(pos, end, what);
    const num = Math.floor(tag / 8);
    const wire = tag % 8;
    if (num === 0) throw this.notOnnx(`field number 0 in ${what}`);
    let field: Field;
    if (wire === WIRE_VARINT) {
      const [value, next] = await this.varint(at, end, what);
      field = { num, wire, start: at, end: next, value };
    } else if (wire === WIRE_LEN) {
      const [length, start] = await this.varint(at, end, what);
      field = { num, wire, start, end: start + length, value: length };
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      field = { num, wire, start: at, end: at + (wire === WIRE_FIXED64 ? 8 : 4), value: 0 };
    } else {
      // Groups (3, 4) are not used by ONNX; 6 and 7 do not exist.
      throw this.notOnnx(`unexpected protobuf wire type ${wire} in ${what}`);
    }
    // Past the end of its message is corruption, unless that message is the whole (cut) file.
    if (field.end > end && end !== this.reader.size) throw this.notOnnx(`field ${num} runs past the end of ${what}`);
    // A value running past the end of the file is reported by whoever goes into it (so the
    // message names the innermost message: "initializer 'conv.weight'") or by `eachField`.
    this.declaredEnd = Math.max(this.declaredEnd, field.end);
    return field;
  }

  expectWire(f: Field, wire: number, what: string): void {
    if (f.wire !== wire) throw this.notOnnx(`field ${f.num} of ${what} has the wrong protobuf type`);
  }

  /** The bytes of a small length-delimited field (strings, small sub-messages). */
  async bytes(f: Field, what: string): Promise<Uint8Array> {
    this.expectWire(f, WIRE_LEN, what);
    if (f.end > this.reader.size) throw this.truncated(what, f.end);
    if (f.value > MAX_SMALL_MESSAGE) throw this.notOnnx(`field ${f.num} of ${what} is implausibly large (${f.value} bytes)`);
    await this.reader.load(f.start, f.value);
    return this.reader.view(f.start, f.value);
  }

  async string(f: Field, what: string): Promise<string> {
    return utf8.decode(await this.bytes(f, what));
  }

  /** A small sub-message decoded by onnx-proto; its decode errors (random bytes) become "not ONNX". */
  async message<T>(f: Field, what: string, decode: (bytes: Uint8Array) => T): Promise<T> {
    const bytes = await this.bytes(f, what);
    try {
      return decode(bytes);
    } catch {
      throw this.notOnnx(`${what} is not a valid protobuf message`);
    }
  }

  /** Calls `visit` for each field of the message occupying [start, end). */
  async eachField(start: number, end: number, what: () => string, visit: (f: Field) => Promise<void> | void): Promise<void> {
    let pos = start;
    while (pos < end) {
      // The message's declared length can run past the end of a truncated file.
      if (pos >= this.reader.size) throw this.truncated(what(), end);
      const f = await this.field(pos, end, what());
      await visit(f);
      pos = f.end;
      // A skipped value (raw_data, …) that runs past the end of the file.
      if (pos > this.reader.size) throw this.truncated(what(), pos);
    }
  }
}

/** ModelProto fields we know and their wire types (a mismatch means "not ONNX"). */
const MODEL_FIELDS: Record<number, number> = {
  1: WIRE_VARINT, // ir_version
  2: WIRE_LEN, // producer_name
  3: WIRE_LEN, // producer_version
  4: WIRE_LEN, // domain
  5: WIRE_VARINT, // model_version
  6: WIRE_LEN, // doc_string
  7: WIRE_LEN, // graph
  8: WIRE_LEN, // opset_import
  14: WIRE_LEN, // metadata_props
  20: WIRE_LEN, // training_info
  25: WIRE_LEN, // functions
  26: WIRE_LEN, // configuration
};
/** Unknown top-level fields above this are taken as garbage rather than a future ONNX field. */
const MAX_MODEL_FIELD = 64;
/** ONNX IR versions are small integers (10 in 2024); anything far off is not an ONNX header. */
const MAX_IR_VERSION = 100;

/** One initializer, as read from its TensorProto header. */
interface TensorFacts {
  name: string;
  type: string;
  bytes: number;
  external?: { location: string; end: number };
}

/** Totals over the initializers. */
class WeightTally {
  count = 0;
  bytes = 0;
  largest = 0;
  readonly byType: Record<string, number> = {};
  readonly names = new Set<string>();
  readonly external = new Map<string, number>();

  add(t: TensorFacts): void {
    this.count++;
    this.bytes += t.bytes;
    this.largest = Math.max(this.largest, t.bytes);
    this.byType[t.type] = (this.byType[t.type] ?? 0) + t.bytes;
    if (t.name) this.names.add(t.name);
    if (t.external) this.external.set(t.external.location, Math.max(this.external.get(t.external.location) ?? 0, t.external.end));
  }

  /** The weights' element type: the one holding ≥ 90% of the weight bytes, else `mixed`. */
  weightDtype(): string {
    // Shapes and indices (int64 Reshape targets, …) and float32 constants an fp16 export keeps
    // (Resize scales) are not what "the weights' type" means; a 90% share absorbs the latter.
    const weights = Object.entries(this.byType).filter(([type]) => !NON_WEIGHT_TYPES.has(type));
    const total = weights.reduce((sum, [, bytes]) => sum + bytes, 0);
    if (total === 0) return 'none';
    const [type, bytes] = weights.reduce((a, b) => (b[1] > a[1] ? b : a));
    return bytes >= DOMINANT_SHARE * total ? type : 'mixed';
  }
}

/**
 * Walks a TensorProto's fields itself, reading only dims, data_type, name, data_location and
 * external_data, and skipping the payloads (raw_data, float_data, int32_data, string_data,
 * int64_data, double_data, uint64_data) by their length.
 */
async function readTensor(w: Walker, f: Field, label: string): Promise<TensorFacts> {
  w.expectWire(f, WIRE_LEN, label);
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let rawBytes: number | undefined;
  let stringBytes = 0;
  let externalLocation = false;
  const external: Record<string, string> = {};
  const what = () => (name ? `${label} '${name}'` : label);

  await w.eachField(f.start, f.end, what, async (t) => {
    switch (t.num) {
      case 1: // dims: unpacked (one varint per field) or packed
        if (t.wire === WIRE_VARINT) dims.push(t.value);
        else {
          const bytes = await w.bytes(t, what());
          for (let i = 0; i < bytes.length; ) {
            let value = 0;
            let scale = 1;
            let b: number;
            do {
              if (i >= bytes.length) throw w.notOnnx(`malformed dims in ${what()}`);
              b = bytes[i++];
              value += (b & 0x7f) * scale;
              scale *= 128;
            } while (b >= 0x80);
            dims.push(value);
          }
        }
        break;
      case 2: // data_type
        w.expectWire(t, WIRE_VARINT, what());
        dataType = t.value;
        break;
      case 8: // name
        name = await w.string(t, what());
        break;
      case 9: // raw_data: only its length matters
        w.expectWire(t, WIRE_LEN, what());
        rawBytes = t.value;
        break;
      case 6: // string_data (repeated bytes)
        stringBytes += t.value;
        break;
      case 13: {
        // external_data: key/value pairs (location, offset, length, checksum)
        const entry = await w.message(t, `an external data entry of ${what()}`, (b) => onnx.StringStringEntryProto.decode(b));
        external[entry.key] = entry.value;
        break;
      }
      case 14: // data_location: 1 = EXTERNAL
        externalLocation = t.value === 1;
        break;
      // Anything else (the numeric payloads 4, 5, 7, 10, 11, segment, doc_string) is skipped.
    }
  });

  const info = DATA_TYPES[dataType];
  const elements = dims.reduce((a, b) => a * b, 1);
  // dims × element size is what the tensor occupies once loaded, whatever the storage field.
  const bytes = info && info.bits > 0 ? Math.ceil((elements * info.bits) / 8) : (rawBytes ?? stringBytes);
  const facts: TensorFacts = { name, type: dataTypeName(dataType), bytes };
  if (externalLocation || external.location !== undefined) {
    if (!external.location) throw w.notOnnx(`${what()} is stored externally but names no file`);
    const offset = Number(external.offset ?? 0);
    const length = external.length !== undefined ? Number(external.length) : bytes;
    if (!Number.isFinite(offset) || !Number.isFinite(length)) throw w.notOnnx(`${what()} has an unreadable external offset or length`);
    facts.external = { location: external.location, end: offset + length };
  }
  return facts;
}

/** A SparseTensorProto: values (1) and indices (2) are TensorProtos; the name is the values'. */
async function readSparseTensor(w: Walker, f: Field, label: string): Promise<TensorFacts> {
  w.expectWire(f, WIRE_LEN, label);
  const parts: TensorFacts[] = [];
  await w.eachField(f.start, f.end, () => label, async (t) => {
    if (t.num === 1 || t.num === 2) parts.push(await readTensor(w, t, label));
  });
  const values = parts[0] ?? { name: '', type: 'undefined', bytes: 0 };
  return { ...values, bytes: parts.reduce((sum, p) => sum + p.bytes, 0) };
}

const toNumber = (v: number | { toNumber(): number }): number => (typeof v === 'number' ? v : v.toNumber());

function signature(bytes: Uint8Array): TensorSignature {
  const v = onnx.ValueInfoProto.decode(bytes);
  const type = v.type;
  const tensor = type?.tensorType ?? type?.sparseTensorType;
  if (!tensor) {
    const kind = type?.sequenceType ? 'sequence' : type?.mapType ? 'map' : type?.optionalType ? 'optional' : 'unknown';
    return { name: v.name, type: kind, shape: [] };
  }
  const shape = (tensor.shape?.dim ?? []).map((d) => {
    // Decoded messages own only the fields present in the bytes (defaults live on the prototype),
    // so a dim with neither dim_value nor dim_param is unknown, not 0.
    if (Object.hasOwn(d, 'dimValue') && d.dimValue != null) return toNumber(d.dimValue);
    if (d.dimParam) return d.dimParam;
    return '?';
  });
  return { name: v.name, type: dataTypeName(tensor.elemType ?? 0), shape };
}

/** Walks a GraphProto: nodes (op types only), initializers, sparse initializers, inputs, outputs. */
async function readGraph(w: Walker, f: Field, tally: WeightTally, out: { inputs: TensorSignature[]; outputs: TensorSignature[]; opTypes: Set<string>; nodeCount: number }): Promise<void> {
  w.expectWire(f, WIRE_LEN, 'the model');
  await w.eachField(f.start, f.end, () => 'the graph', async (g) => {
    switch (g.num) {
      case 1: {
        // NodeProto: op_type (4) and domain (7) only. Walked by hand rather than decoded so a
        // Constant node carrying a large tensor attribute is skipped, not read.
        w.expectWire(g, WIRE_LEN, 'the graph');
        out.nodeCount++;
        let opType = '';
        let domain = '';
        await w.eachField(g.start, g.end, () => `node #${out.nodeCount}`, async (n) => {
          if (n.num === 4) opType = await w.string(n, 'a node');
          else if (n.num === 7) domain = await w.string(n, 'a node');
        });
        out.opTypes.add(domain && domain !== 'ai.onnx' ? `${domain}.${opType}` : opType);
        break;
      }
      case 5:
        tally.add(await readTensor(w, g, `initializer #${tally.count + 1}`));
        break;
      case 15:
        tally.add(await readSparseTensor(w, g, `sparse initializer #${tally.count + 1}`));
        break;
      case 11:
        out.inputs.push(await w.message(g, 'a graph input', signature));
        break;
      case 12:
        out.outputs.push(await w.message(g, 'a graph output', signature));
        break;
      // name, doc_string, value_info, quantization_annotation, metadata: not needed.
    }
  });
}

/**
 * Inspects an ONNX model file by walking its protobuf with small reads (see the file comment).
 * Throws `OnnxFormatError` for non-ONNX, truncated or graph-less files.
 *
 * Limits: initializers inside subgraphs (If/Loop bodies) and functions are not counted; nodes in
 * them are not counted either.
 */
export async function inspectOnnx(file: SliceableFile): Promise<OnnxInfo> {
  const reader = new WindowReader(file, file.size);
  const w = new Walker(reader, file.name);
  if (file.size === 0) throw w.notOnnx('the file is empty');

  let irVersion = 0;
  const opsets: OnnxInfo['opsets'] = [];
  const producer = { name: '', version: '' };
  const tally = new WeightTally();
  const graph = { inputs: [] as TensorSignature[], outputs: [] as TensorSignature[], opTypes: new Set<string>(), nodeCount: 0 };
  let graphSeen = false;
  const metadata = new Map<string, string>();

  await w.eachField(0, file.size, () => 'the model header', async (f) => {
    const expected = MODEL_FIELDS[f.num];
    if (expected === undefined && f.num > MAX_MODEL_FIELD) throw w.notOnnx(`unexpected field ${f.num} at the top level`);
    if (expected !== undefined) w.expectWire(f, expected, 'the model');
    switch (f.num) {
      case 1:
        if (f.value < 1 || f.value > MAX_IR_VERSION) throw w.notOnnx(`ir_version ${f.value} is not an ONNX IR version`);
        irVersion = f.value;
        w.headerSeen = true;
        break;
      case 2:
        producer.name = await w.string(f, 'the model header');
        break;
      case 3:
        producer.version = await w.string(f, 'the model header');
        break;
      case 7:
        graphSeen = true;
        await readGraph(w, f, tally, graph);
        break;
      case 8: {
        const opset = await w.message(f, 'an opset import', (b) => onnx.OperatorSetIdProto.decode(b));
        opsets.push({ domain: opset.domain, version: toNumber(opset.version) });
        break;
      }
      case 14: {
        const entry = await w.message(f, 'a metadata entry', (b) => onnx.StringStringEntryProto.decode(b));
        metadata.set(entry.key, entry.value);
        break;
      }
    }
  });
  if (!w.headerSeen) throw w.notOnnx('it has no ir_version field');
  if (!graphSeen) throw w.noGraph();

  // Old exporters list every weight as a graph input too; those are not inputs to feed.
  const inputs = graph.inputs.filter((input) => !tally.names.has(input.name));
  return {
    irVersion,
    opsets,
    producer,
    inputs,
    outputs: graph.outputs,
    initializers: { count: tally.count, bytes: tally.bytes, byType: tally.byType },
    externalData: [...tally.external].map(([location, bytes]) => ({ location, bytes })),
    largestInitializerBytes: tally.largest,
    weightDtype: tally.weightDtype(),
    protobufBytes: file.size,
    nodeCount: graph.nodeCount,
    opTypes: [...graph.opTypes].sort(),
    // fromEntries defines own properties: a key like `__proto__` cannot reach the prototype.
    metadata: Object.fromEntries(metadata),
  };
}
