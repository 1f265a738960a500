/**
 * The shape of a checked `.safetensors` header: what the reader (safetensors.ts) produces and the
 * classifier (safetensors-classify.ts) reads. Its own module so neither imports the other for it.
 */

/** Element width in bits, from the reference implementation's current `Dtype` list. */
export const SAFETENSORS_DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BITS;

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets in the data buffer (which starts at 8 + headerBytes in the file). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N: the JSON header's length, padding included. */
  headerBytes: number;
  /** Size of the data buffer: file size − 8 − N. */
  dataBytes: number;
  metadata: Record<string, string> | null;
  /** In data order (sorted by offsets), which the header's key order need not be. */
  tensors: SafetensorsTensor[];
}
