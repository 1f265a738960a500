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
 * Largest tile edge (input pixels) for a model: its widest tensor at output resolution, with a
 * 3×3 convolution's unfolded input (9× channels, float32), must fit the device's buffer budget.
 */
export function maxTileSize(scale: number, peakChannels: number, backend: Backend, limits: DeviceLimits = {}): number {
  const budget =
    backend === 'webgpu' && limits.maxBufferBytes ? Math.min(limits.maxBufferBytes / 2, WASM_BUDGET_BYTES) : WASM_BUDGET_BYTES;
  const outputEdge = Math.sqrt(budget / (peakChannels * 9 * 4));
  const tile = Math.floor(outputEdge / scale / 8) * 8;
  return Math.max(MIN_TILE, Math.min(MAX_TILE, tile));
}
