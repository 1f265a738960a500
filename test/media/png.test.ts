// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; this code runs in a worker / Node, not the DOM.)
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { decodePng, encodePng, ImageDecodeError } from '../../src/media/png';

// ---- building PNGs by hand, so every colour type / depth / chunk layout can be tested ----

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: ArrayLike<number> = []): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, depth: number, colourType: number, interlace = 0): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data.set([depth, colourType, 0, 0, interlace], 8);
  return chunk('IHDR', data);
}

/** rows: the unfiltered scanline bytes of each row (a 0 filter byte is prepended). */
function buildPng(opts: {
  width: number;
  height: number;
  depth: number;
  colourType: number;
  rows: number[][];
  before?: Uint8Array[]; // chunks between IHDR and IDAT (PLTE, tRNS)
  interlace?: number;
  raw?: Uint8Array; // the exact uncompressed stream, instead of rows
}): Uint8Array {
  const raw = opts.raw ?? new Uint8Array(opts.rows.flatMap((r) => [0, ...r]));
  return concat(
    SIGNATURE,
    ihdr(opts.width, opts.height, opts.depth, opts.colourType, opts.interlace),
    ...(opts.before ?? []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND'),
  );
}

const u16 = (v: number) => [v >> 8, v & 0xff];

/** The RGBA pixels of a decoded image as [r, g, b, a] tuples. */
function pixels(bytes: Uint8Array): number[][] {
  const img = decodePng(bytes);
  const out: number[][] = [];
  for (let i = 0; i < img.data.length; i += 4) out.push(Array.from(img.data.subarray(i, i + 4)));
  return out;
}

function decodeError(bytes: Uint8Array): ImageDecodeError {
  try {
    decodePng(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ImageDecodeError);
    return e as ImageDecodeError;
  }
  throw new Error('decodePng did not throw');
}

function sampleImage(width: number, height: number) {
  const img = createRgbaImage(width, height);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 37 + (i >> 4)) & 255;
  return img;
}

describe('encodePng / decodePng round trip', () => {
  it('returns exactly the RGBA pixels that were encoded, alpha included', () => {
    const img = sampleImage(17, 9);
    const bytes = encodePng(img);
    expect(Array.from(bytes.subarray(0, 8))).toEqual(Array.from(SIGNATURE));
    // The buffer is exactly the file, so it can be transferred or wrapped in a Blob as is.
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    const back = decodePng(bytes);
    expect(back.width).toBe(17);
    expect(back.height).toBe(9);
    expect(back.data).toBeInstanceOf(Uint8ClampedArray);
    expect(back.data).toEqual(img.data);
  });

  it('decodes a 1×1 image', () => {
    const img = createRgbaImage(1, 1, new Uint8ClampedArray([1, 2, 3, 4]));
    expect(decodePng(encodePng(img)).data).toEqual(img.data);
  });

  it('decodes a PNG that sits inside a larger buffer (non-zero byteOffset)', () => {
    const bytes = encodePng(sampleImage(4, 3));
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(decodePng(padded.subarray(5, 5 + bytes.length)).data).toEqual(sampleImage(4, 3).data);
  });
});

describe('decodePng: every colour type and bit depth becomes RGBA8', () => {
  it('grey 8-bit', () => {
    const png = buildPng({ width: 3, height: 1, depth: 8, colourType: 0, rows: [[0, 128, 255]] });
    expect(pixels(png)).toEqual([
      [0, 0, 0, 255],
      [128, 128, 128, 255],
      [255, 255, 255, 255],
    ]);
  });

  it('grey 1-bit, with rows padded to a byte', () => {
    // width 10: two bytes per row, the last 6 bits are padding
    const png = buildPng({ width: 10, height: 2, depth: 1, colourType: 0, rows: [[0b10100000, 0b01000000], [0xff, 0xc0]] });
    const grey = pixels(png).map((p) => p[0]);
    expect(grey).toEqual([255, 0, 255, 0, 0, 0, 0, 0, 0, 255, ...Array(10).fill(255)]);
  });

  it('grey 2-bit and 4-bit scale to the full 0..255 range', () => {
    const two = buildPng({ width: 4, height: 1, depth: 2, colourType: 0, rows: [[0b00_01_10_11]] });
    expect(pixels(two).map((p) => p[0])).toEqual([0, 85, 170, 255]);
    const four = buildPng({ width: 3, height: 1, depth: 4, colourType: 0, rows: [[0x0f, 0x80]] });
    expect(pixels(four).map((p) => p[0])).toEqual([0, 255, 136]);
  });

  it('grey 16-bit uses round(v / 257)', () => {
    const png = buildPng({
      width: 4,
      height: 1,
      depth: 16,
      colourType: 0,
      rows: [[...u16(0x1234), ...u16(0xffff), ...u16(0x8080), ...u16(128)]],
    });
    expect(pixels(png).map((p) => p[0])).toEqual([Math.round(0x1234 / 257), 255, 128, 0]);
  });

  it('grey + alpha, 8 and 16-bit', () => {
    const g8 = buildPng({ width: 2, height: 1, depth: 8, colourType: 4, rows: [[10, 20, 30, 40]] });
    expect(pixels(g8)).toEqual([
      [10, 10, 10, 20],
      [30, 30, 30, 40],
    ]);
    const g16 = buildPng({ width: 1, height: 1, depth: 16, colourType: 4, rows: [[...u16(0xffff), ...u16(0x0101)]] });
    expect(pixels(g16)).toEqual([[255, 255, 255, 1]]);
  });

  it('RGB, 8 and 16-bit', () => {
    const rgb8 = buildPng({ width: 2, height: 1, depth: 8, colourType: 2, rows: [[1, 2, 3, 4, 5, 6]] });
    expect(pixels(rgb8)).toEqual([
      [1, 2, 3, 255],
      [4, 5, 6, 255],
    ]);
    const rgb16 = buildPng({ width: 1, height: 1, depth: 16, colourType: 2, rows: [[...u16(257), ...u16(514), ...u16(0xffff)]] });
    expect(pixels(rgb16)).toEqual([[1, 2, 255, 255]]);
  });

  it('RGBA 16-bit', () => {
    const png = encode({ width: 1, height: 2, depth: 16, channels: 4, data: new Uint16Array([0, 257, 65535, 32896, 1, 2, 3, 65535]) });
    expect(pixels(png)).toEqual([
      [0, 1, 255, 128],
      [0, 0, 0, 255],
    ]);
  });

  it('palette 8-bit without transparency is opaque', () => {
    const plte = chunk('PLTE', [255, 0, 0, 0, 255, 0, 0, 0, 255]);
    const png = buildPng({ width: 3, height: 1, depth: 8, colourType: 3, rows: [[2, 0, 1]], before: [plte] });
    expect(pixels(png)).toEqual([
      [0, 0, 255, 255],
      [255, 0, 0, 255],
      [0, 255, 0, 255],
    ]);
  });

  it('palette 1, 2 and 4-bit with a partial tRNS (alpha for the first entries only)', () => {
    const plte = chunk('PLTE', [10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42]);
    const trns = chunk('tRNS', [0, 128]); // entries 2 and 3 stay opaque
    const expected = (indices: number[]) =>
      indices.map((i) => [10 * (i + 1), 10 * (i + 1) + 1, 10 * (i + 1) + 2, [0, 128, 255, 255][i]]);

    const p1 = buildPng({ width: 3, height: 1, depth: 1, colourType: 3, rows: [[0b01000000]], before: [plte, trns] });
    expect(pixels(p1)).toEqual(expected([0, 1, 0]));
    const p2 = buildPng({ width: 5, height: 1, depth: 2, colourType: 3, rows: [[0b11100100, 0b10000000]], before: [plte, trns] });
    expect(pixels(p2)).toEqual(expected([3, 2, 1, 0, 2]));
    const p4 = buildPng({ width: 3, height: 2, depth: 4, colourType: 3, rows: [[0x12, 0x30], [0x00, 0x10]], before: [plte, trns] });
    expect(pixels(p4)).toEqual(expected([1, 2, 3, 0, 0, 1]));
  });

  it('grey with a tRNS colour key makes that grey level transparent', () => {
    const trns = chunk('tRNS', u16(128));
    const png = buildPng({ width: 3, height: 1, depth: 8, colourType: 0, rows: [[0, 128, 255]], before: [trns] });
    expect(pixels(png).map((p) => p[3])).toEqual([255, 0, 255]);
  });

  it('RGB with a tRNS colour key, on a 2-pixel image (fast-png alone rejects this)', () => {
    const trns = chunk('tRNS', [...u16(4), ...u16(5), ...u16(6)]);
    const png = buildPng({ width: 2, height: 1, depth: 8, colourType: 2, rows: [[1, 2, 3, 4, 5, 6]], before: [trns] });
    expect(pixels(png)).toEqual([
      [1, 2, 3, 255],
      [4, 5, 6, 0],
    ]);
  });

  it('16-bit RGB colour key compares the full 16-bit samples', () => {
    const trns = chunk('tRNS', [...u16(0x0100), ...u16(0), ...u16(0)]);
    // both pixels scale to (1, 0, 0) but only the first matches the key exactly
    const png = buildPng({
      width: 2,
      height: 1,
      depth: 16,
      colourType: 2,
      rows: [[...u16(0x0100), 0, 0, 0, 0, ...u16(0x0101), 0, 0, 0, 0]],
      before: [trns],
    });
    expect(pixels(png).map((p) => p[3])).toEqual([0, 255]);
  });

  it('Adam7-interlaced 8-bit RGBA', () => {
    const img = sampleImage(13, 11);
    const png = encode({ width: 13, height: 11, data: img.data, channels: 4, depth: 8 }, { interlace: 'Adam7' });
    expect(decodePng(png).data).toEqual(img.data);
  });

  it('image data split over several IDAT chunks', () => {
    const img = sampleImage(8, 8);
    const rows = Array.from({ length: 8 }, (_, y) => Array.from(img.data.subarray(y * 32, (y + 1) * 32)));
    const z = deflateSync(new Uint8Array(rows.flatMap((r) => [0, ...r])));
    const png = concat(SIGNATURE, ihdr(8, 8, 8, 6), chunk('IDAT', z.subarray(0, 10)), chunk('IDAT', z.subarray(10)), chunk('IEND'));
    expect(decodePng(png).data).toEqual(img.data);
  });

  it('ignores unknown ancillary chunks and bytes after IEND', () => {
    const png = buildPng({ width: 1, height: 1, depth: 8, colourType: 0, rows: [[7]], before: [chunk('abCd', [1, 2, 3])] });
    expect(pixels(concat(png, new Uint8Array([1, 2, 3])))).toEqual([[7, 7, 7, 255]]);
  });
});

describe('decodePng: damaged and truncated files', () => {
  const good = encodePng(sampleImage(16, 16));

  it('every truncation of a valid PNG is reported as truncated', () => {
    for (let cut = 1; cut < good.length; cut++) {
      const err = decodeError(good.subarray(0, cut));
      expect(err.reason, `cut at ${cut}`).toBe('truncated');
      expect(err.message).toMatch(/truncated/);
    }
  });

  it('a file cut inside IDAT says it is truncated', () => {
    const idatStart = 33; // signature (8) + IHDR chunk (25)
    expect(String.fromCharCode(...good.subarray(idatStart + 4, idatStart + 8))).toBe('IDAT');
    const err = decodeError(good.subarray(0, idatStart + 8 + 20));
    expect(err.message).toBe(
      'the PNG file is truncated: it ends before its last chunk (IEND), so part of the image is missing',
    );
  });

  it('a flipped byte in the image data fails the CRC check (fast-png alone would return garbage)', () => {
    const bad = good.slice();
    bad[33 + 8 + 20] ^= 0xff;
    const err = decodeError(bad);
    expect(err.reason).toBe('damaged');
    expect(err.message).toMatch(/^the PNG file is damaged: chunk IDAT fails its checksum/);
  });

  it('IDAT that is not zlib data (with a correct CRC) is damaged', () => {
    const png = concat(SIGNATURE, ihdr(2, 2, 8, 0), chunk('IDAT', [1, 2, 3, 4, 5, 6, 7, 8]), chunk('IEND'));
    expect(decodeError(png).message).toMatch(/^the PNG file is damaged: its image data cannot be decoded/);
  });

  it('too little image data is damaged', () => {
    const png = buildPng({ width: 4, height: 4, depth: 8, colourType: 0, rows: [], raw: new Uint8Array([0, 1, 2, 3, 4]) });
    expect(decodeError(png).reason).toBe('damaged');
  });

  it('a chunk length running past the end is truncated, a garbage chunk header is damaged', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(33, 0x7ffffff0); // IDAT length
    expect(decodeError(bad).reason).toBe('truncated');
    const garbage = good.slice();
    garbage.set([0, 0, 0, 0, 1, 2, 3, 4], 33);
    expect(decodeError(garbage).message).toMatch(/bad chunk header/);
  });

  it('invalid IHDR values, missing PLTE, missing IDAT, out-of-range palette index', () => {
    const depth3 = buildPng({ width: 1, height: 1, depth: 3, colourType: 0, rows: [[0]] });
    expect(decodeError(depth3).message).toMatch(/colour type 0 with bit depth 3/);
    const noPlte = buildPng({ width: 1, height: 1, depth: 8, colourType: 3, rows: [[0]] });
    expect(decodeError(noPlte).message).toMatch(/without a palette/);
    const noIdat = concat(SIGNATURE, ihdr(1, 1, 8, 0), chunk('IEND'));
    expect(decodeError(noIdat).message).toMatch(/no image data/);
    const plte = chunk('PLTE', [1, 2, 3]);
    const badIndex = buildPng({ width: 1, height: 1, depth: 8, colourType: 3, rows: [[5]], before: [plte] });
    expect(decodeError(badIndex).message).toMatch(/palette has 1/);
  });

  it('refuses Adam7 with sub-byte samples clearly instead of returning garbage', () => {
    // 8×8 1-bit grey, all white: 7 passes, each row one byte
    const passRows = [1, 1, 1, 2, 2, 4, 4];
    const raw = new Uint8Array(passRows.flatMap((n) => Array.from({ length: n }, () => [0, 0xff]).flat()));
    const png = buildPng({ width: 8, height: 8, depth: 1, colourType: 0, rows: [], raw, interlace: 1 });
    const err = decodeError(png);
    expect(err.reason).toBe('unsupported');
    expect(err.message).toMatch(/interlaced PNGs with 1-bit samples are not supported/);
  });

  it('zero bytes, random bytes and other formats', () => {
    expect(decodeError(new Uint8Array(0)).message).toBe('the file is empty');
    let seed = 1;
    const random = new Uint8Array(256).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    random[0] = 0x00; // make sure it cannot start like a real signature
    expect(decodeError(random).reason).toBe('unknown-format');
    const gif = new Uint8Array([...'GIF89a'].map((c) => c.charCodeAt(0)).concat([1, 0, 1, 0]));
    expect(decodeError(gif).message).toMatch(/expected a PNG file but this is a GIF file/);
  });
});

describe('decodePng: real photographs', () => {
  const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/images/${name}`, import.meta.url)));

  it.each([
    ['astronaut.png', 512, 512],
    ['chelsea.png', 451, 300],
  ])('%s decodes to %i×%i opaque RGBA and survives a round trip', (name, width, height) => {
    const img = decodePng(fixture(name));
    expect(img.width).toBe(width);
    expect(img.height).toBe(height);
    expect(img.data.length).toBe(width * height * 4);
    let opaque = true;
    let sum = 0;
    for (let i = 0; i < img.data.length; i += 4) {
      opaque &&= img.data[i + 3] === 255;
      sum += img.data[i] + img.data[i + 1] + img.data[i + 2];
    }
    expect(opaque).toBe(true);
    const mean = sum / (width * height * 3);
    expect(mean).toBeGreaterThan(40); // a photo, not a black or white frame
    expect(mean).toBeLessThan(215);
    // Compare as Buffers: toEqual walks a million typed-array elements slowly.
    const again = decodePng(encodePng(img)).data;
    expect(Buffer.from(again.buffer).equals(Buffer.from(img.data.buffer))).toBe(true);
  });
});
