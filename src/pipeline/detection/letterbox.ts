/**
 * Letterbox pre-processing: the whole image scaled to fit a square model input with its aspect
 * kept, centred, the rest padded with one grey level (MediaPipe's FIT / keep_aspect_ratio: black),
 * plus the geometry that maps what the model finds back to the original image's pixels.
 */
import { resizeImage } from '../image/resize';
import type { RgbaImage } from '../image/rgba';
import type { Tensor } from '../tensor';

/** Where the image landed inside the square input, in input pixels. */
export interface LetterboxFrame {
  /** Side of the square input. */
  size: number;
  /** Original image size. */
  imageWidth: number;
  imageHeight: number;
  /** Top-left corner and size of the scaled image inside the input (integers). */
  left: number;
  top: number;
  contentWidth: number;
  contentHeight: number;
}

export interface Letterboxed {
  /** `[1, 3, size, size]`, RGB planes in `valueRange` (alpha ignored). */
  input: Tensor;
  frame: LetterboxFrame;
}

/** The content rectangle for an image of `width × height` in a `size`-pixel square, centred. */
export function letterboxFrame(width: number, height: number, size: number): LetterboxFrame {
  const scale = size / Math.max(width, height);
  // The long side fills the input exactly; the short side rounds to whole pixels (at least 1).
  const contentWidth = Math.max(1, Math.min(size, Math.round(width * scale)));
  const contentHeight = Math.max(1, Math.min(size, Math.round(height * scale)));
  return {
    size,
    imageWidth: width,
    imageHeight: height,
    left: Math.floor((size - contentWidth) / 2),
    top: Math.floor((size - contentHeight) / 2),
    contentWidth,
    contentHeight,
  };
}

/** `padGrey` is the padding's grey level on the 0..255 scale, mapped like the pixels. */
export function letterbox(image: RgbaImage, size: number, valueRange: readonly [number, number], padGrey = 0): Letterboxed {
  if (!Number.isInteger(size) || size < 1) throw new Error(`letterbox size must be a positive integer, got ${size}`);
  const frame = letterboxFrame(image.width, image.height, size);
  // 1. Scale the image to the content rectangle (area filter when shrinking, bilinear when growing).
  const scaled = resizeImage(image, frame.contentWidth, frame.contentHeight);
  // 2. Write it into padded RGB planes, mapping 0..255 linearly onto the model's range.
  const [low, high] = valueRange;
  const step = (high - low) / 255;
  const plane = size * size;
  const data = new Float32Array(3 * plane).fill(low + padGrey * step);
  for (let y = 0; y < frame.contentHeight; y++) {
    for (let x = 0; x < frame.contentWidth; x++) {
      const s = (y * frame.contentWidth + x) * 4;
      const d = (frame.top + y) * size + frame.left + x;
      data[d] = low + scaled.data[s] * step;
      data[plane + d] = low + scaled.data[s + 1] * step;
      data[2 * plane + d] = low + scaled.data[s + 2] * step;
    }
  }
  return { input: { data, dims: [1, 3, size, size] }, frame };
}

/** A point in input pixels → the original image's pixels (not clamped: keypoints may lie outside). */
export function inputToImage(frame: LetterboxFrame, x: number, y: number): [number, number] {
  return [
    ((x - frame.left) * frame.imageWidth) / frame.contentWidth,
    ((y - frame.top) * frame.imageHeight) / frame.contentHeight,
  ];
}

/** A point in the original image's pixels → input pixels (the inverse of `inputToImage`). */
export function imageToInput(frame: LetterboxFrame, x: number, y: number): [number, number] {
  return [
    frame.left + (x * frame.contentWidth) / frame.imageWidth,
    frame.top + (y * frame.contentHeight) / frame.imageHeight,
  ];
}
