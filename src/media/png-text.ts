/**
 * PNG text chunks (tEXt, zTXt, iTXt), read and written at the chunk level: the pixel data is
 * never decoded or re-encoded, so adding parameters to an image cannot change a single pixel.
 *
 * Everything here treats the file as untrusted input from the user's disk: every length is
 * checked against the file and against caps before anything is allocated, CRCs are verified,
 * and compressed text is inflated in small steps under a byte budget so that a "zip bomb"
 * (a few kilobytes that inflate to gigabytes) stops at the cap with a clear error. Text is only
 * ever returned as strings; nothing is evaluated.
 *
 * Pure TypeScript plus fflate (streaming inflate): runs in the worker and in Node.
 */
import { Inflate } from 'fflate';
import { PNG_SIGNATURE } from './image-header';

export type PngTextKind = 'tEXt' | 'zTXt' | 'iTXt';

export interface PngTextChunk {
  keyword: string;
  text: string;
  kind: PngTextKind;
  /** iTXt only: language tag (RFC 3066 style, may be empty). */
  language?: string;
  /** iTXt only: the keyword translated into `language` (may be empty). */
  translatedKeyword?: string;
}

export interface ReadPngTextOptions {
  /** Largest text chunk accepted, in bytes as stored. Default 1 MiB. */
  maxChunkBytes?: number;
  /** Total bytes that compressed chunks may inflate to, over the whole file. Default 4 MiB. */
  maxInflatedBytes?: number;
  /** Most text chunks accepted in one file. Default 64. */
  maxChunks?: number;
}

export type PngTextErrorReason = 'not-png' | 'truncated' | 'damaged' | 'too-large' | 'invalid';

/** Why text could not be read or written; `reason` lets the UI choose wording. */
export class PngTextError extends Error {
  override readonly name = 'PngTextError';
  constructor(
    message: string,
    readonly reason: PngTextErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MiB = 1024 * 1024;
export const PNG_TEXT_LIMITS = { maxChunkBytes: 1 * MiB, maxInflatedBytes: 4 * MiB, maxChunks: 64 } as const;

const TEXT_KINDS: ReadonlySet<string> = new Set(['tEXt', 'zTXt', 'iTXt']);

/** Every text chunk before IEND, in file order (text after IDAT included, as the spec allows). */
export function readPngTextChunks(bytes: Uint8Array, options: ReadPngTextOptions = {}): PngTextChunk[] {
  const { maxChunkBytes, maxInflatedBytes, maxChunks } = { ...PNG_TEXT_LIMITS, ...options };
  const out: PngTextChunk[] = [];
  // One budget for the whole file: 64 chunks × 4 MiB each would defeat the point of a cap.
  const budget = { left: maxInflatedBytes };

  for (const chunk of walkChunks(bytes)) {
    if (!TEXT_KINDS.has(chunk.type)) continue;
    if (out.length >= maxChunks) {
      throw new PngTextError(`the PNG file has more than ${maxChunks} text chunks`, 'too-large');
    }
    if (chunk.data.length > maxChunkBytes) {
      throw new PngTextError(
        `a ${chunk.type} chunk holds ${chunk.data.length} bytes; the most accepted is ${maxChunkBytes}`,
        'too-large',
      );
    }
    // Other chunks' CRCs are left to the image decoder; text we hand out must be intact.
    if (crc32(bytes.subarray(chunk.start + 4, chunk.end - 4)) !== readU32(bytes, chunk.end - 4)) {
      throw new PngTextError(`the PNG file is damaged: a ${chunk.type} chunk fails its checksum (CRC)`, 'damaged');
    }
    out.push(parseTextChunk(chunk.type as PngTextKind, chunk.data, budget, maxInflatedBytes));
  }
  return out;
}

/**
 * A copy of `pngBytes` with the given text chunks inserted just before the first IDAT (where
 * every reader sees them before the image data). Existing text chunks with the same keyword are
 * dropped, wherever they were. Each text is stored as tEXt when it is pure Latin-1 without NUL
 * (what A1111 and PIL write for plain prompts), otherwise as uncompressed UTF-8 iTXt.
 */
export function addPngTextChunks(pngBytes: Uint8Array, chunks: ReadonlyArray<{ keyword: string; text: string }>): Uint8Array {
  const encoded: Uint8Array[] = [];
  const keywords = new Set<string>();
  for (const { keyword, text } of chunks) {
    const problem = keywordProblem(keyword);
    if (problem) throw new PngTextError(`invalid PNG text keyword ${JSON.stringify(keyword)}: ${problem}`, 'invalid');
    if (typeof text !== 'string') throw new PngTextError(`the text for "${keyword}" is not a string`, 'invalid');
    if (keywords.has(keyword)) throw new PngTextError(`keyword "${keyword}" is given twice`, 'invalid');
    keywords.add(keyword);
    encoded.push(encodeChunk(...encodeText(keyword, text)));
  }

  const kept: Uint8Array[] = [pngBytes.subarray(0, PNG_SIGNATURE.length)];
  let inserted = false;
  let sawIend = false;
  for (const chunk of walkChunks(pngBytes)) {
    if (kept.length === 1 && chunk.type !== 'IHDR') {
      throw new PngTextError('the PNG file is damaged: it does not start with an IHDR chunk', 'damaged');
    }
    if (chunk.type === 'IDAT' && !inserted) {
      kept.push(...encoded);
      inserted = true;
    }
    if (TEXT_KINDS.has(chunk.type)) {
      const sep = nulIndex(chunk.data, 0, 80);
      if (sep > 0 && keywords.has(latin1(chunk.data.subarray(0, sep)))) continue; // replaced by the new chunk
    }
    kept.push(pngBytes.subarray(chunk.start, chunk.end));
    if (chunk.type === 'IEND') sawIend = true; // anything after IEND is dropped
  }
  if (!inserted) throw new PngTextError('the PNG file is damaged: it has no image data (IDAT)', 'damaged');
  if (!sawIend) throw truncated();

  const out = new Uint8Array(kept.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of kept) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Why `keyword` is not a valid PNG text keyword, or undefined if it is: 1–79 Latin-1 printable
 * characters (32–126, 161–255), no leading, trailing or consecutive spaces (PNG spec 11.3.4.3).
 */
export function keywordProblem(keyword: string): string | undefined {
  if (typeof keyword !== 'string' || keyword.length < 1 || keyword.length > 79) return 'it must be 1 to 79 characters long';
  for (let i = 0; i < keyword.length; i++) {
    const c = keyword.charCodeAt(i);
    if (!((c >= 32 && c <= 126) || (c >= 161 && c <= 255))) return 'it may only hold printable Latin-1 characters';
  }
  if (keyword.startsWith(' ') || keyword.endsWith(' ')) return 'it may not start or end with a space';
  if (keyword.includes('  ')) return 'it may not hold two spaces in a row';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Chunk walking

interface RawChunk {
  type: string;
  /** Offset of the length field; `end` is just past the CRC. */
  start: number;
  end: number;
  data: Uint8Array;
}

const truncated = () =>
  new PngTextError('the PNG file is truncated: it ends before its last chunk (IEND)', 'truncated');

/** Chunks from IHDR up to and including IEND, with lengths checked against the file. */
function* walkChunks(bytes: Uint8Array): Generator<RawChunk> {
  if (bytes.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new PngTextError('not a PNG file', 'not-png');
  }
  let at: number = PNG_SIGNATURE.length;
  for (;;) {
    if (at + 8 > bytes.length) throw truncated();
    const length = readU32(bytes, at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (!/^[A-Za-z]{4}$/.test(type) || length > 0x7fffffff) {
      throw new PngTextError(`the PNG file is damaged: bad chunk header at byte ${at}`, 'damaged');
    }
    const end = at + 12 + length;
    if (end > bytes.length) throw truncated();
    yield { type, start: at, end, data: bytes.subarray(at + 8, at + 8 + length) };
    if (type === 'IEND') return;
    at = end;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading one text chunk

function parseTextChunk(kind: PngTextKind, data: Uint8Array, budget: { left: number }, cap: number): PngTextChunk {
  const bad = (why: string) => new PngTextError(`the PNG file is damaged: a ${kind} chunk ${why}`, 'damaged');
  const sep = nulIndex(data, 0, 80);
  if (sep < 0) throw bad('has no keyword terminator');
  const keyword = latin1(data.subarray(0, sep));
  const problem = keywordProblem(keyword);
  if (problem) throw bad(`has an invalid keyword (${problem})`);

  if (kind === 'tEXt') return { keyword, kind, text: latin1(data.subarray(sep + 1)) };

  if (kind === 'zTXt') {
    if (sep + 2 > data.length) throw bad(`"${keyword}" is cut short`);
    if (data[sep + 1] !== 0) throw bad(`"${keyword}" uses unknown compression method ${data[sep + 1]}`);
    return { keyword, kind, text: latin1(inflateCapped(data.subarray(sep + 2), budget, cap, keyword)) };
  }

  // iTXt: keyword NUL flag method language NUL translated-keyword NUL text
  if (sep + 3 > data.length) throw bad(`"${keyword}" is cut short`);
  const compressed = data[sep + 1];
  if (compressed > 1) throw bad(`"${keyword}" has an invalid compression flag ${compressed}`);
  if (compressed === 1 && data[sep + 2] !== 0) throw bad(`"${keyword}" uses unknown compression method ${data[sep + 2]}`);
  const langEnd = nulIndex(data, sep + 3);
  const transEnd = langEnd < 0 ? -1 : nulIndex(data, langEnd + 1);
  if (transEnd < 0) throw bad(`"${keyword}" is missing its language or translated keyword terminator`);
  const body = data.subarray(transEnd + 1);
  return {
    keyword,
    kind,
    language: latin1(data.subarray(sep + 3, langEnd)),
    translatedKeyword: utf8(data.subarray(langEnd + 1, transEnd), () => bad(`"${keyword}" has a translated keyword that is not UTF-8`)),
    text: utf8(compressed ? inflateCapped(body, budget, cap, keyword) : body, () => bad(`"${keyword}" holds text that is not UTF-8`)),
  };
}

/** Input is fed to the inflater in slices this big. Deflate expands at most ~1032:1, so one
 * slice produces at most ~1 MiB before the budget is checked again. */
const INFLATE_SLICE = 1024;

/**
 * zlib-inflate `zlib` (2-byte header, deflate data, Adler-32), spending at most `budget.left`
 * output bytes. fflate's streaming Inflate inflates whatever it was given in one go, so the input
 * is fed in small slices and the running total checked after each: memory stays bounded by the
 * cap plus one slice's worth, however large the stream claims to be.
 */
function inflateCapped(zlib: Uint8Array, budget: { left: number }, cap: number, keyword: string): Uint8Array {
  const bad = (why: string, cause?: unknown) =>
    new PngTextError(`the PNG file is damaged: the compressed text "${keyword}" ${why}`, 'damaged', { cause });
  if (zlib.length < 6) throw bad('is too short');
  const [cmf, flg] = zlib;
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) {
    throw bad('does not start with a valid zlib header');
  }

  const parts: Uint8Array[] = [];
  let total = 0;
  let overCap = false;
  const inflater = new Inflate((part) => {
    total += part.length;
    if (total > budget.left) {
      overCap = true;
      throw new Error('over the cap'); // stops fflate mid-push; replaced by a clear error below
    }
    parts.push(part);
  });
  const deflated = zlib.subarray(2, zlib.length - 4);
  try {
    if (deflated.length === 0) inflater.push(deflated, true);
    for (let i = 0; i < deflated.length; i += INFLATE_SLICE) {
      const end = Math.min(i + INFLATE_SLICE, deflated.length);
      inflater.push(deflated.subarray(i, end), end === deflated.length);
    }
  } catch (cause) {
    if (overCap) {
      throw new PngTextError(
        `the compressed text "${keyword}" inflates to more than ${cap} bytes (the most this app reads); ` +
          'it may be a decompression bomb',
        'too-large',
      );
    }
    throw bad(`cannot be inflated (${cause instanceof Error ? cause.message : String(cause)})`, cause);
  }
  budget.left -= total;

  const text = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    text.set(part, at);
    at += part.length;
  }
  if (adler32(text) !== readU32(zlib, zlib.length - 4)) throw bad('fails its checksum (Adler-32)');
  return text;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Chunk type and data for one keyword/text pair. */
function encodeText(keyword: string, text: string): [PngTextKind, Uint8Array] {
  const key = latin1Bytes(keyword);
  if (isLatin1WithoutNul(text)) {
    const body = latin1Bytes(text);
    const data = new Uint8Array(key.length + 1 + body.length);
    data.set(key);
    data.set(body, key.length + 1);
    return ['tEXt', data];
  }
  // iTXt, uncompressed, no language, no translated keyword: keyword 0 0 0 0 0 text
  const body = new TextEncoder().encode(text);
  const data = new Uint8Array(key.length + 5 + body.length);
  data.set(key);
  data.set(body, key.length + 5);
  return ['iTXt', data];
}

function encodeChunk(type: PngTextKind, data: Uint8Array): Uint8Array {
  if (data.length > 0x7fffffff) throw new PngTextError(`the ${type} chunk would be too large for a PNG file`, 'too-large');
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isLatin1WithoutNul(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0xff) return false;
  }
  return true;
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Latin-1 by hand: TextDecoder('latin1') is really windows-1252 and remaps 0x80–0x9F. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function utf8(bytes: Uint8Array, onError: () => Error): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw onError();
  }
}

/** Index of the first NUL at or after `from` (looking at most `limit` bytes), or -1. */
function nulIndex(bytes: Uint8Array, from: number, limit = Infinity): number {
  const end = Math.min(bytes.length, from + limit);
  for (let i = from; i < end; i++) if (bytes[i] === 0) return i;
  return -1;
}

const readU32 = (bytes: Uint8Array, at: number) =>
  ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as PNG uses it (over chunk type + data). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Adler-32, the zlib trailer checksum (fflate's streaming inflater does not check it). */
function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; ) {
    // 5552 is the longest run before b can overflow 2^32 (zlib's NMAX).
    const end = Math.min(i + 5552, bytes.length);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
