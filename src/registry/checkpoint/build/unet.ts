/**
 * The UNet as diffusers' UNet2DConditionModel (SD 1.x / 2.x layout): `sample`, `timestep`,
 * `encoder_hidden_states` → `out_sample`, with CrossAttn blocks where the plan has attention,
 * skips concatenated `[h, skip]` on the way up.
 */
import type { CheckpointPlan } from '../architecture';
import type { BuildOptions, BuiltComponent } from './component';
import { GraphBuilder, ONNX_TYPE } from './graph-builder';
import { conv2d, groupNorm, silu } from './layers';
import { downsample, resnetBlock, upsample } from './resnet';
import { timestepEmbedding } from './timestep';
import { transformer2d } from './transformer';

export interface UnetOptions extends BuildOptions {
  /** `timestep` type: int64 as optimum exports it (the default), or float32. */
  timestep?: 'int64' | 'float32';
}

export function buildUnet(plan: CheckpointPlan, options: UnetOptions): BuiltComponent {
  const arch = plan.unet;
  const g = new GraphBuilder({ weights: plan.weights.unet, locate: options.locate }, options.compute);
  const levels = arch.blockChannels.length;
  const sample = g.input('sample', g.computeType, ['batch_size', arch.inChannels, 'height', 'width']);
  const timestep = g.input('timestep', ONNX_TYPE[options.timestep ?? 'int64'], ['steps']);
  const context = g.input('encoder_hidden_states', g.computeType, ['batch_size', 'sequence_length', arch.contextDim]);

  const temb = timestepEmbedding(g, timestep, sample, arch.blockChannels[0]);
  const resnet = (x: string) => resnetBlock(g, x, { groups: arch.groups, eps: arch.resnetEps, temb });
  const spatialTransformer = (x: string, level: number) =>
    transformer2d(g, x, context, {
      heads: arch.heads[level],
      depth: arch.transformerDepth,
      groups: arch.groups,
      eps: arch.transformerEps,
      linearProjection: arch.linearProjection,
    });

  let h = g.scope('conv_in', () => conv2d(g, sample));
  const skips = [h];
  for (let i = 0; i < levels; i++) {
    g.scope(`down_blocks.${i}`, () => {
      for (let j = 0; j < arch.layersPerBlock; j++) {
        h = g.scope(`resnets.${j}`, () => resnet(h));
        if (arch.attention[i]) h = g.scope(`attentions.${j}`, () => spatialTransformer(h, i));
        skips.push(h);
      }
      if (i < levels - 1) {
        h = downsample(g, h, 'unet');
        skips.push(h);
      }
    });
  }

  g.scope('mid_block', () => {
    h = g.scope('resnets.0', () => resnet(h));
    h = g.scope('attentions.0', () => spatialTransformer(h, levels - 1));
    h = g.scope('resnets.1', () => resnet(h));
  });

  for (let i = 0; i < levels; i++) {
    const level = levels - 1 - i;
    g.scope(`up_blocks.${i}`, () => {
      for (let j = 0; j <= arch.layersPerBlock; j++) {
        const skip = skips.pop()!;
        h = g.node('Concat', [h, skip], { axis: 1 });
        h = g.scope(`resnets.${j}`, () => resnet(h));
        if (arch.attention[level]) h = g.scope(`attentions.${j}`, () => spatialTransformer(h, level));
      }
      // Up to the size of the skip the next level concatenates.
      if (i < levels - 1) h = upsample(g, h, skips[skips.length - 1]);
    });
  }
  if (skips.length) throw new Error(`UNet build: ${skips.length} skip connections left over`);

  h = g.scope('conv_norm_out', () => groupNorm(g, h, arch.groups, arch.resnetEps));
  h = g.scope('conv_out', () => conv2d(g, silu(g, h)));
  g.output('out_sample', g.computeType, ['batch_size', arch.outChannels, 'height', 'width'], h);
  return {
    model: g.build('unet', `UNet2DConditionModel, channels [${arch.blockChannels}], ${arch.inChannels} input channels, built from a checkpoint`),
    externalRanges: g.externalRanges,
  };
}
