/**
 * Which detections the detailer keeps for its targets: one definition for the detailer stage
 * (which redraws them) and the worker's `detect` (Enhance's Find, which only shows them).
 */
import type { FoundRegion } from '../../protocol/api';
import type { DetailerTarget } from '../../protocol/pipeline-config';
import { LIMITS } from '../../protocol/pipeline-config';
import { checkpoint } from '../cancellation';
import type { RgbaImage } from '../image/rgba';
import type { DetectorProvider } from '../ports';
import { detect } from './detect';
import type { Box, Detection } from './types';

/**
 * MediaPipe's hand-landmark ROI from a palm detection (mediapipe/modules/hand_landmark/
 * palm_detection_detection_to_roi.pbtxt, RectTransformationCalculator): the palm box made
 * square on its long side, scaled 2.6× and shifted half a side towards the fingers. The palm
 * box covers only the palm and knuckles; the fingers reach about one palm length beyond the
 * knuckles, and this is the region MediaPipe itself trusts to contain the whole hand.
 */
export const PALM_TO_HAND = { scale: 2.6, shift: 0.5 } as const;

/**
 * A palm box enlarged to the whole hand (PALM_TO_HAND), axis-aligned and clamped to the image.
 * The direction to the fingers is the palm's wrist keypoint (0) to its middle-finger knuckle (2);
 * without keypoints the box grows evenly about its centre.
 */
export function palmToHand(detection: Pick<Detection, 'box' | 'keypoints'>, width: number, height: number): Box {
  const [x0, y0, x1, y1] = detection.box;
  const side = Math.max(x1 - x0, y1 - y0);
  let cx = (x0 + x1) / 2;
  let cy = (y0 + y1) / 2;
  const kp = detection.keypoints;
  if (kp && kp.length > 2) {
    const dx = kp[2][0] - kp[0][0];
    const dy = kp[2][1] - kp[0][1];
    const len = Math.hypot(dx, dy);
    if (len > 0) {
      cx += (dx / len) * side * PALM_TO_HAND.shift;
      cy += (dy / len) * side * PALM_TO_HAND.shift;
    }
  }
  const half = (side * PALM_TO_HAND.scale) / 2;
  return [Math.max(0, cx - half), Math.max(0, cy - half), Math.min(width, cx + half), Math.min(height, cy + half)];
}

export interface RegionOptions {
  targets: readonly DetailerTarget[];
  /** Lowest score kept, in [0, 1]. */
  confidence: number;
  /** Most regions kept, largest first; absent = all. */
  maxRegions?: number;
  signal?: AbortSignal;
}

export interface FoundRegions {
  /** Largest first (box area), each at least LIMITS.region_side.min px a side. */
  regions: FoundRegion[];
  /** Detections left out for being smaller than that. */
  smaller: number;
  /** Every detector that ran, in order. */
  detectors: string[];
}

const area = (b: Box) => (b[2] - b[0]) * (b[3] - b[1]);
const bigEnough = (b: Box) => b[2] - b[0] >= LIMITS.region_side.min && b[3] - b[1] >= LIMITS.region_side.min;

/** Every target's detections by every detector that finds it, filtered and ordered as the detailer redraws them. */
export async function findRegions(image: RgbaImage, provider: DetectorProvider, options: RegionOptions): Promise<FoundRegions> {
  const found: FoundRegion[] = [];
  const detectors: string[] = [];
  for (const target of options.targets) {
    for (const port of await provider.load(target)) {
      await checkpoint(options.signal);
      detectors.push(port.id);
      const detections = await detect(image, port, { threshold: options.confidence });
      // A detector with named classes keeps its target's; one with anonymous classes is trusted
      // (the provider decides whether such a detector is offered for a target at all).
      const ofTarget = port.classes.includes(target) ? detections.filter((d) => d.class === target) : detections;
      for (const d of ofTarget) {
        const maskBox = target === 'hand' ? palmToHand(d, image.width, image.height) : undefined;
        found.push({ target, class: d.class, score: d.score, box: d.box, ...(maskBox ? { mask_box: maskBox } : {}), detector: port.id });
      }
    }
  }
  found.sort((a, b) => area(b.box) - area(a.box));
  const big = found.filter((r) => bigEnough(r.box));
  const regions = options.maxRegions ? big.slice(0, options.maxRegions) : big;
  return { regions, smaller: found.length - big.length, detectors };
}

/** Why nothing was kept, for the stage's metadata and the UI. */
export function noRegionsMessage(targets: readonly DetailerTarget[], smaller: number): string {
  const what = targets.join(' or ');
  return smaller > 0 ? `no ${what} found larger than ${LIMITS.region_side.min} px (${smaller} smaller)` : `no ${what} found`;
}
