/**
 * Finds objects in an image with a detector port: letterbox, run, decode, suppress, and map back
 * to the original image's pixels. The boxes are the detector's own (BlazeFace's not squared,
 * the palm's not rotated or enlarged); growing them into masks is the detailer's business.
 */
import type { RgbaImage } from '../image/rgba';
import type { DetectorPort } from '../ports';
import { identifyDetector } from './layouts';
import { inputToImage, letterbox, type LetterboxFrame } from './letterbox';
import { nms, weightedNms } from './nms';
import { LETTERBOX_PAD_GREY, YOLO_DECODING } from './specs';
import { decodeSsd, gatherSsdOutputs } from './ssd';
import type { Candidate, Detection } from './types';
import { decodeYolo } from './yolo';

export interface DetectOptions {
  /** Lowest score kept, in [0, 1] (after the sigmoid). */
  threshold: number;
  /** IoU above which boxes are merged or suppressed; default: the model family's own. */
  iouThreshold?: number;
  /** Most detections returned, best first. */
  maxDetections?: number;
}

/** A box from input pixels to the image's, clamped to the image. */
function toImageBox(frame: LetterboxFrame, box: Candidate['box']): Detection['box'] {
  const [x0, y0] = inputToImage(frame, box[0], box[1]);
  const [x1, y1] = inputToImage(frame, box[2], box[3]);
  const clampX = (v: number) => Math.min(frame.imageWidth, Math.max(0, v));
  const clampY = (v: number) => Math.min(frame.imageHeight, Math.max(0, v));
  return [clampX(x0), clampY(y0), clampX(x1), clampY(y1)];
}

export async function detect(image: RgbaImage, port: DetectorPort, options: DetectOptions): Promise<Detection[]> {
  const { threshold } = options;
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`detection threshold must be in [0, 1], got ${threshold}`);
  // 1. Letterbox into the model's square input, padded as the family was trained.
  const { input, frame } = letterbox(image, port.inputSize, port.valueRange, LETTERBOX_PAD_GREY[port.layout]);
  // 2. Run the model and check its outputs are the layout the port declared.
  const outputs = await port.run(input);
  const decoding = identifyDetector(port.inputSize, outputs.map((t) => t.dims), port.layout);
  // 3. Decode every box above the threshold, then suppress overlaps the way the family does.
  let kept: Candidate[];
  if (decoding.layout === 'yolo') {
    const candidates = decodeYolo(outputs[0], threshold);
    kept = nms(candidates, options.iouThreshold ?? YOLO_DECODING.iouThreshold, {
      perClass: true,
      maxDetections: options.maxDetections ?? YOLO_DECODING.maxDetections,
    });
  } else {
    const { spec } = decoding;
    const candidates = decodeSsd(gatherSsdOutputs(outputs, spec), spec, threshold);
    kept = weightedNms(candidates, options.iouThreshold ?? spec.iouThreshold, options.maxDetections);
  }
  // 4. Back to the original image's pixels.
  return kept.map((c) => {
    const detection: Detection = {
      class: port.classes[c.classIndex] ?? `class ${c.classIndex}`,
      score: c.score,
      box: toImageBox(frame, c.box),
    };
    if (c.keypoints.length > 0) detection.keypoints = c.keypoints.map(([x, y]) => inputToImage(frame, x, y));
    return detection;
  });
}
