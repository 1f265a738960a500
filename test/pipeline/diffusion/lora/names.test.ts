import { describe, expect, it } from 'vitest';
import { ldmToDiffusers, moduleIndex, resolveModule } from '../../../../src/pipeline/diffusion/lora';

/** SD 1.5's UNet: 4 levels of 2 ResNets, attention on the first three down levels (last three up). */
const SD15 = { layers: 2, levels: 4, upAttention: [false, true, true, true] };

describe('LoRA module names → model module paths', () => {
  it('kohya diffusers-path stems match the model paths with dots as underscores', () => {
    const index = moduleIndex([
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q',
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0',
      'text_model.encoder.layers.0.self_attn.q_proj',
    ]);
    const kohya = (key: string, component: 'unet' | 'text_encoder' = 'unet') => resolveModule({ key, naming: 'kohya', component }, index);
    expect(kohya('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q')).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q');
    expect(kohya('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0')).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0');
    expect(kohya('text_model_encoder_layers_0_self_attn_q_proj', 'text_encoder')).toBe('text_model.encoder.layers.0.self_attn.q_proj');
    expect(kohya('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k')).toBeUndefined();
  });

  it('peft paths match as they are; two paths with one underscore form are never guessed between', () => {
    const index = moduleIndex(['a.b_c', 'a_b.c', 'x.y']);
    expect(resolveModule({ key: 'a.b_c', naming: 'peft', component: 'unet' }, index)).toBe('a.b_c');
    expect(resolveModule({ key: 'x_y', naming: 'kohya', component: 'unet' }, index)).toBe('x.y');
    expect(resolveModule({ key: 'a_b_c', naming: 'kohya', component: 'unet' }, index)).toBeUndefined();
  });

  it('LDM UNet names: flat block numbers → level and layer (SD 1.5 layout)', () => {
    const cases: Array<[string, string, string]> = [
      ['input_blocks_0_0', 'conv_in', ''],
      ['input_blocks_1_1_transformer_blocks_0_attn1_to_q', 'down_blocks.0.attentions.0', 'transformer_blocks_0_attn1_to_q'],
      ['input_blocks_2_0_in_layers_2', 'down_blocks.0.resnets.1.conv1', ''],
      ['input_blocks_3_0_op', 'down_blocks.0.downsamplers.0.conv', ''],
      ['input_blocks_4_0_skip_connection', 'down_blocks.1.resnets.0.conv_shortcut', ''],
      ['input_blocks_11_0_emb_layers_1', 'down_blocks.3.resnets.1.time_emb_proj', ''],
      ['middle_block_0_out_layers_3', 'mid_block.resnets.0.conv2', ''],
      ['middle_block_1_proj_in', 'mid_block.attentions.0', 'proj_in'],
      ['middle_block_2_in_layers_2', 'mid_block.resnets.1.conv1', ''],
      ['output_blocks_2_1_conv', 'up_blocks.0.upsamplers.0.conv', ''],
      ['output_blocks_3_1_transformer_blocks_0_attn2_to_k', 'up_blocks.1.attentions.0', 'transformer_blocks_0_attn2_to_k'],
      ['output_blocks_5_2_conv', 'up_blocks.1.upsamplers.0.conv', ''],
      ['output_blocks_11_1_proj_out', 'up_blocks.3.attentions.2', 'proj_out'],
      ['time_embed_2', 'time_embedding.linear_2', ''],
      ['out_2', 'conv_out', ''],
    ];
    for (const [stem, prefix, rest] of cases) expect(ldmToDiffusers(stem, SD15), stem).toEqual({ prefix, rest });
    for (const stem of ['input_blocks_3_1_proj_in', 'output_blocks_2_2_conv', 'output_blocks_12_0_in_layers_2', 'input_blocks_1_0_norm', 'middle_block_3_x']) {
      expect(ldmToDiffusers(stem, SD15), stem).toBeNull();
    }
  });
});
