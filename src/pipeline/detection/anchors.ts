/**
 * SSD anchors with the semantics of MediaPipe's SsdAnchorsCalculator (stride-based grid, the
 * options its face and palm graphs use). Anchor centres and sizes are fractions of the model's
 * input (0..1). Not covered: `feature_map_*` sizes and `multiscale_anchor_generation`, which no
 * MediaPipe face or palm detector uses.
 */

/** The SsdAnchorsCalculatorOptions fields that shape a stride-based anchor grid. */
export interface SsdAnchorOptions {
  inputWidth: number;
  inputHeight: number;
  /** Scale of the first and the last layer; layers in between are linearly interpolated. */
  minScale: number;
  maxScale: number;
  /** Where in its grid cell an anchor sits (0.5 = the cell's centre). */
  anchorOffsetX: number;
  anchorOffsetY: number;
  numLayers: number;
  /** One per layer; consecutive layers with the same stride share one grid. */
  strides: readonly number[];
  aspectRatios: readonly number[];
  /** One extra anchor per layer at this aspect ratio with the scale between this layer's and the next's; 0 = none. */
  interpolatedScaleAspectRatio: number;
  /** First layer: MediaPipe's predefined three anchors (ratios 1, 2, 0.5; scales 0.1, s, s). */
  reduceBoxesInLowestLayer: boolean;
  /** Every anchor 1 × 1: the model regresses box sizes in input pixels, not relative to an anchor. */
  fixedAnchorSize: boolean;
}

/** One anchor: centre and size as fractions of the input. */
export interface Anchor {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Anchors of one grid (consecutive layers of one stride), in generation order. */
export interface AnchorGroup {
  stride: number;
  /** Grid cells along y and x. */
  rows: number;
  cols: number;
  /** Anchors per grid cell. */
  perCell: number;
  anchors: Anchor[];
}

/** Layer `index` of `count`: min scale for the first, max for the last, linear in between (one layer: their mean). */
function layerScale(options: SsdAnchorOptions, index: number, count: number): number {
  if (count === 1) return (options.minScale + options.maxScale) / 2;
  return options.minScale + ((options.maxScale - options.minScale) * index) / (count - 1);
}

/** Anchors grouped by grid; `ssdAnchors` flattens them in the order the model's outputs list them. */
export function ssdAnchorGroups(options: SsdAnchorOptions): AnchorGroup[] {
  const { strides, numLayers } = options;
  if (strides.length !== numLayers) {
    throw new Error(`SSD anchors: ${strides.length} strides for ${numLayers} layers; give one stride per layer`);
  }
  const groups: AnchorGroup[] = [];
  let layer = 0;
  while (layer < numLayers) {
    // 1. Sizes of the anchors in each cell: every layer that shares this stride adds its own.
    const sizes: Array<{ w: number; h: number }> = [];
    let last = layer;
    for (; last < numLayers && strides[last] === strides[layer]; last++) {
      const scale = layerScale(options, last, numLayers);
      const ratiosAndScales: Array<[number, number]> = [];
      if (last === 0 && options.reduceBoxesInLowestLayer) {
        ratiosAndScales.push([1, 0.1], [2, scale], [0.5, scale]);
      } else {
        for (const ratio of options.aspectRatios) ratiosAndScales.push([ratio, scale]);
        if (options.interpolatedScaleAspectRatio > 0) {
          const next = last === numLayers - 1 ? 1 : layerScale(options, last + 1, numLayers);
          ratiosAndScales.push([options.interpolatedScaleAspectRatio, Math.sqrt(scale * next)]);
        }
      }
      for (const [ratio, s] of ratiosAndScales) sizes.push({ w: s * Math.sqrt(ratio), h: s / Math.sqrt(ratio) });
    }
    // 2. The grid: one cell per stride of input, row-major, every size in every cell.
    const stride = strides[layer];
    const rows = Math.ceil(options.inputHeight / stride);
    const cols = Math.ceil(options.inputWidth / stride);
    const anchors: Anchor[] = [];
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const cx = (x + options.anchorOffsetX) / cols;
        const cy = (y + options.anchorOffsetY) / rows;
        for (const size of sizes) {
          anchors.push(options.fixedAnchorSize ? { x: cx, y: cy, w: 1, h: 1 } : { x: cx, y: cy, w: size.w, h: size.h });
        }
      }
    }
    groups.push({ stride, rows, cols, perCell: sizes.length, anchors });
    layer = last;
  }
  return groups;
}

export function ssdAnchors(options: SsdAnchorOptions): Anchor[] {
  return ssdAnchorGroups(options).flatMap((g) => g.anchors);
}
