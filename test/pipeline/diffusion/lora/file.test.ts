import { describe, expect, it } from 'vitest';
import { LoraFormatError, readLoraModules, type LoraTensorInfo } from '../../../../src/pipeline/diffusion/lora';
import { floatBytes, kohyaFile, loraModulesOf, peftFile, randomLayer } from '../../../fixtures/lora/lora-files';
import { buildSafetensors } from '../../../fixtures/safetensors-builder';

describe('readLoraModules', () => {
  it('kohya: components from the prefix, alpha from the tensor, values in float32 from F16 and BF16', async () => {
    const q = randomLayer(1, 4, 8, 8, { alpha: 2 });
    const conv = randomLayer(2, 2, 6, 3, { kernel: 3 });
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const modules = await loraModulesOf(
        kohyaFile({ lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: q, lora_te_text_model_encoder_layers_0_self_attn_q_proj: q, lora_unet_down_blocks_0_resnets_0_conv1: conv }, dtype),
      );
      expect(modules.map((m) => [m.component, m.key, m.naming, m.kind, m.rank, m.alpha])).toEqual([
        ['unet', 'down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', 'kohya', 'linear', 4, 2],
        ['text_encoder', 'text_model_encoder_layers_0_self_attn_q_proj', 'kohya', 'linear', 4, 2],
        // No alpha tensor: alpha = rank (scale 1).
        ['unet', 'down_blocks_0_resnets_0_conv1', 'kohya', 'conv', 2, 2],
      ]);
      expect(modules[2].down.shape).toEqual([2, 3, 3, 3]);
      expect(modules[2].up.shape).toEqual([6, 2, 1, 1]);
      const tolerance = dtype === 'F32' ? 0 : dtype === 'F16' ? 1e-3 : 4e-3;
      const got = modules[0].down.data;
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - q.down.values[i])).toBeLessThanOrEqual(tolerance);
    }
  });

  it('kohya: SDXL second text encoder (lora_te2_), and alpha from the training metadata when no tensor has it', async () => {
    const l = randomLayer(3, 4, 8, 8);
    const modules = await loraModulesOf(kohyaFile({ lora_te2_text_model_encoder_layers_0_mlp_fc1: l, lora_te1_text_model_encoder_layers_0_mlp_fc1: l }, 'F32', { ss_network_alpha: '1.0' }));
    expect(modules.map((m) => [m.component, m.alpha])).toEqual([
      ['text_encoder_2', 1],
      ['text_encoder', 1],
    ]);
  });

  it('peft: with and without unet./text_encoder. prefixes, adapter names, alpha tensors', async () => {
    const l = randomLayer(4, 2, 8, 8, { alpha: 1 });
    const file = peftFile({
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q': l,
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj': l,
      'mid_block.attentions.0.proj_in': l,
      'text_model.encoder.layers.1.mlp.fc2': { ...l, alpha: undefined },
    });
    const modules = await loraModulesOf(file);
    expect(modules.map((m) => [m.component, m.key, m.naming, m.alpha])).toEqual([
      ['unet', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'peft', 1],
      ['text_encoder', 'text_model.encoder.layers.0.self_attn.q_proj', 'peft', 1],
      ['unet', 'mid_block.attentions.0.proj_in', 'peft', 1],
      ['text_encoder', 'text_model.encoder.layers.1.mlp.fc2', 'peft', 2],
    ]);
  });

  it("diffusers' older spellings: lora_A.<adapter>, LoRACompatible .lora.down and attention processors' to_*_lora", async () => {
    const t = (name: string, shape: number[]) => ({ name, dtype: 'F32', shape, data: floatBytes(new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(0.5), 'F32') });
    const file = buildSafetensors([
      t('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight', [2, 8]),
      t('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight', [8, 2]),
      t('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight', [2, 8]),
      t('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.up.weight', [8, 2]),
      t('unet.mid_block.attentions.0.proj_out.lora.down.weight', [2, 8]),
      t('unet.mid_block.attentions.0.proj_out.lora.up.weight', [8, 2]),
      t('base_model.model.up_blocks.1.attentions.0.proj_in.lora_A.default_0.weight', [2, 8]),
      t('base_model.model.up_blocks.1.attentions.0.proj_in.lora_B.default_0.weight', [8, 2]),
    ]);
    expect((await loraModulesOf(file)).map((m) => m.key)).toEqual([
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0',
      'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k',
      'mid_block.attentions.0.proj_out',
      'up_blocks.1.attentions.0.proj_in',
    ]);
  });

  it('refuses LoHa, LoKr, OFT and CP-decomposed LoCon by name, and incomplete pairs', async () => {
    const refuse = async (name: string, pattern: RegExp) => {
      const file = buildSafetensors([{ name, dtype: 'F32', shape: [2, 2] }]);
      await expect(loraModulesOf(file)).rejects.toThrow(pattern);
    };
    await refuse('lora_unet_mid_block_attentions_0_proj_in.hada_w1_a', /LyCORIS LoHa/);
    await refuse('lora_unet_mid_block_attentions_0_proj_in.lokr_w1', /LyCORIS LoKr/);
    await refuse('lora_unet_mid_block_attentions_0_proj_in.oft_blocks', /OFT/);
    await refuse('lora_unet_mid_block_resnets_0_conv1.lora_mid.weight', /lora_mid/);
    await refuse('lora_unet_mid_block_resnets_0_conv1.lora_down.weight', /no up matrix/);
    await expect(loraModulesOf(buildSafetensors([{ name: 'emb_params', dtype: 'F32', shape: [1, 8] }]))).rejects.toThrow(LoraFormatError);
  });

  it('mismatched halves and integer weights are errors', async () => {
    const read = async () => new Uint8Array(64);
    const tensors: LoraTensorInfo[] = [
      { name: 'lora_unet_x.lora_down.weight', dtype: 'F32', shape: [4, 2] },
      { name: 'lora_unet_x.lora_up.weight', dtype: 'F32', shape: [2, 3] },
    ];
    await expect(readLoraModules({ tensors, read })).rejects.toThrow(/do not form a rank-4 pair/);
    const ints = tensors.map((t) => ({ ...t, dtype: 'I8', shape: t.name.includes('up') ? [2, 4] : t.shape }));
    await expect(readLoraModules({ tensors: ints, read })).rejects.toThrow(/is I8/);
  });
});
