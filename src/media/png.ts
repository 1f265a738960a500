/**
 * PNG encode/decode to and from 8-bit RGBA, on top of fast-png (opaque images are written as RGB).
 *
 * fast-png alone is not enough for files from the user's disk: without `checkCrc` it decodes a
 * corrupted IDAT into garbage, it accepts a file that is missing its last bytes, and it fails on
 * truncation with errors like "Offset is outside the bounds of the DataView". So the chunk
 * structure (lengths, CRCs, IHDR first, IEND present) is checked here first, and every failure
 * comes out as an ImageDecodeError that says what is wrong with the file.
 */
import { crc32 } from './png-text';
import { decode, encode, type DecodedPng } from 'fast-png';
import type { RgbaImage } from '../pipeline/image/rgba';
import { createRgbaImage } from '../pipeline/image/rgba';
import { IMAGE_FORMAT_NAMES, ImageDecodeError, PNG_SIGNATURE, readImageHeader } from './image-header';

export { ImageDecodeError } from './image-header';

/**
 * Encode RGBA8 as PNG. An image whose every alpha is 255 (a generated or upscaled picture, almost
 * always) is written as RGB (colour type 2): a quarter fewer samples to deflate and store.
 */
export function encodePng(image: RgbaImage): Uint8Array {
  const { width, height, data } = image;
  const opaque = isOpaque(data);
  const out = encode({ width, height, data: opaque ? dropAlpha(data) : data, channels: opaque ? 3 : 4, depth: 8 });
  // fast-png returns a view on a larger growable buffer; copy so `.buffer` is exactly the file
  // (callers transfer it between threads or wrap it in a Blob).
  return out.byteLength === out.buffer.byteLength ? out : out.slice();
}

function isOpaque(rgba: Uint8ClampedArray): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
}

function dropAlpha(rgba: Uint8ClampedArray): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    rgb[o] = rgba[i];
    rgb[o + 1] = rgba[i + 1];
    rgb[o + 2] = rgba[i + 2];
  }
  return rgb;
}

export function decodePng(bytes: Uint8Array): RgbaImage {
  const header = readImageHeader(bytes); // empty / not an image / truncated header
  if (header.format !== 'png') {
    const actual = IMAGE_FORMAT_NAMES[header.format];
    throw new ImageDecodeError(`expected a PNG file but this is a ${actual} file`, { reason: 'unsupported' });
  }
  const { ihdr, colourKey, input } = checkStructure(bytes);

  let png: DecodedPng;
  try {
    png = decode(input);
  } catch (cause) {
    throw damaged(`its image data cannot be decoded (${cause instanceof Error ? cause.message : String(cause)})`, cause);
  }
  if (png.width !== ihdr.width || png.height !== ihdr.height || png.depth !== ihdr.depth) {
    throw damaged('the decoder disagrees with its header');
  }
  return createRgbaImage(png.width, png.height, toRgba(png, ihdr.colourType, colourKey));
}

interface Ihdr {
  width: number;
  height: number;
  depth: number;
  colourType: number;
  interlace: number;
}

const damaged = (why: string, cause?: unknown) =>
  new ImageDecodeError(`the PNG file is damaged: ${why}`, { reason: 'damaged', cause });

const truncated = () =>
  new ImageDecodeError(
    'the PNG file is truncated: it ends before its last chunk (IEND), so part of the image is missing',
    { reason: 'truncated' },
  );

/** Allowed bit depths per colour type (PNG spec, table 11.1). */
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16], // grey
  2: [8, 16], // RGB
  3: [1, 2, 4, 8], // palette
  4: [8, 16], // grey + alpha
  6: [8, 16], // RGBA
};

/**
 * Walk every chunk: lengths inside the file, CRCs correct, IHDR first and sane, IDAT present,
 * IEND reached. Returns the bytes to hand to fast-png: for grey/RGB images the tRNS chunk is
 * taken out and applied here, because fast-png rejects valid tRNS chunks on images of fewer
 * than 3 pixels.
 */
function checkStructure(bytes: Uint8Array): { ihdr: Ihdr; colourKey?: number[]; input: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at: number = PNG_SIGNATURE.length;
  let ihdr: Ihdr | undefined;
  let hasIdat = false;
  let hasPalette = false;
  let trns: { start: number; end: number } | undefined;

  for (;;) {
    if (at + 8 > bytes.length) throw truncated();
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (!/^[A-Za-z]{4}$/.test(type) || length > 0x7fffffff) throw damaged(`bad chunk header at byte ${at}`);
    const end = at + 12 + length;
    if (end > bytes.length) throw truncated();
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      throw damaged(`chunk ${type} fails its checksum (CRC)`);
    }
    if (ihdr === undefined && type !== 'IHDR') throw damaged('it does not start with an IHDR chunk');

    if (type === 'IHDR') {
      if (ihdr) throw damaged('it has two IHDR chunks');
      if (length !== 13) throw damaged('its IHDR chunk has the wrong length');
      ihdr = {
        width: view.getUint32(at + 8),
        height: view.getUint32(at + 12),
        depth: bytes[at + 16],
        colourType: bytes[at + 17],
        interlace: bytes[at + 20],
      };
    } else if (type === 'PLTE') hasPalette = true;
    else if (type === 'IDAT') hasIdat = true;
    else if (type === 'tRNS') trns = { start: at, end };
    else if (type === 'IEND') break;
    at = end;
  }
  // Bytes after IEND are ignored, as browsers do.

  if (!ihdr) throw damaged('it has no IHDR chunk');
  const { width, height, depth, colourType, interlace } = ihdr;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw damaged(`its header says ${width}×${height}`);
  }
  if (!DEPTHS[colourType]?.includes(depth)) throw damaged(`colour type ${colourType} with bit depth ${depth}`);
  if (interlace > 1) throw damaged(`unknown interlace method ${interlace}`);
  if (interlace === 1 && depth < 8) {
    // fast-png's Adam7 decoder mis-sizes sub-byte pixels and produces garbage or a bogus error.
    throw new ImageDecodeError(
      `interlaced PNGs with ${depth}-bit samples are not supported; re-save the image without interlacing`,
      { reason: 'unsupported' },
    );
  }
  if (colourType === 3 && !hasPalette) throw damaged('it is a palette image without a palette (PLTE)');
  if (!hasIdat) throw damaged('it has no image data (IDAT)');

  if (trns && (colourType === 0 || colourType === 2)) {
    const samples = colourType === 0 ? 1 : 3;
    if (trns.end - trns.start - 12 !== samples * 2) throw damaged('its tRNS chunk has the wrong length');
    const colourKey = Array.from({ length: samples }, (_, i) => view.getUint16(trns.start + 8 + i * 2));
    const input = new Uint8Array(bytes.length - (trns.end - trns.start));
    input.set(bytes.subarray(0, trns.start));
    input.set(bytes.subarray(trns.end), trns.start);
    return { ihdr, colourKey, input };
  }
  return { ihdr, input: bytes };
}

/**
 * Expand whatever fast-png returned to RGBA8. fast-png leaves samples as stored: 1/2/4-bit
 * samples packed into bytes (rows padded to a byte), 16-bit samples in a Uint16Array, palette
 * images as indices.
 */
function toRgba(png: DecodedPng, colourType: number, colourKey?: number[]): Uint8ClampedArray {
  const { width, height, depth, channels } = png;
  const samples = unpackSamples(png);
  const out = new Uint8ClampedArray(width * height * 4);
  const pixels = width * height;

  if (colourType === 3) {
    const palette = png.palette ?? [];
    for (let p = 0; p < pixels; p++) {
      const entry = palette[samples[p]];
      if (!entry) throw damaged(`a pixel uses colour ${samples[p]} but the palette has ${palette.length}`);
      out[p * 4] = entry[0];
      out[p * 4 + 1] = entry[1];
      out[p * 4 + 2] = entry[2];
      out[p * 4 + 3] = entry[3] ?? 255; // alpha present only when the file has tRNS
    }
    return out;
  }

  // Scale a raw sample to 0..255: 1/2/4-bit by replication (×255, ×85, ×17), 16-bit by /257.
  const max = 2 ** depth - 1;
  const to8 = depth === 16 ? (v: number) => Math.round(v / 257) : (v: number) => (v * 255) / max;
  for (let p = 0, s = 0; p < pixels; p++, s += channels) {
    const o = p * 4;
    if (channels <= 2) {
      const g = to8(samples[s]);
      out[o] = out[o + 1] = out[o + 2] = g;
      out[o + 3] = channels === 2 ? to8(samples[s + 1]) : colourKey?.[0] === samples[s] ? 0 : 255;
    } else {
      out[o] = to8(samples[s]);
      out[o + 1] = to8(samples[s + 1]);
      out[o + 2] = to8(samples[s + 2]);
      const keyed =
        colourKey !== undefined &&
        colourKey[0] === samples[s] &&
        colourKey[1] === samples[s + 1] &&
        colourKey[2] === samples[s + 2];
      out[o + 3] = channels === 4 ? to8(samples[s + 3]) : keyed ? 0 : 255;
    }
  }
  return out;
}

/** One array entry per sample (width × height × channels), whatever the bit depth. */
function unpackSamples(png: DecodedPng): ArrayLike<number> {
  const { width, height, depth, channels, data } = png;
  const perRow = width * channels;
  if (depth >= 8) {
    if (data.length !== perRow * height) throw damaged('its image data has the wrong size');
    return data;
  }
  const bytesPerRow = Math.ceil((perRow * depth) / 8);
  if (data.length !== bytesPerRow * height) throw damaged('its image data has the wrong size');
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = data[y * bytesPerRow + (bit >> 3)];
      out[y * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask; // most significant bits first
    }
  }
  return out;
}

