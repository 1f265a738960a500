// @vitest-environment node
// Issue 13, defect 6: an opaque image is written as RGB (colour type 2), not RGBA — a quarter
// fewer samples before compression. Images with any transparency stay RGBA; both read back.
import { readFileSync } from 'node:fs';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { decodePng, encodePng } from '../../src/media/png';
import { addPngTextChunks, readPngTextChunks } from '../../src/media/png-text';

/** IHDR's colour type byte: signature (8) + length (4) + "IHDR" (4) + width, height (8) + depth (1). */
const colourType = (png: Uint8Array) => png[8 + 4 + 4 + 8 + 1];

/** A photo-like opaque image: smooth gradients plus deterministic noise, alpha 255 everywhere. */
function opaqueImage(width: number, height: number) {
  const img = createRgbaImage(width, height);
  let s = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const o = (y * width + x) * 4;
      img.data[o] = (x * 255) / width + ((s >>> 16) & 7);
      img.data[o + 1] = (y * 255) / height + ((s >>> 20) & 7);
      img.data[o + 2] = ((x + y) * 127) / (width + height) + ((s >>> 24) & 7);
      img.data[o + 3] = 255;
    }
  }
  return img;
}

describe('encodePng: RGB when every alpha is 255', () => {
  it('writes an opaque image as colour type 2 and reads back the same RGBA pixels', () => {
    const img = opaqueImage(64, 48);
    const png = encodePng(img);
    expect(colourType(png)).toBe(2);
    expect(png.buffer.byteLength).toBe(png.byteLength);
    const back = decodePng(png);
    expect(back.width).toBe(64);
    expect(back.height).toBe(48);
    expect(back.data).toEqual(img.data);
  });

  it('is smaller than the same photo written as RGBA', () => {
    // A real photo (scikit-image's astronaut, 512×512): RGBA 674,816 bytes, RGB 614,265 (−9 %).
    const img = decodePng(readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url)));
    const rgb = encodePng(img);
    const rgba = encode({ width: img.width, height: img.height, data: img.data, channels: 4, depth: 8 });
    expect(colourType(rgb)).toBe(2);
    expect(rgb.byteLength).toBeLessThan(rgba.byteLength * 0.95);
  });

  it('keeps RGBA when any pixel is not opaque, alpha included on the way back', () => {
    const img = opaqueImage(5, 4);
    img.data[4 * 7 + 3] = 0;
    const png = encodePng(img);
    expect(colourType(png)).toBe(6);
    expect(decodePng(png).data).toEqual(img.data);
  });

  it('keeps text chunks working on an RGB file', () => {
    const png = addPngTextChunks(encodePng(opaqueImage(3, 3)), [{ keyword: 'parameters', text: 'a cat\nSteps: 20' }]);
    expect(colourType(png)).toBe(2);
    expect(readPngTextChunks(png).map((c) => [c.keyword, c.text])).toEqual([['parameters', 'a cat\nSteps: 20']]);
    expect(decodePng(png).data).toEqual(opaqueImage(3, 3).data);
  });
});
