/**
 * The text encoder as transformers' CLIPTextModel, for OpenAI CLIP (SD 1.x) and OpenCLIP (SD 2.x,
 * whose weights the reader names the same way): `input_ids` → `last_hidden_state` (the output of
 * `layersUsed` layers through `final_layer_norm`) and `pooler_output` (at the highest id, EOS).
 */
import type { CheckpointPlan, TextEncoderArch } from '../architecture';
import { CLIP_ATTENTION, attention } from './attention';
import type { BuildOptions, BuiltComponent } from './component';
import { GraphBuilder, ONNX_TYPE } from './graph-builder';
import { gelu, layerNorm, linear, quickGelu } from './layers';

/** torch.finfo(dtype).min, what transformers fills masked scores with. */
const MASK_VALUE = { float32: -3.4028234663852886e38, float16: -65504 } as const;

/** The additive causal mask `[s, s]` (0 on and below the diagonal) for `ids` `[b, s]`. */
export function causalMask(g: GraphBuilder, ids: string): string {
  const seq = g.node('Gather', [g.node('Shape', [ids]), g.int64([1], [])], { axis: 0 });
  const positions = g.node('Range', [g.int64([0], []), seq, g.int64([1], [])]);
  const future = g.node('Greater', [g.node('Unsqueeze', [positions, g.int64([0])]), g.node('Unsqueeze', [positions, g.int64([1])])]);
  return g.node('Where', [future, g.floatConst('mask_value', [], [MASK_VALUE[g.compute]]), g.floatConst('zero', [], [0])]);
}

/** CLIPEncoderLayer in the current scope: pre-LN causal self-attention, then the MLP. */
export function clipEncoderLayer(g: GraphBuilder, x: string, arch: Pick<TextEncoderArch, 'heads' | 'activation' | 'eps'>, mask: string): string {
  const n1 = g.scope('layer_norm1', () => layerNorm(g, x, arch.eps));
  const h = g.node('Add', [x, g.scope('self_attn', () => attention(g, n1, arch.heads, { names: CLIP_ATTENTION, mask }))]);
  const n2 = g.scope('layer_norm2', () => layerNorm(g, h, arch.eps));
  const mlp = g.scope('mlp', () => {
    const hidden = g.scope('fc1', () => linear(g, n2));
    const act = arch.activation === 'gelu' ? gelu(g, hidden) : quickGelu(g, hidden);
    return g.scope('fc2', () => linear(g, act));
  });
  return g.node('Add', [h, mlp]);
}

export interface TextEncoderOptions extends BuildOptions {
  /** `input_ids` type: int32 as optimum's web exports (the default), or int64. */
  ids?: 'int32' | 'int64';
}

export function buildTextEncoder(plan: CheckpointPlan, options: TextEncoderOptions): BuiltComponent {
  const arch = plan.text;
  const g = new GraphBuilder({ weights: plan.weights.text_encoder, locate: options.locate }, options.compute);
  const ids = g.input('input_ids', ONNX_TYPE[options.ids ?? 'int32'], ['batch_size', 'sequence_length']);
  const hidden = g.scope('text_model', () => {
    let h = g.scope('embeddings', () => {
      const tokens = g.node('Gather', [g.scope('token_embedding', () => g.weight('weight')), ids], { axis: 0 });
      const seq = g.node('Gather', [g.node('Shape', [ids]), g.int64([1], [])], { axis: 0 });
      const positionIds = g.node('Range', [g.int64([0], []), seq, g.int64([1], [])]);
      const positions = g.node('Gather', [g.scope('position_embedding', () => g.weight('weight')), positionIds], { axis: 0 });
      return g.node('Add', [tokens, positions]);
    });
    const mask = causalMask(g, ids);
    g.scope('encoder', () => {
      for (let i = 0; i < arch.layersUsed; i++) h = g.scope(`layers.${i}`, () => clipEncoderLayer(g, h, arch, mask));
    });
    return g.scope('final_layer_norm', () => layerNorm(g, h, arch.eps));
  });
  g.output('last_hidden_state', g.computeType, ['batch_size', 'sequence_length', arch.width], hidden);
  // CLIP pools at the end-of-text token, the vocabulary's highest id.
  const eos = g.node('ArgMax', [g.node('Cast', [ids], { to: ONNX_TYPE.float32 })], { axis: 1, keepdims: 1 });
  g.output('pooler_output', g.computeType, ['batch_size', arch.width], g.node('GatherND', [hidden, eos], { batch_dims: 1 }));
  const kind = arch.kind === 'clip' ? 'CLIP' : 'OpenCLIP';
  return {
    model: g.build('text_encoder', `${kind} text encoder, ${arch.layersUsed} of ${arch.layers} layers, width ${arch.width}, built from a checkpoint`),
    externalRanges: g.externalRanges,
  };
}
