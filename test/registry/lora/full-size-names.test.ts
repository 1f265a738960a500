/**
 * Name mapping at full size, without weights: the LoRA name mapping against the checkpoint
 * reader's own LDM → diffusers map (ldm-keys.ts, an independent implementation of the same facts),
 * and a kohya SD 1.5 LoRA's standard module list (the modules sd-scripts adapts: every Linear and
 * 1×1 conv of the UNet's 16 transformers, every attention and MLP Linear of the 12 CLIP layers)
 * against the full-size SD 1.5 graphs the studio builds.
 */
import { describe, expect, it } from 'vitest';
import { moduleIndex, resolveModule } from '../../../src/pipeline/diffusion/lora';
import { buildTextEncoder, buildUnet, fileLocation } from '../../../src/registry/checkpoint/build';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { encodeModel } from '../../../src/registry/convert/onnx-build';
import { findWeightTargets } from '../../../src/registry/lora';
import { headerOf, ldmTensorSpecs, SD15, SD21, tinyLdmConfig, type LdmCheckpointConfig } from '../../fixtures/ldm-checkpoint';

const planOf = (config: LdmCheckpointConfig) => planCheckpoint(headerOf(ldmTensorSpecs(config, 'F16')), 'model.safetensors');

describe('LoRA names at full size', () => {
  for (const [name, config] of [
    ['SD 1.5', SD15],
    ['SD 2.1', SD21],
    ['tiny SD 1.x', tinyLdmConfig('sd1')],
  ] as const) {
    it(`${name}: every LDM-named UNet layer maps to the diffusers module the checkpoint reader gives it`, () => {
      const plan = planOf(config);
      const layers = [...plan.weights.unet].filter(([n, ref]) => n.endsWith('.weight') && ref.shape.length >= 2);
      const index = moduleIndex(layers.map(([n]) => n.slice(0, -'.weight'.length)));
      const wrong = layers.flatMap(([n, ref]) => {
        const stem = ref.key.replace(/^model\.diffusion_model\./, '').replace(/\.weight$/, '').replace(/\./g, '_');
        const got = resolveModule({ key: stem, naming: 'kohya', component: 'unet' }, index);
        return got === n.slice(0, -'.weight'.length) ? [] : [`${ref.key} → ${got}`];
      });
      expect(layers.length).toBeGreaterThan(20);
      expect(wrong).toEqual([]);
    });
  }

  it("SD 1.5: a kohya LoRA's 192 UNet and 72 text-encoder modules all find a weight of the right shape in the built graphs", () => {
    const plan = planOf(SD15);
    const locate = fileLocation('model.safetensors', 8);
    const unet = findWeightTargets(encodeModel(buildUnet(plan, { locate }).model));
    const text = findWeightTargets(encodeModel(buildTextEncoder(plan, { locate }).model));

    // [stem, out, in] of each module, from SD 1.5's architecture (channels 320/640/1280, context 768).
    const modules: Array<['unet' | 'text_encoder', string, number, number]> = [];
    const transformer = (block: string, c: number) => {
      const t = `${block}_transformer_blocks_0`;
      const linears: Array<[string, number, number]> = [
        [`${block}_proj_in`, c, c],
        [`${block}_proj_out`, c, c],
        [`${t}_attn1_to_q`, c, c],
        [`${t}_attn1_to_k`, c, c],
        [`${t}_attn1_to_v`, c, c],
        [`${t}_attn1_to_out_0`, c, c],
        [`${t}_attn2_to_q`, c, c],
        [`${t}_attn2_to_k`, c, 768],
        [`${t}_attn2_to_v`, c, 768],
        [`${t}_attn2_to_out_0`, c, c],
        [`${t}_ff_net_0_proj`, 8 * c, c],
        [`${t}_ff_net_2`, c, 4 * c],
      ];
      for (const [stem, out, inp] of linears) modules.push(['unet', stem, out, inp]);
    };
    const channels = [320, 640, 1280];
    channels.forEach((c, i) => [0, 1].forEach((j) => transformer(`down_blocks_${i}_attentions_${j}`, c)));
    transformer('mid_block_attentions_0', 1280);
    [1280, 640, 320].forEach((c, u) => [0, 1, 2].forEach((j) => transformer(`up_blocks_${u + 1}_attentions_${j}`, c)));
    for (let l = 0; l < 12; l++) {
      const p = `text_model_encoder_layers_${l}`;
      for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) modules.push(['text_encoder', `${p}_self_attn_${proj}`, 768, 768]);
      modules.push(['text_encoder', `${p}_mlp_fc1`, 3072, 768], ['text_encoder', `${p}_mlp_fc2`, 768, 3072]);
    }
    expect(modules.filter((m) => m[0] === 'unet')).toHaveLength(192);
    expect(modules.filter((m) => m[0] === 'text_encoder')).toHaveLength(72);

    const indexes = { unet: moduleIndex(unet.targets.keys()), text_encoder: moduleIndex(text.targets.keys()) };
    const missing = modules.flatMap(([component, stem, out, inp]) => {
      const path = resolveModule({ key: stem, naming: 'kohya', component }, indexes[component]);
      const target = path ? (component === 'unet' ? unet : text).targets.get(path) : undefined;
      const count = target?.dims.reduce((p, d) => p * d, 1);
      return target && target.dims[0] === out && count === out * inp ? [] : [stem];
    });
    expect(missing).toEqual([]);
  });
});
