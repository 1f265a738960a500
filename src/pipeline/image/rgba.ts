/** An 8-bit RGBA image, row-major, not premultiplied: what decoders give and encoders take. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export function createRgbaImage(width: number, height: number, data?: Uint8ClampedArray): RgbaImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`image size must be positive integers, got ${width}×${height}`);
  }
  const size = width * height * 4;
  if (data && data.length !== size) {
    throw new Error(`image data has ${data.length} bytes, ${width}×${height} RGBA needs ${size}`);
  }
  return { width, height, data: data ?? new Uint8ClampedArray(size) };
}

export function isRgbaImage(value: unknown): value is RgbaImage {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<RgbaImage>;
  return (
    typeof v.width === 'number' &&
    typeof v.height === 'number' &&
    v.data instanceof Uint8ClampedArray &&
    v.data.length === v.width * v.height * 4
  );
}
