/**
 * The torch layers the components are made of, as ONNX nodes in the builder's current scope:
 * Linear, Conv2d, GroupNorm, LayerNorm and the activations. Each reads its parameters
 * (`weight`, `bias`) from the scope, so `g.scope('to_q', () => linear(g, x))` uses `…to_q.weight`.
 */
import type { GraphBuilder } from './graph-builder';

/**
 * torch.nn.Linear: `x · Wᵀ + b` with W `[out, in]` as the file has it; the Transpose is in the
 * graph (ORT folds it at load) so the weights are never rewritten. A 1×1 conv weight
 * `[out, in, 1, 1]` is the same bytes.
 */
export function linear(g: GraphBuilder, x: string, bias = g.has('bias')): string {
  const [out, inp] = g.shape('weight');
  const w = g.weight('weight', [out, inp]);
  const y = g.node('MatMul', [x, g.node('Transpose', [w], { perm: [1, 0] })]);
  return bias ? g.node('Add', [y, g.weight('bias')]) : y;
}

export interface ConvOptions {
  stride?: number;
  /** [top, left, bottom, right]; default k/2 on every side ("same" for odd kernels). */
  pads?: [number, number, number, number];
}

/** torch.nn.Conv2d (NCHW); a Linear-shaped weight `[out, in]` is read as a 1×1 kernel. */
export function conv2d(g: GraphBuilder, x: string, options: ConvOptions = {}): string {
  const shape = g.shape('weight');
  const [out, inp, kh, kw] = shape.length === 2 ? [shape[0], shape[1], 1, 1] : shape;
  const w = g.weight('weight', [out, inp, kh, kw]);
  const stride = options.stride ?? 1;
  const pads = options.pads ?? [kh >> 1, kw >> 1, kh >> 1, kw >> 1];
  const inputs = [x, w];
  if (g.has('bias')) inputs.push(g.weight('bias'));
  return g.node('Conv', inputs, { kernel_shape: [kh, kw], pads, strides: [stride, stride], dilations: [1, 1], group: 1 });
}

/**
 * torch.nn.GroupNorm on NCHW, as torch.onnx writes it (opset 17 has no GroupNormalization):
 * InstanceNormalization over `[b, groups, c/groups·h·w]`, then the per-channel affine.
 */
export function groupNorm(g: GraphBuilder, x: string, groups: number, eps: number): string {
  const channels = g.shape('weight')[0];
  const grouped = g.node('Reshape', [x, g.int64([0, groups, -1])]);
  const ones = g.floatConst(`group_norm_ones_${groups}`, [groups], new Array(groups).fill(1));
  const zeros = g.floatConst(`group_norm_zeros_${groups}`, [groups], new Array(groups).fill(0));
  const normed = g.node('InstanceNormalization', [grouped, ones, zeros], { epsilon: { float: eps } });
  const back = g.node('Reshape', [normed, g.node('Shape', [x])]);
  const scaled = g.node('Mul', [back, g.weight('weight', [channels, 1, 1])]);
  return g.node('Add', [scaled, g.weight('bias', [channels, 1, 1])]);
}

/** torch.nn.LayerNorm over the last axis. */
export function layerNorm(g: GraphBuilder, x: string, eps: number): string {
  return g.node('LayerNormalization', [x, g.weight('weight'), g.weight('bias')], { axis: -1, epsilon: { float: eps } });
}

/** SiLU (swish): x · σ(x). */
export function silu(g: GraphBuilder, x: string): string {
  return g.node('Mul', [x, g.node('Sigmoid', [x])]);
}

/** The exact (erf) GELU: x · ½ · (1 + erf(x / √2)). */
export function gelu(g: GraphBuilder, x: string): string {
  const erf = g.node('Erf', [g.node('Div', [x, g.floatConst('sqrt_2', [], [Math.SQRT2])])]);
  const half = g.node('Mul', [g.node('Add', [erf, g.floatConst('one', [], [1])]), g.floatConst('half', [], [0.5])]);
  return g.node('Mul', [x, half]);
}

/** OpenAI CLIP's quick_gelu: x · σ(1.702 x). */
export function quickGelu(g: GraphBuilder, x: string): string {
  return g.node('Mul', [x, g.node('Sigmoid', [g.node('Mul', [x, g.floatConst('quick_gelu_alpha', [], [1.702])])])]);
}
