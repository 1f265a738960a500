/**
 * Image files for the headless tools in Node (`npm run detect`): PNG exactly as the worker
 * decodes it; JPEG with jpeg-js, because Node has no browser decoder (createImageBitmap).
 * Sizes are checked from the header first, as in the worker.
 */
import jpeg from 'jpeg-js';
import { decodeImageFile } from '../../src/media/decode-image';
import { checkImageLimits, readImageHeader } from '../../src/media/image-header';
import { ImageDecodeError } from '../../src/media/png';
import { createRgbaImage, type RgbaImage } from '../../src/pipeline/image/rgba';

export async function decodeImageInNode(bytes: Uint8Array): Promise<RgbaImage> {
  const header = readImageHeader(bytes);
  checkImageLimits(header);
  if (header.format !== 'jpeg') return decodeImageFile(bytes);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  } catch (err) {
    throw new ImageDecodeError(`the JPEG file cannot be decoded (${err instanceof Error ? err.message : String(err)})`);
  }
  const { width, height, data } = decoded;
  return createRgbaImage(width, height, new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength));
}
