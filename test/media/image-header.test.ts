// @vitest-environment node
// (vite-plugin-solid defaults vitest to jsdom; this code runs in a worker / Node, not the DOM.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkImageLimits,
  IMAGE_LIMITS,
  ImageDecodeError,
  ImageTooLargeError,
  readImageHeader,
} from '../../src/media/image-header';

// Headers are built byte by byte: only the bytes readImageHeader needs, no pixel data.

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u16le = (v: number) => [v & 0xff, v >> 8];
const u16be = (v: number) => [v >> 8, v & 0xff];
const u24le = (v: number) => [v & 0xff, (v >> 8) & 0xff, v >> 16];
const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const u32be = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const bytes = (...parts: number[][]) => new Uint8Array(parts.flat());

function pngHeader(width: number, height: number) {
  return bytes(
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    u32be(13),
    ascii('IHDR'),
    u32be(width),
    u32be(height),
    [8, 6, 0, 0, 0],
    [0, 0, 0, 0], // CRC: not checked by the header reader
  );
}

function jpegHeader(width: number, height: number, sof = 0xc0) {
  return bytes(
    [0xff, 0xd8],
    [0xff, 0xe0], u16be(16), ascii('JFIF'), [0, 1, 1, 0, 0, 1, 0, 1, 0, 0], // APP0
    [0xff, 0xdb], u16be(4), [0, 0], // DQT (contents irrelevant)
    [0xff, 0xc4], u16be(4), [0, 0], // DHT sits inside the C0..CF range but is not a frame header
    [0xff, 0xff], // fill byte before the next marker
    [0xff, sof], u16be(11), [8], u16be(height), u16be(width), [1, 1, 0x11, 0],
  );
}

function gifHeader(width: number, height: number) {
  return bytes(ascii('GIF89a'), u16le(width), u16le(height), [0xf7, 0, 0]);
}

function riff(chunkType: string, payload: number[]) {
  return bytes(ascii('RIFF'), u32le(4 + 8 + payload.length), ascii('WEBP'), ascii(chunkType), u32le(payload.length), payload);
}

function bmpHeader(width: number, height: number, dibSize = 40) {
  const dib =
    dibSize === 12
      ? [...u32le(12), ...u16le(width), ...u16le(height), ...u16le(1), ...u16le(24)]
      : [...u32le(dibSize), ...u32le(width), ...u32le(height), ...u16le(1), ...u16le(24), ...Array(dibSize - 16).fill(0)];
  return bytes(ascii('BM'), u32le(14 + dib.length), [0, 0, 0, 0], u32le(14 + dib.length), dib);
}

function headerError(data: Uint8Array): ImageDecodeError {
  try {
    readImageHeader(data);
  } catch (e) {
    expect(e).toBeInstanceOf(ImageDecodeError);
    return e as ImageDecodeError;
  }
  throw new Error('readImageHeader did not throw');
}

describe('readImageHeader', () => {
  it('PNG: size from IHDR', () => {
    expect(readImageHeader(pngHeader(640, 480))).toEqual({ format: 'png', width: 640, height: 480 });
  });

  it('JPEG: walks APPn/DQT/DHT and fill bytes to the first SOFn', () => {
    expect(readImageHeader(jpegHeader(1920, 1080))).toEqual({ format: 'jpeg', width: 1920, height: 1080 });
    expect(readImageHeader(jpegHeader(33, 44, 0xc2))).toEqual({ format: 'jpeg', width: 33, height: 44 }); // progressive
  });

  it('JPEG without a frame header before the scan is damaged', () => {
    const noSof = bytes([0xff, 0xd8], [0xff, 0xdb], u16be(4), [0, 0], [0xff, 0xda], u16be(8), [0, 0, 0, 0, 0, 0]);
    expect(headerError(noSof).message).toMatch(/no frame header/);
  });

  it('GIF: logical screen size', () => {
    expect(readImageHeader(gifHeader(300, 200))).toEqual({ format: 'gif', width: 300, height: 200 });
    const gif87 = gifHeader(5, 6);
    gif87.set(ascii('GIF87a'));
    expect(readImageHeader(gif87)).toEqual({ format: 'gif', width: 5, height: 6 });
  });

  it('WebP lossy (VP8)', () => {
    const vp8 = riff('VP8 ', [0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, ...u16le(400 | (1 << 14)), ...u16le(301), 0, 0]);
    // the top 2 bits of each size are a scaling code, not part of the size
    expect(readImageHeader(vp8)).toEqual({ format: 'webp', width: 400, height: 301 });
  });

  it('WebP lossless (VP8L)', () => {
    const w = 1000;
    const h = 16384; // largest VP8L size: 14 bits of (size - 1)
    const bits = (w - 1) | ((h - 1) << 14);
    expect(readImageHeader(riff('VP8L', [0x2f, ...u32le(bits >>> 0), 0]))).toEqual({ format: 'webp', width: w, height: h });
  });

  it('WebP extended (VP8X)', () => {
    const vp8x = riff('VP8X', [0x10, 0, 0, 0, ...u24le(5000 - 1), ...u24le(70000 - 1)]);
    expect(readImageHeader(vp8x)).toEqual({ format: 'webp', width: 5000, height: 70000 });
  });

  it('BMP: BITMAPINFOHEADER (bottom-up and top-down), V5 and OS/2 core headers', () => {
    expect(readImageHeader(bmpHeader(123, 45))).toEqual({ format: 'bmp', width: 123, height: 45 });
    expect(readImageHeader(bmpHeader(123, -45 >>> 0))).toEqual({ format: 'bmp', width: 123, height: 45 });
    expect(readImageHeader(bmpHeader(7, 8, 124))).toEqual({ format: 'bmp', width: 7, height: 8 });
    expect(readImageHeader(bmpHeader(9, 10, 12))).toEqual({ format: 'bmp', width: 9, height: 10 });
  });

  it('reads real files', () => {
    const astronaut = new Uint8Array(readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url)));
    expect(readImageHeader(astronaut)).toEqual({ format: 'png', width: 512, height: 512 });
  });

  it('zero bytes: the file is empty', () => {
    const err = headerError(new Uint8Array(0));
    expect(err.reason).toBe('empty');
    expect(err.message).toBe('the file is empty');
  });

  it('unknown or random bytes: not an image this app can read', () => {
    let seed = 42;
    const random = new Uint8Array(64).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    random[0] = 0x00;
    for (const data of [random, bytes(ascii('%PDF-1.7\n%âãÏÓ\n1 0 obj')), bytes(ascii('RIFF'), u32le(100), ascii('WAVEfmt '))]) {
      const err = headerError(data);
      expect(err.reason).toBe('unknown-format');
      expect(err.message).toBe('not an image this app can read: PNG, JPEG, WebP, GIF or BMP');
    }
  });

  it('every format cut inside its header is truncated', () => {
    const headers = {
      png: pngHeader(10, 10).subarray(0, 24),
      jpeg: jpegHeader(10, 10).subarray(0, -4), // up to and including the width
      gif: gifHeader(10, 10).subarray(0, 10),
      webp: riff('VP8X', [0, 0, 0, 0, ...u24le(9), ...u24le(9)]),
      bmp: bmpHeader(10, 10).subarray(0, 26),
    };
    for (const [format, full] of Object.entries(headers)) {
      expect(readImageHeader(full).format).toBe(format);
      for (let cut = 1; cut < full.length; cut++) {
        const err = headerError(full.subarray(0, cut));
        expect(err.reason, `${format} cut at ${cut}`).toBe('truncated');
        expect(err.message).toMatch(/truncated/);
      }
    }
  });

  it('a header with a zero size is damaged', () => {
    expect(headerError(gifHeader(0, 10)).message).toBe('the GIF file is damaged: its header says 0×10');
    expect(headerError(pngHeader(10, 0)).reason).toBe('damaged');
  });
});

describe('checkImageLimits', () => {
  it('accepts images within both limits', () => {
    expect(IMAGE_LIMITS).toEqual({ maxSide: 8192, maxPixels: 40_000_000 });
    expect(() => checkImageLimits({ width: 8192, height: 4096 })).not.toThrow(); // 33.5 MP
    expect(() => checkImageLimits(readImageHeader(pngHeader(512, 512)))).not.toThrow();
  });

  it('refuses a PNG whose IHDR claims 30000×30000, stating its size and the limit', () => {
    const header = readImageHeader(pngHeader(30000, 30000));
    expect(header).toEqual({ format: 'png', width: 30000, height: 30000 });
    let err: unknown;
    try {
      checkImageLimits(header);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageTooLargeError);
    expect((err as Error).message).toBe(
      'image is 30000×30000 (900.0 MP); the largest this app opens is 8192 px per side and 40 MP',
    );
  });

  it('refuses one side too long even when the pixel count is small, and too many pixels with short sides', () => {
    expect(() => checkImageLimits({ width: 8193, height: 10 })).toThrow(ImageTooLargeError);
    expect(() => checkImageLimits({ width: 8000, height: 8000 })).toThrow(/image is 8000×8000 \(64\.0 MP\)/);
  });

  it('takes custom limits', () => {
    expect(() => checkImageLimits({ width: 100, height: 100 }, { maxSide: 64, maxPixels: 1_500_000 })).toThrow(
      'image is 100×100 (0.0 MP); the largest this app opens is 64 px per side and 1.5 MP',
    );
  });
});
