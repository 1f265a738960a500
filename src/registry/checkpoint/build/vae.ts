/**
 * The VAE as diffusers' AutoencoderKL, split as optimum exports it: the decoder
 * (`latent_sample` → post_quant_conv → decoder → `sample`) and the encoder (`sample` → encoder →
 * quant_conv → `latent_parameters`, mean then log-variance).
 */
import type { CheckpointPlan, VaeArch } from '../architecture';
import { spatialSelfAttention } from './attention';
import type { BuildOptions, BuiltComponent } from './component';
import { GraphBuilder } from './graph-builder';
import { conv2d, groupNorm, silu } from './layers';
import { downsample, resnetBlock, upsample } from './resnet';

function midBlock(g: GraphBuilder, x: string, arch: VaeArch): string {
  return g.scope('mid_block', () => {
    let h = g.scope('resnets.0', () => resnetBlock(g, x, arch));
    h = g.scope('attentions.0', () => spatialSelfAttention(g, h, arch.groups, arch.eps));
    return g.scope('resnets.1', () => resnetBlock(g, h, arch));
  });
}

function convOut(g: GraphBuilder, x: string, arch: VaeArch): string {
  const h = g.scope('conv_norm_out', () => groupNorm(g, x, arch.groups, arch.eps));
  return g.scope('conv_out', () => conv2d(g, silu(g, h)));
}

export function buildVaeDecoder(plan: CheckpointPlan, options: BuildOptions): BuiltComponent {
  const arch = plan.vae;
  const levels = arch.blockChannels.length;
  const g = new GraphBuilder({ weights: plan.weights.vae_decoder, locate: options.locate }, options.compute);
  const latent = g.input('latent_sample', g.computeType, ['batch_size', arch.latentChannels, 'height_latent', 'width_latent']);
  const z = g.scope('post_quant_conv', () => conv2d(g, latent));
  const image = g.scope('decoder', () => {
    let h = g.scope('conv_in', () => conv2d(g, z));
    h = midBlock(g, h, arch);
    // up_blocks.0 is the deepest level (LDM's up.(n−1)).
    for (let i = 0; i < levels; i++) {
      g.scope(`up_blocks.${i}`, () => {
        for (let j = 0; j <= arch.layersPerBlock; j++) h = g.scope(`resnets.${j}`, () => resnetBlock(g, h, arch));
        if (i < levels - 1) h = upsample(g, h);
      });
    }
    return convOut(g, h, arch);
  });
  g.output('sample', g.computeType, ['batch_size', arch.imageChannels, 'height', 'width'], image);
  return {
    model: g.build('vae_decoder', `AutoencoderKL decoder, channels [${arch.blockChannels}], built from a checkpoint`),
    externalRanges: g.externalRanges,
  };
}

export function buildVaeEncoder(plan: CheckpointPlan, options: BuildOptions): BuiltComponent {
  const arch = plan.vae;
  const levels = arch.blockChannels.length;
  const g = new GraphBuilder({ weights: plan.weights.vae_encoder, locate: options.locate }, options.compute);
  const sample = g.input('sample', g.computeType, ['batch_size', arch.imageChannels, 'height', 'width']);
  const moments = g.scope('encoder', () => {
    let h = g.scope('conv_in', () => conv2d(g, sample));
    for (let i = 0; i < levels; i++) {
      g.scope(`down_blocks.${i}`, () => {
        for (let j = 0; j < arch.layersPerBlock; j++) h = g.scope(`resnets.${j}`, () => resnetBlock(g, h, arch));
        if (i < levels - 1) h = downsample(g, h, 'vae');
      });
    }
    return convOut(g, midBlock(g, h, arch), arch);
  });
  const parameters = g.scope('quant_conv', () => conv2d(g, moments));
  g.output('latent_parameters', g.computeType, ['batch_size', 2 * arch.latentChannels, 'height_latent', 'width_latent'], parameters);
  return {
    model: g.build('vae_encoder', `AutoencoderKL encoder, channels [${arch.blockChannels}], built from a checkpoint`),
    externalRanges: g.externalRanges,
  };
}
