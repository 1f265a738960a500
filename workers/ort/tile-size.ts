import type { Backend } from '../../src/protocol/schemas';

export interface DeviceLimits {
  /** WebGPU: the smaller of maxBufferSize and maxStorageBufferBindingSize. */
  maxBufferBytes?: number;
}

/** Budget for the largest intermediate of one tile on WASM (its heap tops out at 4 GiB). */
const WASM_BUDGET_BYTES = 512 * 2 ** 20;
/** Keep single GPU dispatches short (driver watchdogs) and progress/cancel responsive. */
const MAX_TILE = 256;
const MIN_TILE = 32;
/**
 * Widest unfolded convolution input at INPUT resolution, in floats per pixel: 64 channels under
 * a 5×5 kernel (the RDN upscalers' UPN1). Sub-pixel models do almost nothing at output resolution,
 * so this is what bounds their tiles.
 */
const INPUT_UNFOLD_FLOATS = 64 * 25;

/**
 * Largest tile edge (input pixels) for a model: the widest unfolded convolution input, at input
 * resolution and at output resolution (a 3×3 convolution over `peakChannels`), must each fit the
 * device's buffer budget as float32.
 */
export function maxTileSize(scale: number, peakChannels: number, backend: Backend, limits: DeviceLimits = {}): number {
  const budget =
    backend === 'webgpu' && limits.maxBufferBytes ? Math.min(limits.maxBufferBytes / 2, WASM_BUDGET_BYTES) : WASM_BUDGET_BYTES;
  const byOutput = Math.sqrt(budget / (peakChannels * 9 * 4)) / scale;
  const byInput = Math.sqrt(budget / (INPUT_UNFOLD_FLOATS * 4));
  const tile = Math.floor(Math.min(byOutput, byInput) / 8) * 8;
  return Math.max(MIN_TILE, Math.min(MAX_TILE, tile));
}
