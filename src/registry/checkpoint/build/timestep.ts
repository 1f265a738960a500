/**
 * The UNet's timestep embedding: diffusers' `Timesteps` (flip_sin_to_cos=True, shift 0, max period
 * 10000, so `[cos, sin]`) then `TimestepEmbedding` (linear_1 → SiLU → linear_2).
 */
import type { GraphBuilder } from './graph-builder';
import { ONNX_TYPE } from './graph-builder';
import { linear, silu } from './layers';

/** The sinusoid frequencies exp(−ln(10000)·i / half), i < half. */
export function timestepFrequencies(dim: number, maxPeriod = 10000): number[] {
  const half = dim / 2;
  return Array.from({ length: half }, (_, i) => Math.exp((-Math.log(maxPeriod) * i) / half));
}

/**
 * `timestep` of any shape the exports use (`[]`, `[1]`, `[b]`) and numeric type → `[b, dim]`
 * where b is `sample`'s batch. Computed in float32 (as diffusers does) and cast to the graph's type.
 */
export function timestepProjection(g: GraphBuilder, timestep: string, sample: string, dim: number): string {
  return g.scope('time_proj', () => {
    const t = g.node('Reshape', [g.node('Cast', [timestep], { to: ONNX_TYPE.float32 }), g.int64([-1])]);
    const batch = g.node('Slice', [g.node('Shape', [sample]), g.int64([0]), g.int64([1])]);
    const perSample = g.node('Unsqueeze', [g.node('Expand', [t, batch]), g.int64([1])]); // [b, 1]
    const args = g.node('Mul', [perSample, g.float32Const('timestep_frequencies', [1, dim / 2], timestepFrequencies(dim))]);
    const emb = g.node('Concat', [g.node('Cos', [args]), g.node('Sin', [args])], { axis: 1 });
    return g.compute === 'float32' ? emb : g.node('Cast', [emb], { to: g.computeType });
  });
}

/** time_proj → time_embedding: `[b, 4·c0]`. */
export function timestepEmbedding(g: GraphBuilder, timestep: string, sample: string, dim: number): string {
  const proj = timestepProjection(g, timestep, sample, dim);
  return g.scope('time_embedding', () => {
    const h = g.scope('linear_1', () => linear(g, proj));
    return g.scope('linear_2', () => linear(g, silu(g, h)));
  });
}
