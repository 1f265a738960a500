/** What the detectors find, in the original image's pixels. */

/** `[x0, y0, x1, y1]`: left, top, right, bottom. */
export type Box = [number, number, number, number];

export interface Detection {
  /** The detector's class name, e.g. `face` or `hand`. */
  class: string;
  /** Confidence in [0, 1] (after the sigmoid for MediaPipe models). */
  score: number;
  box: Box;
  /** Landmarks the model gives with the box (BlazeFace 6, palm 7), `[x, y]` each. */
  keypoints?: Array<[number, number]>;
}

/** A decoded box before suppression, in the model's input pixels. */
export interface Candidate {
  classIndex: number;
  score: number;
  box: Box;
  keypoints: Array<[number, number]>;
}
