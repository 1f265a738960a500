/**
 * The worker's `detect` (Enhance's Find): decodes a picked image and finds the faces and hands
 * the detailer would redraw, with the same detectors, threshold and filtering (findRegions).
 * Its own module so Node tests run it without the worker's database and comlink.
 */
import { ImageDecodeError } from '../src/media/image-header';
import { DetailerParameters, formatZodError } from '../src/protocol/pipeline-config';
import type { DetectOutcome } from '../src/protocol/api';
import { findRegions } from '../src/pipeline/detection/regions';
import type { RgbaImage } from '../src/pipeline/image/rgba';
import type { DetectorProvider } from '../src/pipeline/ports';

export interface DetectImageDeps {
  decodeImage(bytes: Uint8Array, mimeType: string): Promise<RgbaImage>;
  detectors(): Promise<DetectorProvider>;
  now?: () => number;
}

/** The detailer's own schema for these two options: same limits, same messages. */
const DetectOptions = DetailerParameters.pick({ targets: true, confidence: true }).strict();

export async function detectInImage(
  file: { name: string; type: string; bytes: ArrayBuffer },
  options: unknown,
  deps: DetectImageDeps,
): Promise<DetectOutcome> {
  const parsed = DetectOptions.safeParse(options);
  if (!parsed.success) throw new Error(`detect: ${formatZodError(parsed.error)}`);
  const { targets, confidence } = parsed.data;
  const name = typeof file?.name === 'string' && file.name ? file.name : 'the image';
  if (!(file?.bytes instanceof ArrayBuffer)) throw new Error(`detect: ${name} must come as {name, type, bytes: ArrayBuffer}`);
  if (file.bytes.byteLength === 0) throw new Error(`'${name}' is empty (0 bytes)`);
  const image = await decodeOrExplain(name, file, deps);
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const { regions, detectors } = await findRegions(image, await deps.detectors(), { targets, confidence });
  return { width: image.width, height: image.height, regions, detectors, ms: Math.round(now() - started) };
}

async function decodeOrExplain(name: string, file: { type: string; bytes: ArrayBuffer }, deps: DetectImageDeps): Promise<RgbaImage> {
  try {
    return await deps.decodeImage(new Uint8Array(file.bytes), file.type ?? '');
  } catch (err) {
    if (err instanceof ImageDecodeError) {
      const why = err.reason === 'unknown-format' ? 'it is not a PNG, JPEG, WebP, GIF or BMP file' : err.message;
      throw new Error(`'${name}' is not an image this browser can read: ${why}`, { cause: err });
    }
    // Too large, or the browser's decoder failed: the message says which.
    throw new Error(`'${name}': ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
