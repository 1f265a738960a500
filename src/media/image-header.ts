/**
 * Identify an image file and read its size from the first few bytes, before anything is
 * decoded: an image that is too large must be refused without allocating its pixels.
 * Pure TypeScript (runs in the worker and in Node).
 */

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/** Why a file could not be read; lets the UI pick wording without parsing messages. */
export type ImageDecodeReason = 'empty' | 'unknown-format' | 'truncated' | 'damaged' | 'unsupported';

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  readonly reason: ImageDecodeReason;
  constructor(message: string, options: { reason?: ImageDecodeReason; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.reason = options.reason ?? 'damaged';
  }
}

export const IMAGE_LIMITS = { maxSide: 8192, maxPixels: 40_000_000 } as const;

export interface ImageLimits {
  maxSide: number;
  maxPixels: number;
}

export class ImageTooLargeError extends Error {
  override readonly name = 'ImageTooLargeError';
  constructor(
    readonly width: number,
    readonly height: number,
    readonly limits: ImageLimits,
  ) {
    super(
      `image is ${width}×${height} (${megapixels(width * height).toFixed(1)} MP); ` +
        `the largest this app opens is ${limits.maxSide} px per side and ${megapixels(limits.maxPixels)} MP`,
    );
  }
}

const megapixels = (pixels: number) => pixels / 1_000_000;

/** Throws ImageTooLargeError if either side or the pixel count is over the limit. */
export function checkImageLimits(header: { width: number; height: number }, limits: ImageLimits = IMAGE_LIMITS): void {
  const { width, height } = header;
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new ImageTooLargeError(width, height, limits);
  }
}

const UNKNOWN_FORMAT = 'not an image this app can read: PNG, JPEG, WebP, GIF or BMP';

export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length === 0) throw new ImageDecodeError('the file is empty', { reason: 'empty' });
  const r = new HeaderReader(bytes);
  let header: ImageHeader;
  if (r.startsWith(PNG_SIGNATURE)) header = readPng(r);
  else if (r.startsWith([0xff, 0xd8, 0xff])) header = readJpeg(r);
  else if (r.startsWithText('GIF87a') || r.startsWithText('GIF89a')) header = readGif(r);
  else if (r.startsWithText('RIFF') && r.textAt(8, 4) === 'WEBP') header = readWebp(r);
  else if (r.startsWithText('BM')) header = readBmp(r);
  else if (bytes.length < 12 && couldBeSignaturePrefix(bytes)) {
    // Too short to tell which format, but what is there matches one: a cut-off file.
    throw truncated('image');
  } else throw new ImageDecodeError(UNKNOWN_FORMAT, { reason: 'unknown-format' });

  if (!(header.width > 0 && header.height > 0)) {
    throw new ImageDecodeError(
      `the ${IMAGE_FORMAT_NAMES[header.format]} file is damaged: its header says ${header.width}×${header.height}`,
    );
  }
  return header;
}

export const IMAGE_FORMAT_NAMES: Record<ImageFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  gif: 'GIF',
  webp: 'WebP',
  bmp: 'BMP',
};

function truncated(what: string): ImageDecodeError {
  return new ImageDecodeError(`the ${what} file is truncated (it ends inside its header)`, { reason: 'truncated' });
}

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

const SIGNATURES: readonly (readonly number[])[] = [
  PNG_SIGNATURE,
  [0xff, 0xd8, 0xff],
  [...'GIF8'].map((c) => c.charCodeAt(0)),
  [...'RIFF'].map((c) => c.charCodeAt(0)),
  [...'BM'].map((c) => c.charCodeAt(0)),
];

function couldBeSignaturePrefix(bytes: Uint8Array): boolean {
  return SIGNATURES.some((sig) => bytes.every((b, i) => i >= sig.length || sig[i] === b));
}

/** Bounds-checked reads; running off the end means the file was cut short. */
class HeaderReader {
  format = 'image';
  constructor(readonly bytes: Uint8Array) {}

  need(end: number): void {
    if (end > this.bytes.length) throw truncated(this.format);
  }
  u8(at: number): number {
    this.need(at + 1);
    return this.bytes[at];
  }
  u16be(at: number): number {
    return (this.u8(at) << 8) | this.u8(at + 1);
  }
  u16le(at: number): number {
    return this.u8(at) | (this.u8(at + 1) << 8);
  }
  u24le(at: number): number {
    return this.u16le(at) | (this.u8(at + 2) << 16);
  }
  u32be(at: number): number {
    return this.u16be(at) * 0x10000 + this.u16be(at + 2);
  }
  u32le(at: number): number {
    return this.u16le(at) + this.u16le(at + 2) * 0x10000;
  }
  i32le(at: number): number {
    return this.u32le(at) | 0;
  }
  textAt(at: number, length: number): string {
    this.need(at + length);
    return String.fromCharCode(...this.bytes.subarray(at, at + length));
  }
  startsWith(sig: readonly number[]): boolean {
    return this.bytes.length >= sig.length && sig.every((b, i) => this.bytes[i] === b);
  }
  startsWithText(text: string): boolean {
    return this.startsWith([...text].map((c) => c.charCodeAt(0)));
  }
}

// PNG: the IHDR chunk must come first, right after the signature.
function readPng(r: HeaderReader): ImageHeader {
  r.format = 'PNG';
  if (r.textAt(12, 4) !== 'IHDR') {
    throw new ImageDecodeError('the PNG file is damaged: it does not start with an IHDR chunk');
  }
  return { format: 'png', width: r.u32be(16), height: r.u32be(20) };
}

// JPEG: a sequence of segments (0xFF, marker, 16-bit length including itself); the frame size
// is in the first SOFn segment, which may come after EXIF, ICC, quantisation tables and so on.
function readJpeg(r: HeaderReader): ImageHeader {
  r.format = 'JPEG';
  let at = 2;
  for (;;) {
    if (r.u8(at) !== 0xff) {
      throw new ImageDecodeError('the JPEG file is damaged: expected a marker in its header');
    }
    // Any number of 0xFF fill bytes may precede a marker.
    let marker = r.u8(at + 1);
    while (marker === 0xff) marker = r.u8(++at + 1);
    at += 2;
    // Standalone markers carry no length: TEM and RSTn.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9 || marker === 0xda) {
      throw new ImageDecodeError('the JPEG file is damaged: it has no frame header (SOF)');
    }
    const length = r.u16be(at);
    if (length < 2) throw new ImageDecodeError('the JPEG file is damaged: a header segment has a bad length');
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      // length(2) precision(1) height(2) width(2)
      return { format: 'jpeg', height: r.u16be(at + 3), width: r.u16be(at + 5) };
    }
    at += length;
  }
}

// GIF: the logical screen descriptor follows the 6-byte signature.
function readGif(r: HeaderReader): ImageHeader {
  r.format = 'GIF';
  return { format: 'gif', width: r.u16le(6), height: r.u16le(8) };
}

// WebP: RIFF container; the first chunk says which bitstream follows.
function readWebp(r: HeaderReader): ImageHeader {
  r.format = 'WebP';
  const chunk = r.textAt(12, 4);
  const data = 20; // after RIFF header (12) + chunk fourcc (4) + chunk size (4)
  switch (chunk) {
    case 'VP8 ': {
      // Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height (2 bits scale).
      if (r.u8(data + 3) !== 0x9d || r.u8(data + 4) !== 0x01 || r.u8(data + 5) !== 0x2a) {
        throw new ImageDecodeError('the WebP file is damaged: bad VP8 start code');
      }
      return { format: 'webp', width: r.u16le(data + 6) & 0x3fff, height: r.u16le(data + 8) & 0x3fff };
    }
    case 'VP8L': {
      // Lossless: signature 0x2F, then width-1 and height-1 as 14-bit fields, LSB first.
      if (r.u8(data) !== 0x2f) throw new ImageDecodeError('the WebP file is damaged: bad VP8L signature');
      const bits = r.u32le(data + 1);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    case 'VP8X': {
      // Extended: flags(1) reserved(3), canvas width-1 and height-1 as 24-bit fields.
      return { format: 'webp', width: r.u24le(data + 4) + 1, height: r.u24le(data + 7) + 1 };
    }
    default:
      throw new ImageDecodeError(`the WebP file is damaged: unknown first chunk "${chunk}"`);
  }
}

// BMP: 14-byte file header, then a DIB header whose size says which layout it is.
function readBmp(r: HeaderReader): ImageHeader {
  r.format = 'BMP';
  const dibSize = r.u32le(14);
  if (dibSize === 12) {
    // OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes.
    return { format: 'bmp', width: r.u16le(18), height: r.u16le(20) };
  }
  if (dibSize < 40) throw new ImageDecodeError(`the BMP file is damaged: unknown header size ${dibSize}`);
  // BITMAPINFOHEADER and later: signed 32-bit; a negative height means rows are stored top-down.
  return { format: 'bmp', width: r.i32le(18), height: Math.abs(r.i32le(22)) };
}
