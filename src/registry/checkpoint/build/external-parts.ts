/**
 * Splitting a component's external data into parts no larger than the browser's ArrayBuffer
 * limit: consecutive tensors of the checkpoint grouped into byte ranges of the file, each given
 * to ORT as its own external-data file, so a 3.4 GB float32 UNet loads from slices of the file
 * without one buffer holding it all.
 */
import type { TensorRef } from '../architecture';
import type { WeightLocation } from './graph-builder';

/** The browser's 2 GB ArrayBuffer limit. */
export const MAX_PART_BYTES = 2 ** 31 - 1;

/**
 * The most bytes of other tensors a part may carry between two of its own. An LDM file orders
 * keys by name, so the VAE decoder's `post_quant_conv` comes after the whole encoder: without a
 * split its one part would read (and hold) the encoder's weights too.
 */
export const MAX_PART_GAP_BYTES = 4 * 1024 ** 2;

/** One external-data file ORT is given: bytes [begin, end) of the checkpoint file. */
export interface ExternalPart {
  location: string;
  begin: number;
  end: number;
}

export interface ExternalPartsPlan {
  parts: ExternalPart[];
  /** The builder's `locate`: a weight's part and its offset in that part. */
  locate: (ref: TensorRef) => WeightLocation;
}

/**
 * Groups `refs` (a component's weights) in file order into parts of at most `maxBytes`, a new
 * part where other bytes longer than `maxGap` lie between two tensors; the
 * parts are named `location` when one suffices, else `location.0`, `location.1`, ….
 */
export function planExternalParts(refs: Iterable<TensorRef>, options: { location: string; dataOffset: number; maxBytes?: number; maxGap?: number }): ExternalPartsPlan {
  const maxBytes = options.maxBytes ?? MAX_PART_BYTES;
  const maxGap = options.maxGap ?? MAX_PART_GAP_BYTES;
  const sorted = [...refs].sort((a, b) => a.begin - b.begin);
  const ranges: Array<{ begin: number; end: number }> = [];
  const partOf = new Map<TensorRef, number>();
  for (const ref of sorted) {
    if (ref.end - ref.begin > maxBytes) throw new Error(`tensor ${ref.key} (${ref.end - ref.begin} bytes) is larger than one external-data part (${maxBytes} bytes)`);
    const last = ranges[ranges.length - 1];
    if (last && ref.end - last.begin <= maxBytes && ref.begin - last.end <= maxGap) last.end = Math.max(last.end, ref.end);
    else ranges.push({ begin: ref.begin, end: ref.end });
    partOf.set(ref, ranges.length - 1);
  }
  const name = (i: number) => (ranges.length === 1 ? options.location : `${options.location}.${i}`);
  const parts = ranges.map((r, i) => ({ location: name(i), begin: options.dataOffset + r.begin, end: options.dataOffset + r.end }));
  return {
    parts,
    locate: (ref) => {
      const i = partOf.get(ref);
      if (i === undefined) throw new Error(`tensor ${ref.key} is not in the planned external-data parts`);
      return { location: parts[i].location, offset: options.dataOffset + ref.begin - parts[i].begin };
    },
  };
}

/** Tensors start at multiples of this in a packed file (aligned reads, as onnx's own writer can do). */
export const PACK_ALIGNMENT = 64;
