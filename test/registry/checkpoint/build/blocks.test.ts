/**
 * Each block of the checkpoint graph builder against a float64 reference written independently in
 * the test helpers, on tiny sizes, run by onnxruntime-web's WASM build with the weights as
 * external data in a stand-in checkpoint file.
 */
import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { GraphBuilder, ONNX_TYPE } from '../../../../src/registry/checkpoint/build/graph-builder';
import { attention, spatialSelfAttention } from '../../../../src/registry/checkpoint/build/attention';
import { conv2d, groupNorm, linear } from '../../../../src/registry/checkpoint/build/layers';
import { downsample, resnetBlock, upsample } from '../../../../src/registry/checkpoint/build/resnet';
import { timestepEmbedding, timestepProjection } from '../../../../src/registry/checkpoint/build/timestep';
import { basicTransformerBlock, gegluFeedForward, transformer2d } from '../../../../src/registry/checkpoint/build/transformer';
import { causalMask, clipEncoderLayer } from '../../../../src/registry/checkpoint/build/text-encoder';
import { CHECKPOINT_LOCATION, FakeCheckpoint } from '../../../helpers/fake-checkpoint';
import { relativeError, runBuilt, type Feed } from '../../../helpers/run-built-model';
import { conv2dRef, erf, groupNormRef, linearRef, randomT, timestepEmbeddingRef, type T64 } from '../../../helpers/nn-reference';
import {
  attentionModuleRef,
  basicTransformerBlockRef,
  clipLayerRef,
  downsampleRef,
  gegluRef,
  resnetRef,
  spatialAttentionRef,
  timeEmbeddingRef,
  transformer2dRef,
  upsampleRef,
} from '../../../helpers/block-reference';

const { TensorProto } = onnxProto.onnx;
const TOLERANCE = 1e-4;

/** Builds a one-block graph over float32 inputs, runs it, returns output `y`. */
async function runBlock(ck: FakeCheckpoint, inputs: Record<string, T64 | Feed>, block: (g: GraphBuilder) => string): Promise<Float32Array> {
  const g = new GraphBuilder(ck.source());
  const feeds: Record<string, Feed> = {};
  for (const [name, t] of Object.entries(inputs)) {
    if ('type' in t) {
      g.input(name, ONNX_TYPE[t.type], t.dims);
      feeds[name] = t;
    } else {
      g.input(name, ONNX_TYPE.float32, t.dims);
      feeds[name] = { type: 'float32', data: t.data, dims: t.dims };
    }
  }
  g.output('y', ONNX_TYPE.float32, null, block(g));
  const out = await runBuilt(g.build('block', 'test'), ck.file(), feeds);
  return out.y.data;
}

describe('the float64 references', () => {
  it('erf to ~1e-12 on both sides of its series/continued-fraction switch', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 12);
    expect(erf(-2.9)).toBeCloseTo(-0.9999589021219005, 12);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 12);
  });
});

describe('GraphBuilder', () => {
  it('references weights as external data at 8 + header + begin, names nodes by module path', () => {
    const ck = new FakeCheckpoint(1, 'F32', 120).linear('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 4, 4, false);
    const g = new GraphBuilder(ck.source());
    const x = g.input('x', ONNX_TYPE.float32, [1, 2, 4]);
    const path = ['down_blocks.0', 'attentions.0', 'transformer_blocks.0', 'attn1', 'to_q'];
    const nest = (i: number): string => (i === path.length ? linear(g, x) : g.scope(path[i], () => nest(i + 1)));
    g.output('y', ONNX_TYPE.float32, [1, 2, 4], nest(0));
    const model = g.build('t', 't');
    const names = model.graph!.node!.map((n) => n.name);
    expect(names).toContain('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul');
    expect(names).toContain('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/Transpose');
    const init = model.graph!.initializer!.find((t) => t.name === 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight')!;
    const ref = ck.refs.get('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight')!;
    expect(init.dataLocation).toBe(TensorProto.DataLocation.EXTERNAL);
    expect(init.rawData ?? new Uint8Array()).toHaveLength(0);
    expect(Object.fromEntries(init.externalData!.map((e) => [e.key, e.value]))).toEqual({
      location: CHECKPOINT_LOCATION,
      offset: String(120 + ref.begin),
      length: String(ref.end - ref.begin),
    });
    expect(g.externalRanges).toEqual([{ name: init.name, key: ref.key, location: CHECKPOINT_LOCATION, offset: 120 + ref.begin, length: 64 }]);
  });

  it('keeps float16 weights float16 in the file and casts them in a float32 graph', async () => {
    const ck = new FakeCheckpoint(2, 'F16').linear('proj', 8, 6);
    const x = randomT(ck.random, [2, 3, 8]);
    const g = new GraphBuilder(ck.source());
    g.input('x', ONNX_TYPE.float32, x.dims);
    g.output('y', ONNX_TYPE.float32, [2, 3, 6], g.scope('proj', () => linear(g, 'x')));
    const model = g.build('t', 't');
    expect(model.graph!.initializer!.find((t) => t.name === 'proj.weight')!.dataType).toBe(TensorProto.DataType.FLOAT16);
    expect(model.graph!.node!.filter((n) => n.opType === 'Cast')).toHaveLength(2);
    const y = await runBuilt(model, ck.file(), { x: { type: 'float32', data: x.data, dims: x.dims } });
    expect(relativeError(y.y.data, linearRef(x, ck.p('proj.weight'), ck.p('proj.bias')).data)).toBeLessThan(TOLERANCE);
  });

  it('casts bfloat16 weights too', async () => {
    const ck = new FakeCheckpoint(20, 'BF16').linear('proj', 8, 6);
    const x = randomT(ck.random, [2, 8]);
    const y = await runBlock(ck, { x }, (g) => g.scope('proj', () => linear(g, 'x')));
    expect(relativeError(y, linearRef(x, ck.p('proj.weight'), ck.p('proj.bias')).data)).toBeLessThan(TOLERANCE);
  });

  it('refuses a weight whose byte range does not hold its shape', () => {
    const ck = new FakeCheckpoint(21).linear('proj', 8, 6);
    const ref = ck.refs.get('proj.weight')!;
    ck.refs.set('proj.weight', { ...ref, end: ref.end - 4 });
    const g = new GraphBuilder(ck.source());
    expect(() => g.scope('proj', () => linear(g, 'x'))).toThrow(/ldm\.proj\.weight spans 188 bytes/);
    expect(() => g.weight('missing.weight')).toThrow(/checkpoint weight missing: missing\.weight/);
  });
});

describe('layers', () => {
  it('Linear [out, in] through a Transpose, and a 1×1 conv weight read as a Linear', async () => {
    const ck = new FakeCheckpoint(3).linear('a', 8, 5).add('b.weight', [5, 8, 1, 1]);
    const x = randomT(ck.random, [2, 3, 8]);
    expect(relativeError(await runBlock(ck, { x }, (g) => g.scope('a', () => linear(g, 'x'))), linearRef(x, ck.p('a.weight'), ck.p('a.bias')).data)).toBeLessThan(TOLERANCE);
    expect(relativeError(await runBlock(ck, { x }, (g) => g.scope('b', () => linear(g, 'x'))), linearRef(x, ck.p('b.weight')).data)).toBeLessThan(TOLERANCE);
  });

  it('Conv2d 3×3 and a Linear-shaped weight as a 1×1 conv', async () => {
    const ck = new FakeCheckpoint(4).conv('c', 3, 5, 3).linear('p', 3, 4);
    const x = randomT(ck.random, [2, 3, 5, 6]);
    expect(relativeError(await runBlock(ck, { x }, (g) => g.scope('c', () => conv2d(g, 'x'))), conv2dRef(x, ck.p('c.weight'), ck.p('c.bias')).data)).toBeLessThan(TOLERANCE);
    expect(relativeError(await runBlock(ck, { x }, (g) => g.scope('p', () => conv2d(g, 'x'))), conv2dRef(x, ck.p('p.weight'), ck.p('p.bias')).data)).toBeLessThan(TOLERANCE);
  });

  it('GroupNorm uses the eps it is given (1e-5 vs 1e-6 tell apart on a near-constant input)', async () => {
    const ck = new FakeCheckpoint(5).norm('n', 8);
    // Variance ≈ 3e-7 per group: comparable to eps, so the two eps give visibly different outputs.
    const x = randomT(ck.random, [2, 8, 3, 3], 1e-3);
    for (const eps of [1e-5, 1e-6]) {
      const y = await runBlock(ck, { x }, (g) => g.scope('n', () => groupNorm(g, 'x', 4, eps)));
      const right = groupNormRef(x, 4, eps, ck.p('n.weight'), ck.p('n.bias')).data;
      const wrong = groupNormRef(x, 4, eps === 1e-5 ? 1e-6 : 1e-5, ck.p('n.weight'), ck.p('n.bias')).data;
      expect(relativeError(y, right)).toBeLessThan(TOLERANCE);
      expect(relativeError(y, wrong)).toBeGreaterThan(0.05);
    }
  });
});

describe('timestep embedding', () => {
  it('is [cos, sin] with frequencies exp(−ln 10000 · i / half), for int64 [b] timesteps', async () => {
    const ck = new FakeCheckpoint(6);
    const sample = randomT(ck.random, [3, 1, 1, 1]);
    const ts = [0, 1, 999];
    const y = await runBlock(ck, { sample, timestep: { type: 'int64', data: ts, dims: [3] } }, (g) => timestepProjection(g, 'timestep', 'sample', 16));
    expect(relativeError(y, timestepEmbeddingRef(ts, 16).data)).toBeLessThan(TOLERANCE);
    expect(y[0]).toBeCloseTo(1); // cos(0) first
    expect(y[8]).toBeCloseTo(0); // then sin(0)
  });

  it('broadcasts a [1] float timestep to the batch and runs time_embedding', async () => {
    const ck = new FakeCheckpoint(7).linear('time_embedding.linear_1', 8, 32).linear('time_embedding.linear_2', 32, 32);
    const sample = randomT(ck.random, [2, 1, 1, 1]);
    const y = await runBlock(ck, { sample, timestep: { type: 'float32', data: [421], dims: [1] } }, (g) => timestepEmbedding(g, 'timestep', 'sample', 8));
    expect(relativeError(y, timeEmbeddingRef(ck.params, [421, 421], 8).data)).toBeLessThan(TOLERANCE);
  });
});

describe('ResnetBlock2D, Downsample2D, Upsample2D', () => {
  const resnetWeights = (ck: FakeCheckpoint, cin: number, cout: number, temb?: number) => {
    ck.norm('r.norm1', cin).conv('r.conv1', cin, cout, 3).norm('r.norm2', cout).conv('r.conv2', cout, cout, 3);
    if (temb) ck.linear('r.time_emb_proj', temb, cout);
    if (cin !== cout) ck.conv('r.conv_shortcut', cin, cout, 1);
    return ck;
  };

  it('with a time embedding and a conv shortcut when channels change', async () => {
    const ck = resnetWeights(new FakeCheckpoint(8), 8, 16, 12);
    const x = randomT(ck.random, [2, 8, 4, 5]);
    const temb = randomT(ck.random, [2, 12]);
    const y = await runBlock(ck, { x, temb }, (g) => g.scope('r', () => resnetBlock(g, 'x', { groups: 4, eps: 1e-5, temb: 'temb' })));
    expect(relativeError(y, resnetRef(ck.params, 'r.', x, 4, 1e-5, temb).data)).toBeLessThan(TOLERANCE);
  });

  it('without a time embedding, identity shortcut (the VAE)', async () => {
    const ck = resnetWeights(new FakeCheckpoint(9), 8, 8);
    const x = randomT(ck.random, [1, 8, 4, 4]);
    const y = await runBlock(ck, { x }, (g) => g.scope('r', () => resnetBlock(g, 'x', { groups: 4, eps: 1e-6 })));
    expect(relativeError(y, resnetRef(ck.params, 'r.', x, 4, 1e-6).data)).toBeLessThan(TOLERANCE);
  });

  it('downsamples with pad 1 (UNet) or right/bottom only (VAE), upsamples nearest ×2 then conv', async () => {
    const ck = new FakeCheckpoint(10).conv('d.downsamplers.0.conv', 4, 4, 3).conv('u.upsamplers.0.conv', 4, 4, 3);
    const x = randomT(ck.random, [1, 4, 6, 6]);
    const unet = await runBlock(ck, { x }, (g) => g.scope('d', () => downsample(g, 'x', 'unet')));
    const vae = await runBlock(ck, { x }, (g) => g.scope('d', () => downsample(g, 'x', 'vae')));
    expect(unet).toHaveLength(4 * 3 * 3);
    expect(relativeError(unet, downsampleRef(ck.params, 'd.', x, 'unet').data)).toBeLessThan(TOLERANCE);
    expect(relativeError(vae, downsampleRef(ck.params, 'd.', x, 'vae').data)).toBeLessThan(TOLERANCE);
    expect(relativeError(vae, unet)).toBeGreaterThan(0.05);
    const up = await runBlock(ck, { x }, (g) => g.scope('u', () => upsample(g, 'x')));
    expect(relativeError(up, upsampleRef(ck.params, 'u.', x).data)).toBeLessThan(TOLERANCE);
  });
});

describe('attention and transformers', () => {
  const attnWeights = (ck: FakeCheckpoint, pre: string, dim: number, contextDim: number, bias = false) =>
    ck.linear(`${pre}.to_q`, dim, dim, bias).linear(`${pre}.to_k`, contextDim, dim, bias).linear(`${pre}.to_v`, contextDim, dim, bias).linear(`${pre}.to_out.0`, dim, dim);
  const blockWeights = (ck: FakeCheckpoint, pre: string, dim: number, contextDim: number) => {
    ck.norm(`${pre}.norm1`, dim).norm(`${pre}.norm2`, dim).norm(`${pre}.norm3`, dim);
    attnWeights(ck, `${pre}.attn1`, dim, dim);
    attnWeights(ck, `${pre}.attn2`, dim, contextDim);
    return ck.linear(`${pre}.ff.net.0.proj`, dim, 8 * dim).linear(`${pre}.ff.net.2`, 4 * dim, dim);
  };

  it('self- and cross-attention with 2 heads, scale 1/√head_dim', async () => {
    const ck = attnWeights(attnWeights(new FakeCheckpoint(11), 'self', 16, 16), 'cross', 16, 12);
    const x = randomT(ck.random, [2, 5, 16]);
    const ctx = randomT(ck.random, [2, 7, 12]);
    const self = await runBlock(ck, { x }, (g) => g.scope('self', () => attention(g, 'x', 2)));
    expect(relativeError(self, attentionModuleRef(ck.params, 'self.', x, 2).data)).toBeLessThan(TOLERANCE);
    expect(relativeError(self, attentionModuleRef(ck.params, 'self.', x, 1).data)).toBeGreaterThan(1e-3);
    const cross = await runBlock(ck, { x, ctx }, (g) => g.scope('cross', () => attention(g, 'x', 2, { context: 'ctx' })));
    expect(relativeError(cross, attentionModuleRef(ck.params, 'cross.', x, 2, ctx).data)).toBeLessThan(TOLERANCE);
  });

  it('GEGLU feed-forward: value · gelu(gate), value first', async () => {
    const ck = new FakeCheckpoint(12).linear('ff.net.0.proj', 8, 64).linear('ff.net.2', 32, 8);
    const x = randomT(ck.random, [2, 3, 8], 2);
    const y = await runBlock(ck, { x }, (g) => gegluFeedForward(g, 'x'));
    expect(relativeError(y, gegluRef(ck.params, 'ff.', x).data)).toBeLessThan(TOLERANCE);
  });

  it('BasicTransformerBlock', async () => {
    const ck = blockWeights(new FakeCheckpoint(13), 'b', 16, 12);
    const x = randomT(ck.random, [2, 6, 16]);
    const ctx = randomT(ck.random, [2, 4, 12]);
    const y = await runBlock(ck, { x, ctx }, (g) => g.scope('b', () => basicTransformerBlock(g, 'x', 'ctx', 2)));
    expect(relativeError(y, basicTransformerBlockRef(ck.params, 'b.', x, ctx, 2).data)).toBeLessThan(TOLERANCE);
  });

  for (const linearProjection of [false, true]) {
    it(`Transformer2DModel, proj_in/proj_out as ${linearProjection ? 'Linear (SD 2.x)' : '1×1 conv (SD 1.x)'}`, async () => {
      const ck = new FakeCheckpoint(14).norm('t.norm', 16);
      if (linearProjection) ck.linear('t.proj_in', 16, 16).linear('t.proj_out', 16, 16);
      else ck.conv('t.proj_in', 16, 16, 1).conv('t.proj_out', 16, 16, 1);
      blockWeights(ck, 't.transformer_blocks.0', 16, 12);
      const x = randomT(ck.random, [2, 16, 3, 4]);
      const ctx = randomT(ck.random, [2, 5, 12]);
      const opts = { heads: 2, depth: 1, groups: 4, eps: 1e-6, linearProjection };
      const y = await runBlock(ck, { x, ctx }, (g) => g.scope('t', () => transformer2d(g, 'x', 'ctx', opts)));
      expect(relativeError(y, transformer2dRef(ck.params, 't.', x, ctx, 2, linearProjection, 1, 4).data)).toBeLessThan(TOLERANCE);
    });
  }

  it('the VAE mid-block attention: one head over positions, GroupNorm, residual', async () => {
    const ck = attnWeights(new FakeCheckpoint(15).norm('a.group_norm', 16), 'a', 16, 16, true);
    const x = randomT(ck.random, [2, 16, 3, 3]);
    const y = await runBlock(ck, { x }, (g) => g.scope('a', () => spatialSelfAttention(g, 'x', 4, 1e-6)));
    expect(relativeError(y, spatialAttentionRef(ck.params, 'a.', x, 4, 1e-6).data)).toBeLessThan(TOLERANCE);
  });
});

describe('CLIP encoder layer', () => {
  for (const activation of ['quick_gelu', 'gelu'] as const) {
    it(`pre-LN, causal, ${activation}`, async () => {
      const ck = new FakeCheckpoint(16).norm('l.layer_norm1', 16).norm('l.layer_norm2', 16);
      for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) ck.linear(`l.self_attn.${p}`, 16, 16);
      ck.linear('l.mlp.fc1', 16, 64).linear('l.mlp.fc2', 64, 16);
      const x = randomT(ck.random, [2, 5, 16]);
      const ids = { type: 'int32' as const, data: new Array(10).fill(1), dims: [2, 5] };
      const arch = { heads: 2, activation, eps: 1e-5 };
      const y = await runBlock(ck, { x, ids }, (g) => g.scope('l', () => clipEncoderLayer(g, 'x', arch, causalMask(g, 'ids'))));
      expect(relativeError(y, clipLayerRef(ck.params, 'l.', x, 2, activation).data)).toBeLessThan(TOLERANCE);
      const other = activation === 'gelu' ? 'quick_gelu' : 'gelu';
      expect(relativeError(y, clipLayerRef(ck.params, 'l.', x, 2, other).data)).toBeGreaterThan(1e-3);
    });
  }
});
