/**
 * The seeded random number generator: the only source of randomness in the pipeline
 * (initial latents, ancestral / LCM scheduler noise). Same seed → same numbers on every
 * platform, so a seed recorded in an image's metadata reproduces the image.
 *
 * Algorithm (recorded in metadata as {@link RNG_ALGORITHM}):
 * - seeding: the 32-bit seed (see {@link foldSeed}) is expanded into the 128-bit state by
 *   splitmix32 (four outputs), as the xoshiro authors recommend;
 * - uniforms: xoshiro128** (Blackman & Vigna), pure 32-bit integer arithmetic with
 *   Math.imul and `>>> 0`, so the stream is bit-identical in every JS engine;
 *   `next()` takes 53 bits from two outputs (21 + 32) and returns k / 2^53 in [0, 1);
 * - normals: Box–Muller on (u1, u2) = (1 − next(), next()), u1 ∈ (0, 1] so log never sees 0;
 *   both values of a pair are used, cos first then sin.
 *
 * Caveat, documented rather than hidden: Box–Muller calls Math.log, Math.sqrt, Math.cos and
 * Math.sin. Math.sqrt is exact (IEEE), the others are not specified bit-for-bit by ECMAScript.
 * V8 (Chrome, Node) uses its own fdlibm port on every OS, so normals are bit-identical wherever V8
 * runs; another engine may differ in the last bit of a double, which `normalTensor` (float32)
 * almost always rounds away.
 */
import type { Tensor } from './tensor';
import { tensorSize } from './tensor';

export const RNG_ALGORITHM = 'xoshiro128**+splitmix32 seed, Box-Muller normals';

/** Anything that can hand a scheduler a tensor of standard normal noise. */
export interface NoiseSource {
  normalTensor(dims: readonly number[]): Tensor;
}

export interface Rng extends NoiseSource {
  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number;
  /** Standard normal (mean 0, variance 1). */
  normal(): number;
  /** A float32 tensor of standard normals, filled in flat (C) order. */
  normalTensor(dims: readonly number[]): Tensor;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/**
 * Reduce a seed to 32 bits. 0..2^32−1 pass through unchanged (the common UI range); larger
 * safe integers fold their high word in, so seeds such as A1111's 2^32+x still give distinct
 * streams from x. Anything else is a caller bug and throws.
 */
export function foldSeed(seed: number): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new Error(`seed must be an integer, got ${String(seed)}`);
  }
  if (seed < 0 || seed > Number.MAX_SAFE_INTEGER) {
    throw new Error(`seed must be between 0 and ${Number.MAX_SAFE_INTEGER}, got ${seed}`);
  }
  const low = seed >>> 0; // exact: seed is a non-negative safe integer
  const high = Math.floor(seed / TWO_POW_32);
  if (high === 0) return low;
  // Mix the high word (≤ 21 bits) with an odd multiplier so neighbours spread out.
  return (low ^ Math.imul(high, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
}

/** splitmix32 step: returns the new counter and one well-mixed 32-bit output. */
function splitmix32(counter: number): [number, number] {
  const next = (counter + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z = (z ^ (z >>> 15)) >>> 0;
  return [next, z];
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/**
 * xoshiro128** over a 4-word state (advanced in place); returns unsigned 32-bit outputs.
 * Exported for its reference test vector.
 */
export function xoshiro128StarStar(state: Uint32Array): () => number {
  return () => {
    const s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    state[0] = s0 ^ n3;
    state[1] = s1 ^ n2;
    state[2] = n2 ^ t;
    state[3] = rotl(n3, 11);
    return result;
  };
}

export function createRng(seed: number): Rng {
  let counter = foldSeed(seed);
  const state = new Uint32Array(4);
  for (let i = 0; i < 4; i++) [counter, state[i]] = splitmix32(counter);
  // xoshiro must not start from all zeros (it would stay there); splitmix32 never yields four
  // zeros in a row in practice, but guard anyway.
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  const nextUint32 = xoshiro128StarStar(state);

  function next(): number {
    const high = nextUint32() >>> 11; // 21 bits
    const low = nextUint32(); // 32 bits
    return (high * TWO_POW_32 + low) / TWO_POW_53; // exact integer arithmetic, then one exact scale
  }

  let spare: number | undefined;
  function normal(): number {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u1 = 1 - next(); // (0, 1]
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    spare = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  function normalTensor(dims: readonly number[]): Tensor {
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`normalTensor: invalid dims [${dims.join(', ')}]`);
    }
    const data = new Float32Array(tensorSize(dims));
    for (let i = 0; i < data.length; i++) data[i] = normal();
    return { data, dims: [...dims] };
  }

  return { next, normal, normalTensor };
}
