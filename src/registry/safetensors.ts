/**
 * `.safetensors` header reading, checked against every rule of the format
 * (https://github.com/huggingface/safetensors, README "Format" and the reference reader):
 *
 * - 8 bytes: N, a little-endian u64, the header's length; N ≤ 100 MB; 8 + N ≤ file size.
 * - N bytes: UTF-8 JSON that MUST start with `{` and MAY be padded at the end with spaces.
 *   No duplicate keys. `__metadata__` (optional) maps strings to strings only. Every other key is
 *   a tensor `{ dtype, shape, data_offsets: [begin, end] }`, offsets relative to the data buffer.
 * - The rest: the data buffer, which the tensors must cover exactly — taken in offset order they
 *   start at 0, each begins where the previous ended (no holes: they would allow polyglot files)
 *   and the last ends at the end of the file. Each tensor spans product(shape) × dtype bits / 8.
 *
 * Only the 8 length bytes and the header are read (files are 2–7 GB); the data never is, except
 * by `readTensorBytes`, which callers use for a few tiny tensors (LoRA alphas).
 *
 * Runs in a Web Worker and in Node: Blob-like input, TextDecoder, no node: or DOM-only APIs.
 */
import { classifySafetensors, type SafetensorsClassification } from './safetensors-classify';
import { SAFETENSORS_DTYPE_BITS, type SafetensorsDtype, type SafetensorsHeader, type SafetensorsTensor } from './safetensors-header';

export * from './safetensors-classify';
export * from './safetensors-header';

/** Every violation of the format; the message says what is wrong, with the numbers. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** A File in the browser, a Blob in both, or anything with the same two members. */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface ReadHeaderOptions {
  /** The reference implementation's limit; lower it to refuse big headers sooner. */
  maxHeaderBytes?: number;
}

export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
const U64_MAX = (1n << 64n) - 1n;

export async function readSafetensorsHeader(file: BlobLike, options: ReadHeaderOptions = {}): Promise<SafetensorsHeader> {
  const maxHeaderBytes = options.maxHeaderBytes ?? SAFETENSORS_MAX_HEADER_BYTES;
  const size = file.size;
  if (size < 8) {
    throw new SafetensorsError(
      `the file is ${size} bytes long: too short to hold the 8-byte header length a safetensors file starts with (truncated?)`,
    );
  }
  const n = new DataView(await file.slice(0, 8).arrayBuffer()).getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) {
    throw new SafetensorsError(`header length ${n} bytes is over the ${formatLimit(maxHeaderBytes)} limit`);
  }
  const headerBytes = Number(n);
  if (8 + headerBytes > size) {
    throw new SafetensorsError(
      `header length ${headerBytes} bytes runs past the end of the file: it needs ${8 + headerBytes} bytes but the file has ${size} (truncated?)`,
    );
  }
  const raw = new Uint8Array(await file.slice(8, 8 + headerBytes).arrayBuffer());
  return parseSafetensorsHeader(raw, size - 8 - headerBytes);
}

/**
 * Checks the N header bytes against the rules, given the data buffer's size. Exposed for callers
 * that already hold the bytes (and for tests); `readSafetensorsHeader` is the usual entry.
 */
export function parseSafetensorsHeader(raw: Uint8Array, dataBytes: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new SafetensorsError('the header is not valid UTF-8 text');
  }
  if (text.length === 0) throw new SafetensorsError('the header is empty (length 0); it must be a JSON object');
  if (text[0] !== '{') {
    throw new SafetensorsError(`the header must start with '{' but starts with ${describeChar(text.charCodeAt(0))}`);
  }
  const root = parseJson(text) as JsonObject; // starts with '{', so an object or an error

  let metadata: Record<string, string> | null = null;
  const tensors: SafetensorsTensor[] = [];
  for (const [name, value] of root) {
    if (name === '__metadata__') metadata = checkMetadata(value);
    else tensors.push(checkTensor(name, value));
  }

  // The reference reader sorts by offsets too: writers have used name order, or any order.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: SafetensorsTensor | null = null;
  for (const t of tensors) {
    if (t.begin < cursor && previous) {
      throw new SafetensorsError(
        `tensor '${previous.name}' bytes ${previous.begin}–${previous.end} overlap '${t.name}' ${t.begin}–${t.end}`,
      );
    }
    if (t.begin > cursor) {
      throw new SafetensorsError(
        `gap of ${t.begin - cursor} bytes before '${t.name}': data bytes ${cursor}–${t.begin} belong to no tensor`,
      );
    }
    if (t.end > dataBytes) {
      throw new SafetensorsError(
        `tensor '${t.name}' bytes ${t.begin}–${t.end} run past the end of the data: the file has ${dataBytes} bytes of data after the header`,
      );
    }
    cursor = t.end;
    previous = t;
  }
  if (cursor !== dataBytes) {
    throw new SafetensorsError(
      `data ends at ${cursor} but the file has ${dataBytes} bytes of data (${dataBytes - cursor} bytes at the end belong to no tensor)`,
    );
  }
  return { headerBytes: raw.length, dataBytes, metadata, tensors };
}

/** The bytes of one tensor, read from the file (meant for tiny ones such as LoRA alphas). */
export async function readTensorBytes(file: BlobLike, header: SafetensorsHeader, tensor: SafetensorsTensor): Promise<Uint8Array> {
  const start = 8 + header.headerBytes + tensor.begin;
  return new Uint8Array(await file.slice(start, start + (tensor.end - tensor.begin)).arrayBuffer());
}

export interface InspectedSafetensors {
  header: SafetensorsHeader;
  classification: SafetensorsClassification;
}

/** Header + classification, reading alpha scalars (a few bytes each) from the file itself. */
export async function inspectSafetensors(file: BlobLike, fileName: string, options: ReadHeaderOptions = {}): Promise<InspectedSafetensors> {
  const header = await readSafetensorsHeader(file, options);
  const classification = await classifySafetensors(header, fileName, (t) => readTensorBytes(file, header, t));
  return { header, classification };
}

// ---------------------------------------------------------------------------------------------
// Per-entry checks

function checkMetadata(value: JsonValue): Record<string, string> | null {
  // serde's Option<HashMap> in the reference reader takes `null` as "no metadata".
  if (value === null) return null;
  if (!(value instanceof Map)) {
    throw new SafetensorsError(`__metadata__ is ${kindOf(value)}; it must be an object mapping strings to strings`);
  }
  const out: Record<string, string> = {};
  for (const [key, v] of value) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(`__metadata__ value for '${key}' is ${kindOf(v)}; only strings are allowed`);
    }
    // defineProperty: a key such as `__proto__` stays a plain entry.
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function checkTensor(name: string, value: JsonValue): SafetensorsTensor {
  if (!(value instanceof Map)) {
    throw new SafetensorsError(`header entry '${name}' is ${kindOf(value)}; a tensor must be an object with dtype, shape and data_offsets`);
  }
  // Other fields are ignored, as the reference reader does.
  const dtypeValue = field(value, name, 'dtype');
  if (typeof dtypeValue !== 'string') throw new SafetensorsError(`dtype of '${name}' is ${kindOf(dtypeValue)}; it must be a string`);
  if (!Object.hasOwn(SAFETENSORS_DTYPE_BITS, dtypeValue)) {
    throw new SafetensorsError(`tensor '${name}' has unknown dtype '${dtypeValue}' (known: ${Object.keys(SAFETENSORS_DTYPE_BITS).join(', ')})`);
  }
  const dtype = dtypeValue as SafetensorsDtype;

  const shapeValue = field(value, name, 'shape');
  if (!Array.isArray(shapeValue)) throw new SafetensorsError(`shape of '${name}' is ${kindOf(shapeValue)}; it must be an array of integers`);
  const dims = shapeValue.map((d, i) => nonNegativeInteger(d, `dimension ${i} of the shape of '${name}'`));

  const offsetsValue = field(value, name, 'data_offsets');
  if (!Array.isArray(offsetsValue) || offsetsValue.length !== 2) {
    const got = Array.isArray(offsetsValue) ? `an array of ${offsetsValue.length}` : kindOf(offsetsValue);
    throw new SafetensorsError(`data_offsets of '${name}' is ${got}; it must be [begin, end]`);
  }
  const begin = nonNegativeInteger(offsetsValue[0], `data_offsets begin of '${name}'`);
  const end = nonNegativeInteger(offsetsValue[1], `data_offsets end of '${name}'`);
  if (begin > end) throw new SafetensorsError(`data_offsets of '${name}' are [${begin}, ${end}]: begin is after end`);

  // Exact arithmetic: a hostile shape could overflow doubles. Overflowing u64 is an error upstream too.
  const bits = dims.reduce((p, d) => p * d, 1n) * BigInt(SAFETENSORS_DTYPE_BITS[dtype]);
  const shapeText = `${dtype} [${dims.join(', ')}]`;
  if (bits > U64_MAX) throw new SafetensorsError(`tensor '${name}' is ${shapeText}: its size overflows 64 bits`);
  if (bits % 8n !== 0n) throw new SafetensorsError(`tensor '${name}' is ${shapeText} = ${bits} bits, not a whole number of bytes`);
  if (bits / 8n !== end - begin) {
    throw new SafetensorsError(`tensor '${name}' is ${shapeText} = ${bits / 8n} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  // Past this point every offset is a real byte count; dimensions beyond 2^53 can only come with a
  // zero dimension (an empty tensor) and are refused rather than rounded.
  for (const [i, d] of dims.entries()) {
    if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw new SafetensorsError(`dimension ${i} of the shape of '${name}' (${d}) is too large`);
  }
  if (end > BigInt(Number.MAX_SAFE_INTEGER)) throw new SafetensorsError(`data_offsets of '${name}' (${begin}–${end}) are too large for any file`);
  return { name, dtype, shape: dims.map(Number), begin: Number(begin), end: Number(end) };
}

function field(entry: JsonObject, name: string, key: string): JsonValue {
  if (!entry.has(key)) throw new SafetensorsError(`tensor '${name}' has no '${key}'`);
  return entry.get(key) as JsonValue;
}

/** The JSON integer grammar without a sign: `2.0`, `2e0` and `-1` are refused, like a usize in serde. */
function nonNegativeInteger(value: JsonValue | undefined, what: string): bigint {
  if (!(value instanceof JsonNumber)) throw new SafetensorsError(`${what} is ${kindOf(value)}; it must be a non-negative integer`);
  if (!/^(0|[1-9][0-9]*)$/.test(value.text)) {
    throw new SafetensorsError(`${what} is ${value.text}; it must be a non-negative integer`);
  }
  const n = BigInt(value.text);
  if (n > U64_MAX) throw new SafetensorsError(`${what} is ${value.text}, more than a 64-bit integer holds`);
  return n;
}

function kindOf(v: JsonValue | undefined): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (v instanceof JsonNumber) return 'a number';
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : 'a boolean';
}

function formatLimit(bytes: number): string {
  return bytes >= 1_000_000 && bytes % 1_000_000 === 0 ? `${bytes / 1_000_000} MB` : `${bytes} bytes`;
}

function describeChar(code: number): string {
  return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// A strict, small JSON parser. JSON.parse cannot be used: it silently keeps the last of duplicate
// keys (the spec forbids them; duplicates are how one file shows two readers different tensors)
// and turns `2.0` into 2 and 2^64 into a rounded double.

/** A number kept as its source text, so integers are checked exactly. */
class JsonNumber {
  constructor(readonly text: string) {}
}
type JsonObject = Map<string, JsonValue>;
type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** Far deeper than a header ever is (3 levels); stops a hostile `[[[[…` from blowing the stack. */
const MAX_DEPTH = 64;

// Character codes the parser compares against (char codes, not one-letter strings: headers reach MBs).
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e;
const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const LITERALS = [['true', true], ['false', false], ['null', null]] as const;

function parseJson(text: string): JsonValue {
  let i = 0;
  // Where the parser is, for duplicate-key messages: [] = top level, ['w'] = inside 'w'.
  const path: string[] = [];

  const fail = (what: string): never => {
    throw new SafetensorsError(`the header is not valid JSON: ${what} at character ${i}`);
  };
  const found = () => (i >= text.length ? 'the end of the text' : describeChar(text.charCodeAt(i)));
  const skipSpace = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };

  const parseString = (): string => {
    const start = i; // at the opening quote
    i++;
    let escaped = false;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c < 0x20) fail('control character inside a string');
      i++;
    }
    i++;
    if (!escaped) return text.slice(start + 1, i - 1);
    try {
      return JSON.parse(text.slice(start, i)) as string; // one string: no keys, so no duplicates to miss
    } catch {
      return fail('bad escape in a string');
    }
  };

  /** JSON's number grammar: -?(0|[1-9]digits)(.digits)?([eE][+-]?digits)?, kept as text. */
  const parseNumber = (): JsonNumber => {
    const start = i;
    const digits = () => {
      const from = i;
      while (isDigit(text.charCodeAt(i))) i++;
      if (i === from) fail(`expected a digit but found ${found()}`);
    };
    if (text.charCodeAt(i) === MINUS) i++;
    if (text.charCodeAt(i) === 0x30) i++;
    else digits();
    if (text.charCodeAt(i) === DOT) {
      i++;
      digits();
    }
    if ((text.charCodeAt(i) | 0x20) === 0x65) {
      i++;
      if (text.charCodeAt(i) === PLUS || text.charCodeAt(i) === MINUS) i++;
      digits();
    }
    return new JsonNumber(text.slice(start, i));
  };

  const parseObject = (depth: number): JsonObject => {
    i++;
    const obj: JsonObject = new Map();
    skipSpace();
    if (text.charCodeAt(i) === CLOSE_BRACE) {
      i++;
      return obj;
    }
    for (;;) {
      skipSpace();
      if (text.charCodeAt(i) !== QUOTE) fail(`expected a quoted key but found ${found()}`);
      const key = parseString();
      if (obj.has(key)) {
        const where = path.length ? ` inside '${path.join("' → '")}'` : '';
        throw new SafetensorsError(`duplicate key '${key}'${where} in the header (the format forbids duplicates)`);
      }
      skipSpace();
      if (text.charCodeAt(i) !== COLON) fail(`expected ':' but found ${found()}`);
      i++;
      path.push(key);
      obj.set(key, parseValue(depth + 1));
      path.pop();
      skipSpace();
      const c = text.charCodeAt(i);
      if (c === CLOSE_BRACE) {
        i++;
        return obj;
      }
      if (c !== COMMA) fail(`expected ',' or '}' but found ${found()}`);
      i++;
    }
  };

  const parseArray = (depth: number): JsonValue[] => {
    i++;
    const arr: JsonValue[] = [];
    skipSpace();
    if (text.charCodeAt(i) === CLOSE_BRACKET) {
      i++;
      return arr;
    }
    for (;;) {
      arr.push(parseValue(depth + 1));
      skipSpace();
      const c = text.charCodeAt(i);
      if (c === CLOSE_BRACKET) {
        i++;
        return arr;
      }
      if (c !== COMMA) fail(`expected ',' or ']' but found ${found()}`);
      i++;
    }
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`);
    skipSpace();
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE) return parseObject(depth);
    if (c === OPEN_BRACKET) return parseArray(depth);
    if (c === QUOTE) return parseString();
    if (c === MINUS || isDigit(c)) return parseNumber();
    for (const [word, literal] of LITERALS) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return literal;
      }
    }
    return fail(i >= text.length ? 'the text ended where a value was expected' : `unexpected ${found()}`);
  };

  const value = parseValue(0);
  // The spec pads with spaces; the reference reader (serde_json) accepts any JSON whitespace.
  skipSpace();
  if (i < text.length) fail(`unexpected ${found()} after the header's JSON object`);
  return value;
}
