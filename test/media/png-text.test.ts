// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; this code runs in a worker / Node, not the DOM.)
import { readFileSync } from 'node:fs';
import { Deflate, zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../../src/media/png';
import { addPngTextChunks, keywordProblem, PngTextError, readPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';

// ---- building and inspecting PNGs by hand (independent of the code under test) ----

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte equality without vitest's element-by-element diffing (slow on a photo's worth of bytes). */
const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function expectSamePixels(a: Uint8Array, b: Uint8Array): void {
  const [x, y] = [decodePng(a), decodePng(b)];
  expect([x.width, x.height]).toEqual([y.width, y.height]);
  expect(sameBytes(x.data, y.data)).toBe(true);
}

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const utf8 = (s: string) => new TextEncoder().encode(s);

interface Chunk {
  type: string;
  start: number;
  end: number;
}

function listChunks(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  for (let at = 8; at < png.length; ) {
    const end = at + 12 + view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    out.push({ type, start: at, end });
    at = end;
    if (type === 'IEND') break;
  }
  return out;
}

/** `png` with extra raw chunks put just before the chunk of type `before`. */
function insertBefore(png: Uint8Array, before: string, ...chunks: Uint8Array[]): Uint8Array {
  const at = listChunks(png).find((c) => c.type === before)!.start;
  return concat(png.subarray(0, at), ...chunks, png.subarray(at));
}

const tiny = () => encodePng(createRgbaImage(2, 2, new Uint8ClampedArray(16).fill(200)));
const chelsea = () => new Uint8Array(readFileSync(new URL('../fixtures/images/chelsea.png', import.meta.url)));

function errorOf(fn: () => unknown): PngTextError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PngTextError);
    return e as PngTextError;
  }
  throw new Error('expected a PngTextError');
}

// ---- a zlib "zip bomb" of N MiB of zeros, built from fflate's Deflate fed 1 MiB at a time ----

/**
 * Compressing 1 GiB through fflate takes ~10 s, so only the first few MiB are compressed: each
 * MiB is pushed and sync-flushed to a byte boundary, and once the window is all zeros every
 * further MiB compresses to the same bytes (checked below), which are then repeated. The result
 * is exactly the stream Deflate would produce, ~1 KiB per MiB, and the test stays small and fast.
 */
function zeroBomb(mebibytes: number): Uint8Array {
  let pending: Uint8Array[] = [];
  const deflate = new Deflate({ level: 9 }, (data) => pending.push(data));
  const zeros = new Uint8Array(1 << 20);
  const segment = () => {
    deflate.push(zeros);
    deflate.flush(true);
    const bytes = concat(...pending);
    pending = [];
    return bytes;
  };
  const head = [segment(), segment()];
  const steady = segment();
  expect(segment()).toEqual(steady); // the repeat below is what Deflate itself emits
  deflate.push(new Uint8Array(0), true);
  const final = concat(...pending);

  const body = [...head, steady, steady];
  while (body.length < mebibytes) body.push(steady);
  // zlib wrapper: header 78 DA, then the deflate data, then Adler-32 of N zeros (a = 1, b = N mod 65521).
  const n = mebibytes * 2 ** 20;
  const adler = ((n % 65521) * 65536 + 1) >>> 0;
  return concat([0x78, 0xda], ...body, final, [adler >>> 24, (adler >>> 16) & 255, (adler >>> 8) & 255, adler & 255]);
}

const zTXt = (keyword: string, zlib: Uint8Array) => chunk('zTXt', concat(latin1(keyword), [0, 0], zlib));

// ---------------------------------------------------------------------------------------------

describe('addPngTextChunks + readPngTextChunks', () => {
  it('adds text to a real photo without touching its pixels or other chunks', () => {
    const original = chelsea();
    const out = addPngTextChunks(original, [
      { keyword: 'parameters', text: 'café crème, naïve façade\nNegative prompt: über\nSteps: 20' },
      { keyword: 'Comment', text: '猫の写真 🐱, ok' },
    ]);

    expectSamePixels(out, original);
    const texts = readPngTextChunks(out);
    // chelsea.png already carries Adobe XMP as iTXt: it is read and kept.
    expect(texts.map((t) => [t.kind, t.keyword])).toEqual([
      ['iTXt', 'XML:com.adobe.xmp'],
      ['tEXt', 'parameters'],
      ['iTXt', 'Comment'],
    ]);
    expect(texts[1].text).toBe('café crème, naïve façade\nNegative prompt: über\nSteps: 20');
    expect(texts[2]).toEqual({ keyword: 'Comment', kind: 'iTXt', text: '猫の写真 🐱, ok', language: '', translatedKeyword: '' });

    // Every original chunk is there byte for byte, in order; the new ones sit before the first IDAT.
    const before = listChunks(original).map((c) => original.subarray(c.start, c.end));
    const after = listChunks(out);
    const added = after.filter((c) => c.type === 'tEXt' || (c.type === 'iTXt' && out[c.start + 8] === 'C'.charCodeAt(0)));
    expect(added).toHaveLength(2);
    expect(after.findIndex((c) => c.type === 'IDAT')).toBe(after.indexOf(added[1]) + 1);
    const kept = after.filter((c) => !added.includes(c)).map((c) => out.subarray(c.start, c.end));
    expect(kept.length).toBe(before.length);
    kept.forEach((bytes, i) => expect(sameBytes(bytes, before[i])).toBe(true));
  });

  it('writes Latin-1 text as tEXt byte for byte, including the C1 range that windows-1252 would remap', () => {
    const text = 'àéîõü ÿ ¡¿ \u0080\u0099\u009f, 50°';
    const out = addPngTextChunks(tiny(), [{ keyword: 'parameters', text }]);
    const raw = listChunks(out).find((c) => c.type === 'tEXt')!;
    expect(out.subarray(raw.start + 8, raw.end - 4)).toEqual(concat(latin1('parameters'), [0], latin1(text)));
    expect(readPngTextChunks(out)).toEqual([{ keyword: 'parameters', kind: 'tEXt', text }]);
  });

  it('writes non-Latin-1 text (Japanese, emoji) and text with NUL as uncompressed UTF-8 iTXt', () => {
    for (const text of ['東京の夜景、ネオン', 'rocket 🚀 and 👩‍🚀', 'Ω', 'a\0b']) {
      const out = addPngTextChunks(tiny(), [{ keyword: 'parameters', text }]);
      const raw = listChunks(out).find((c) => c.type === 'iTXt')!;
      expect(out.subarray(raw.start + 8, raw.end - 4)).toEqual(concat(latin1('parameters'), [0, 0, 0, 0, 0], utf8(text)));
      expect(readPngTextChunks(out)).toEqual([{ keyword: 'parameters', kind: 'iTXt', text, language: '', translatedKeyword: '' }]);
    }
  });

  it('keeps empty text and keywords at the 79-character limit', () => {
    const keyword = 'k'.repeat(79);
    const out = addPngTextChunks(tiny(), [{ keyword, text: '' }]);
    expect(readPngTextChunks(out)).toEqual([{ keyword, kind: 'tEXt', text: '' }]);
  });

  it('replaces existing chunks of the same keyword, wherever they are and whatever their kind', () => {
    const zlib = zlibSync(latin1('old compressed'));
    const png = insertBefore(
      insertBefore(tiny(), 'IDAT', chunk('tEXt', concat(latin1('parameters'), [0], latin1('old')))),
      'IEND',
      zTXt('parameters', zlib),
      chunk('tEXt', concat(latin1('Software'), [0], latin1('other'))),
    );
    expect(readPngTextChunks(png).map((t) => t.text)).toEqual(['old', 'old compressed', 'other']);

    const once = addPngTextChunks(png, [{ keyword: 'parameters', text: 'new ✓' }]);
    const twice = addPngTextChunks(once, [{ keyword: 'parameters', text: 'newer' }]);
    expect(readPngTextChunks(once).map((t) => [t.keyword, t.text])).toEqual([
      ['parameters', 'new ✓'],
      ['Software', 'other'],
    ]);
    expect(readPngTextChunks(twice).map((t) => [t.keyword, t.kind, t.text])).toEqual([
      ['parameters', 'tEXt', 'newer'],
      ['Software', 'tEXt', 'other'],
    ]);
    expectSamePixels(twice, png);
  });

  it('drops bytes after IEND and returns a buffer that is exactly the file', () => {
    const png = concat(tiny(), [1, 2, 3]);
    const out = addPngTextChunks(png, [{ keyword: 'a', text: 'b' }]);
    expect(listChunks(out).at(-1)!.end).toBe(out.length);
    expect(out.buffer.byteLength).toBe(out.length);
  });

  it('refuses invalid keywords and duplicate keywords', () => {
    for (const keyword of ['', ' lead', 'trail ', 'two  spaces', 'k'.repeat(80), 'tab\there', 'nul\0', '猫', 'del\u007f', '\u00a0nbsp']) {
      expect(keywordProblem(keyword)).toBeDefined();
      const e = errorOf(() => addPngTextChunks(tiny(), [{ keyword, text: 'x' }]));
      expect(e.reason).toBe('invalid');
      expect(e.message).toMatch(/^invalid PNG text keyword/);
    }
    for (const keyword of ['parameters', 'a', 'Größe', 'x y-z/1', '¡ÿ']) expect(keywordProblem(keyword)).toBeUndefined();
    const dup = errorOf(() => addPngTextChunks(tiny(), [{ keyword: 'a', text: '1' }, { keyword: 'a', text: '2' }]));
    expect(dup.message).toBe('keyword "a" is given twice');
  });

  it('refuses files that are not whole PNGs', () => {
    expect(errorOf(() => addPngTextChunks(new Uint8Array([1, 2, 3]), [])).reason).toBe('not-png');
    const png = tiny();
    expect(errorOf(() => addPngTextChunks(png.subarray(0, png.length - 5), [])).reason).toBe('truncated');
    const noIdat = concat(...listChunks(png).filter((c) => c.type !== 'IDAT').map((c) => png.subarray(c.start, c.end)));
    expect(errorOf(() => addPngTextChunks(concat(png.subarray(0, 8), noIdat), [])).message).toMatch(/no image data/);
  });
});

describe('readPngTextChunks', () => {
  it('reads zTXt (compressed Latin-1) and compressed iTXt (UTF-8)', () => {
    const text = 'masterpiece, best quality, ' + 'détail, '.repeat(500);
    const jp = '夕焼けの海、' + '波の音 🌊 '.repeat(300);
    const png = insertBefore(
      tiny(),
      'IEND', // text after the image data is legal and must be found too
      zTXt('parameters', zlibSync(latin1(text))),
      chunk('iTXt', concat(latin1('Description'), [0, 1, 0], latin1('ja'), [0], utf8('説明'), [0], zlibSync(utf8(jp)))),
    );
    expect(readPngTextChunks(png)).toEqual([
      { keyword: 'parameters', kind: 'zTXt', text },
      { keyword: 'Description', kind: 'iTXt', text: jp, language: 'ja', translatedKeyword: '説明' },
    ]);
  });

  it('stops a 1 GiB zip bomb at the inflate cap with a clear error, quickly and without allocating it', () => {
    const bomb = zeroBomb(1024);
    expect(bomb.length).toBeLessThan(1.1 * 2 ** 20); // ~1 MiB on disk…
    const png = insertBefore(tiny(), 'IDAT', zTXt('parameters', bomb));

    const started = performance.now();
    // Raise the chunk cap so that the inflate cap, not the chunk size, is what stops it.
    const e = errorOf(() => readPngTextChunks(png, { maxChunkBytes: 4 * 2 ** 20 }));
    expect(e.reason).toBe('too-large');
    expect(e.message).toBe(
      'the compressed text "parameters" inflates to more than 4194304 bytes (the most this app reads); it may be a decompression bomb',
    );
    // Inflating the whole gigabyte takes seconds (and a gigabyte); stopping at 4 MiB takes milliseconds.
    expect(performance.now() - started).toBeLessThan(2000);

    // With default limits a bomb is refused too (here its compressed size alone is over the 1 MiB cap).
    expect(errorOf(() => readPngTextChunks(png)).reason).toBe('too-large');
    // And inside a compressed iTXt.
    const itxt = chunk('iTXt', concat(latin1('parameters'), [0, 1, 0, 0, 0], zeroBomb(16)));
    expect(errorOf(() => readPngTextChunks(insertBefore(tiny(), 'IDAT', itxt))).message).toMatch(/decompression bomb/);
  });

  it('the bomb builder makes a valid stream: a small one inflates under a big enough cap', () => {
    const png = insertBefore(tiny(), 'IDAT', zTXt('zeros', zeroBomb(5)));
    const [t] = readPngTextChunks(png, { maxInflatedBytes: 5 * 2 ** 20 });
    expect(t.text.length).toBe(5 * 2 ** 20);
    expect(/^\0*$/.test(t.text)).toBe(true);
    expect(errorOf(() => readPngTextChunks(png, { maxInflatedBytes: 5 * 2 ** 20 - 1 })).reason).toBe('too-large');
  });

  it('counts the inflate cap over the whole file, not per chunk', () => {
    const three = zlibSync(new Uint8Array(3 * 2 ** 20));
    const png = insertBefore(tiny(), 'IDAT', zTXt('a', three), zTXt('b', three));
    expect(errorOf(() => readPngTextChunks(png)).message).toMatch(/"b" inflates to more than/);
    expect(readPngTextChunks(png, { maxInflatedBytes: 6 * 2 ** 20 })).toHaveLength(2);
  });

  it('enforces the chunk size and chunk count caps', () => {
    const big = insertBefore(tiny(), 'IDAT', chunk('tEXt', concat(latin1('a'), [0], new Uint8Array(100).fill(65))));
    expect(errorOf(() => readPngTextChunks(big, { maxChunkBytes: 50 })).message).toBe(
      'a tEXt chunk holds 102 bytes; the most accepted is 50',
    );
    const many = insertBefore(tiny(), 'IDAT', ...Array.from({ length: 5 }, (_, i) => chunk('tEXt', latin1(`k${i}\0v`))));
    expect(readPngTextChunks(many)).toHaveLength(5);
    expect(errorOf(() => readPngTextChunks(many, { maxChunks: 4 })).message).toBe('the PNG file has more than 4 text chunks');
  });

  it('refuses a text chunk whose CRC is wrong', () => {
    const png = addPngTextChunks(tiny(), [{ keyword: 'parameters', text: 'Steps: 20' }]);
    const t = listChunks(png).find((c) => c.type === 'tEXt')!;
    const corrupt = png.slice();
    corrupt[t.start + 20] ^= 0x01; // one bit flipped inside the text
    const e = errorOf(() => readPngTextChunks(corrupt));
    expect(e.reason).toBe('damaged');
    expect(e.message).toBe('the PNG file is damaged: a tEXt chunk fails its checksum (CRC)');
  });

  it('refuses damaged compressed text: bad zlib header, cut-off stream, wrong Adler-32, bad method', () => {
    const zlib = zlibSync(latin1('hello hello hello'));
    const cases: Array<[Uint8Array, RegExp]> = [
      [zTXt('a', concat([0x78, 0x00], zlib.subarray(2))), /valid zlib header/],
      [zTXt('a', concat(zlib.subarray(0, zlib.length - 8), zlib.subarray(zlib.length - 4))), /cannot be inflated/],
      [zTXt('a', concat(zlib.subarray(0, zlib.length - 1), [zlib[zlib.length - 1] ^ 1])), /Adler-32/],
      [chunk('zTXt', concat(latin1('a'), [0, 1], zlib)), /unknown compression method 1/],
      [zTXt('a', new Uint8Array([0x78, 0x9c])), /too short/],
    ];
    for (const [bad, message] of cases) {
      const e = errorOf(() => readPngTextChunks(insertBefore(tiny(), 'IDAT', bad)));
      expect(e.reason).toBe('damaged');
      expect(e.message).toMatch(message);
    }
  });

  it('refuses malformed text chunks', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [chunk('tEXt', latin1('no terminator')), /no keyword terminator/],
      [chunk('tEXt', latin1(' lead\0x')), /invalid keyword/],
      [chunk('tEXt', concat(latin1('k'.repeat(80)), [0])), /no keyword terminator/],
      [chunk('iTXt', concat(latin1('k'), [0, 0, 0], latin1('en'))), /terminator/],
      [chunk('iTXt', concat(latin1('k'), [0, 2, 0, 0, 0])), /compression flag 2/],
      [chunk('iTXt', concat(latin1('k'), [0, 0, 0, 0, 0], [0xff, 0xfe])), /not UTF-8/],
      [chunk('zTXt', concat(latin1('k'), [0])), /cut short/],
    ];
    for (const [bad, message] of cases) {
      const e = errorOf(() => readPngTextChunks(insertBefore(tiny(), 'IDAT', bad)));
      expect(e.reason).toBe('damaged');
      expect(e.message).toMatch(message);
    }
  });

  it('refuses what is not a whole PNG file, and ignores anything after IEND', () => {
    expect(errorOf(() => readPngTextChunks(new Uint8Array(0))).reason).toBe('not-png');
    expect(errorOf(() => readPngTextChunks(latin1('GIF89a.....'))).reason).toBe('not-png');
    const png = addPngTextChunks(tiny(), [{ keyword: 'a', text: 'b' }]);
    expect(errorOf(() => readPngTextChunks(png.subarray(0, png.length - 1))).reason).toBe('truncated');
    expect(errorOf(() => readPngTextChunks(png.subarray(0, 40))).reason).toBe('truncated');
    const lengthTooBig = png.slice();
    new DataView(lengthTooBig.buffer).setUint32(8, 0x80000000);
    expect(errorOf(() => readPngTextChunks(lengthTooBig)).reason).toBe('damaged');
    const trailer = concat(png, chunk('tEXt', latin1('late\0ignored')));
    expect(readPngTextChunks(trailer)).toEqual([{ keyword: 'a', kind: 'tEXt', text: 'b' }]);
  });
});
