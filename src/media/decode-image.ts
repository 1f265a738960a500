/**
 * Turns an image file's bytes into RGBA pixels, refusing oversized images from the header alone
 * (before any decoding allocates memory). PNG is decoded in JS for exact values; other formats use
 * the browser's decoder (createImageBitmap + OffscreenCanvas), available in workers.
 */
import { createRgbaImage, type RgbaImage } from '../pipeline/image/rgba';
import { checkImageLimits, readImageHeader } from './image-header';
import { decodePng, ImageDecodeError } from './png';

export async function decodeImageFile(bytes: Uint8Array, mimeType = ''): Promise<RgbaImage> {
  const header = readImageHeader(bytes);
  checkImageLimits(header);
  if (header.format === 'png') return decodePng(bytes);
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') {
    throw new ImageDecodeError(`${header.format.toUpperCase()} images can only be decoded in a browser`);
  }
  let bitmap: ImageBitmap;
  try {
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeType || `image/${header.format}` });
    bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    throw new ImageDecodeError(`the ${header.format.toUpperCase()} file is damaged or truncated and cannot be decoded`);
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ImageDecodeError('this browser cannot decode images in a worker');
    ctx.drawImage(bitmap, 0, 0);
    const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return createRgbaImage(bitmap.width, bitmap.height, new Uint8ClampedArray(pixels.data.buffer));
  } finally {
    bitmap.close();
  }
}
