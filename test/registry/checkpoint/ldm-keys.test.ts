import { describe, expect, it } from 'vitest';
import { CHECKPOINT_COMPONENTS, type CheckpointPlan, type TensorRef } from '../../../src/registry/checkpoint/architecture';
import { CheckpointError, planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { classifySafetensorsHeader, readSafetensorsHeader, SafetensorsError } from '../../../src/registry/safetensors';
import {
  headerOf,
  ldmCheckpointBytes,
  ldmTensorSpecs,
  SD15,
  SD15_INPAINTING,
  SD21,
  tinyLdmConfig,
  type LdmCheckpointConfig,
  type LdmTensorSpec,
} from '../../fixtures/ldm-checkpoint';
import realExcerpts from '../../fixtures/ldm-keys/real-excerpts.json';
import * as st from '../../fixtures/safetensors-builder';

const plan = (config: LdmCheckpointConfig, dtype: 'F16' | 'F32' = 'F16') => planCheckpoint(headerOf(ldmTensorSpecs(config, dtype)), 'model.safetensors');
const planSpecs = (specs: LdmTensorSpec[]) => planCheckpoint(headerOf(specs), 'model.safetensors');
const elements = (r: TensorRef) => r.shape.reduce((p, d) => p * d, 1);
const parameters = (p: CheckpointPlan, component: keyof CheckpointPlan['weights']) => [...p.weights[component].values()].reduce((n, r) => n + elements(r), 0);
const ref = (p: CheckpointPlan, component: keyof CheckpointPlan['weights'], name: string) => {
  const r = p.weights[component].get(name);
  if (!r) throw new Error(`no ${component} weight '${name}'`);
  return r;
};

/** Every file key is used by exactly one weight (a fused in_proj by three), or ignored. */
function expectEachKeyOnce(p: CheckpointPlan, specs: LdmTensorSpec[]): void {
  const uses = new Map<string, number>();
  for (const c of CHECKPOINT_COMPONENTS) for (const r of p.weights[c].values()) uses.set(r.key, (uses.get(r.key) ?? 0) + 1);
  for (const [key, n] of uses) expect([key, n]).toEqual([key, /\.in_proj_(weight|bias)$/.test(key) ? 3 : 1]);
  const names = new Set(specs.map((s) => s.name));
  for (const key of uses.keys()) expect(names.has(key)).toBe(true);
  expect(uses.size + p.ignored).toBe(specs.length);
}

describe('the generated full-size key lists against real files', () => {
  // Rows quoted from real checkpoints' load errors and merge logs (sources in the JSON).
  const sd1 = new Map(ldmTensorSpecs(SD15).map((s) => [s.name, s.shape]));
  const sd2 = new Map(ldmTensorSpecs(SD21).map((s) => [s.name, s.shape]));

  it.each(realExcerpts.ldm_unet.map((r) => [r.key, r] as const))('%s', (_key, row) => {
    expect(sd1.get(row.key)).toEqual(row.sd1);
    expect(sd2.get(row.key)).toEqual(row.sd2);
  });

  it("diffusers names and shapes of real SD 1.x and SD 2.x UNets; SD 2.x's heads and text keys", () => {
    const p1 = plan(SD15);
    const p2 = plan(SD21);
    for (const [name, shape] of Object.entries(realExcerpts.diffusers_unet_sd1.shapes)) expect([name, ref(p1, 'unet', name).shape]).toEqual([name, shape]);
    for (const [name, shape] of Object.entries(realExcerpts.diffusers_unet_sd2.shapes)) expect([name, ref(p2, 'unet', name).shape]).toEqual([name, shape]);
    const { heads, context } = realExcerpts.sd2_heads;
    expect(p2.unet.heads).toEqual(p2.unet.blockChannels.map((c) => heads[String(c) as keyof typeof heads]));
    expect(p2.unet.contextDim).toBe(context);
    for (const key of realExcerpts.sd2_text_key_names.keys) expect(sd2.has(key)).toBe(true);
  });
});

describe('planCheckpoint: full-size SD 1.5', () => {
  const specs = ldmTensorSpecs(SD15);
  const p = planSpecs(specs);

  it('family, prediction and the architecture read from shapes', () => {
    expect(p).toMatchObject({ family: 'sd1', inpainting: false, prediction: 'epsilon' });
    expect(p.text).toEqual({
      kind: 'clip', width: 768, heads: 12, layers: 12, layersUsed: 12, intermediate: 3072, vocab: 49408, positions: 77, activation: 'quick_gelu', eps: 1e-5,
    });
    expect(p.unet).toEqual({
      inChannels: 4, outChannels: 4, blockChannels: [320, 640, 1280, 1280], layersPerBlock: 2, attention: [true, true, true, false],
      transformerDepth: 1, heads: [8, 8, 8, 8], contextDim: 768, linearProjection: false, timeEmbedDim: 1280, groups: 32, resnetEps: 1e-5, transformerEps: 1e-6,
    });
    expect(p.vae).toEqual({ imageChannels: 3, latentChannels: 4, blockChannels: [128, 256, 512, 512], layersPerBlock: 2, groups: 32, eps: 1e-6, scalingFactor: 0.18215 });
  });

  it("maps every weight exactly once; parameter counts are diffusers' for SD 1.5", () => {
    expectEachKeyOnce(p, specs);
    expect(p.ignored).toBe(13); // 12 DDPM buffers + position_ids
    // CLIPTextModel (ViT-L/14), UNet2DConditionModel and AutoencoderKL of runwayml/stable-diffusion-v1-5.
    expect(parameters(p, 'text_encoder')).toBe(123_060_480);
    expect(parameters(p, 'unet')).toBe(859_520_964);
    expect(parameters(p, 'vae_encoder') + parameters(p, 'vae_decoder')).toBe(83_653_863);
    expect(p.weights.text_encoder.size).toBe(196);
    expect(p.weights.unet.size).toBe(686);
    expect(p.weights.vae_encoder.size + p.weights.vae_decoder.size).toBe(248);
  });

  it('UNet names: flat LDM blocks → levels, skip widths, upsamplers after the attention', () => {
    const u = 'model.diffusion_model.';
    expect(ref(p, 'unet', 'conv_in.weight')).toMatchObject({ key: `${u}input_blocks.0.0.weight`, shape: [320, 4, 3, 3] });
    expect(ref(p, 'unet', 'time_embedding.linear_2.weight')).toMatchObject({ key: `${u}time_embed.2.weight`, shape: [1280, 1280] });
    expect(ref(p, 'unet', 'down_blocks.1.resnets.0.conv_shortcut.weight')).toMatchObject({ key: `${u}input_blocks.4.0.skip_connection.weight`, shape: [640, 320, 1, 1] });
    expect(ref(p, 'unet', 'down_blocks.2.downsamplers.0.conv.weight').key).toBe(`${u}input_blocks.9.0.op.weight`);
    expect(ref(p, 'unet', 'down_blocks.3.resnets.1.time_emb_proj.weight')).toMatchObject({ key: `${u}input_blocks.11.0.emb_layers.1.weight`, shape: [1280, 1280] });
    expect(ref(p, 'unet', 'mid_block.resnets.1.norm2.bias').key).toBe(`${u}middle_block.2.out_layers.0.bias`);
    expect(ref(p, 'unet', 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toMatchObject({ key: `${u}middle_block.1.transformer_blocks.0.attn2.to_k.weight`, shape: [1280, 768] });
    expect(ref(p, 'unet', 'up_blocks.0.upsamplers.0.conv.weight').key).toBe(`${u}output_blocks.2.1.conv.weight`);
    expect(ref(p, 'unet', 'up_blocks.1.upsamplers.0.conv.weight').key).toBe(`${u}output_blocks.5.2.conv.weight`);
    expect(ref(p, 'unet', 'up_blocks.1.resnets.0.conv1.weight')).toMatchObject({ key: `${u}output_blocks.3.0.in_layers.2.weight`, shape: [1280, 2560, 3, 3] });
    expect(ref(p, 'unet', 'up_blocks.2.resnets.2.conv1.weight').shape).toEqual([640, 960, 3, 3]);
    expect(ref(p, 'unet', 'up_blocks.3.resnets.0.conv_shortcut.weight').shape).toEqual([320, 960, 1, 1]);
    expect(ref(p, 'unet', 'up_blocks.3.attentions.2.proj_out.weight')).toMatchObject({ key: `${u}output_blocks.11.1.proj_out.weight`, shape: [320, 320, 1, 1] });
    expect(ref(p, 'unet', 'up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj.weight').shape).toEqual([2560, 320]);
    expect(ref(p, 'unet', 'conv_out.weight')).toMatchObject({ key: `${u}out.2.weight`, shape: [4, 320, 3, 3] });
    expect(p.weights.unet.has('up_blocks.0.attentions.0.norm.weight')).toBe(false);
    expect(p.weights.unet.has('up_blocks.3.upsamplers.0.conv.weight')).toBe(false);
  });

  it('VAE names: decoder up.i is up_blocks.(3−i); mid attention 1×1 convs read as Linear', () => {
    const v = 'first_stage_model.';
    // Pairs as diffusers' converter maps them (also checked in other projects' conversion tests).
    expect(ref(p, 'vae_decoder', 'decoder.up_blocks.0.upsamplers.0.conv.bias').key).toBe(`${v}decoder.up.3.upsample.conv.bias`);
    expect(ref(p, 'vae_decoder', 'decoder.up_blocks.3.resnets.2.norm2.bias').key).toBe(`${v}decoder.up.0.block.2.norm2.bias`);
    expect(ref(p, 'vae_encoder', 'encoder.down_blocks.2.resnets.0.conv_shortcut.weight')).toMatchObject({ key: `${v}encoder.down.2.block.0.nin_shortcut.weight`, shape: [512, 256, 1, 1] });
    expect(ref(p, 'vae_decoder', 'decoder.up_blocks.2.resnets.0.conv_shortcut.weight')).toMatchObject({ key: `${v}decoder.up.1.block.0.nin_shortcut.weight`, shape: [256, 512, 1, 1] });
    const file = new Map(headerOf(specs).tensors.map((t) => [t.name, t]));
    const toQ = ref(p, 'vae_encoder', 'encoder.mid_block.attentions.0.to_q.weight');
    expect(toQ).toMatchObject({ key: `${v}encoder.mid.attn_1.q.weight`, shape: [512, 512] });
    expect([toQ.begin, toQ.end]).toEqual([file.get(toQ.key)!.begin, file.get(toQ.key)!.end]);
    expect(ref(p, 'vae_decoder', 'decoder.mid_block.attentions.0.to_out.0.weight').key).toBe(`${v}decoder.mid.attn_1.proj_out.weight`);
    expect(ref(p, 'vae_decoder', 'decoder.mid_block.attentions.0.group_norm.weight').key).toBe(`${v}decoder.mid.attn_1.norm.weight`);
    expect(ref(p, 'vae_encoder', 'quant_conv.weight').shape).toEqual([8, 8, 1, 1]);
    expect(ref(p, 'vae_decoder', 'post_quant_conv.weight').shape).toEqual([4, 4, 1, 1]);
    expect([...p.weights.vae_encoder.keys()].every((k) => /^(encoder\.|quant_conv\.)/.test(k))).toBe(true);
    expect([...p.weights.vae_decoder.keys()].every((k) => /^(decoder\.|post_quant_conv\.)/.test(k))).toBe(true);
  });

  it("text encoder names are CLIPTextModel's", () => {
    const t = 'cond_stage_model.transformer.text_model.';
    expect(ref(p, 'text_encoder', 'text_model.embeddings.token_embedding.weight')).toMatchObject({ key: `${t}embeddings.token_embedding.weight`, shape: [49408, 768] });
    expect(ref(p, 'text_encoder', 'text_model.encoder.layers.0.self_attn.q_proj.weight').key).toBe(`${t}encoder.layers.0.self_attn.q_proj.weight`);
    expect(ref(p, 'text_encoder', 'text_model.final_layer_norm.weight').key).toBe(`${t}final_layer_norm.weight`);
  });

  it('EMA copies and the old CLIP layout without text_model.', () => {
    const withEma = ldmTensorSpecs({ ...SD15, ema: true });
    const ema = planSpecs(withEma);
    expect(ema.ignored).toBe(13 + 686 + 2);
    expectEachKeyOnce(ema, withEma);

    const old = specs.map((s) => ({ ...s, name: s.name.replace('cond_stage_model.transformer.text_model.', 'cond_stage_model.transformer.') }));
    const p2 = planSpecs(old);
    expect(p2.text).toEqual(p.text);
    expect(ref(p2, 'text_encoder', 'text_model.encoder.layers.11.mlp.fc2.weight').key).toBe('cond_stage_model.transformer.encoder.layers.11.mlp.fc2.weight');
  });
});

describe('planCheckpoint: full-size SD 2.1 (768-v) and SD 1.5 inpainting', () => {
  const specs = ldmTensorSpecs(SD21);
  const p = planSpecs(specs);

  it('family from key names, heads from channels / 64, the penultimate text layer', () => {
    expect(p).toMatchObject({ family: 'sd2', inpainting: false, prediction: 'v_prediction' });
    expect(p.text).toMatchObject({ kind: 'open_clip', width: 1024, heads: 16, layers: 24, layersUsed: 23, intermediate: 4096, vocab: 49408, positions: 77, activation: 'gelu' });
    expect(p.unet).toMatchObject({ blockChannels: [320, 640, 1280, 1280], attention: [true, true, true, false], heads: [5, 10, 20, 20], contextDim: 1024, linearProjection: true });
    expect(ref(p, 'unet', 'down_blocks.0.attentions.0.proj_in.weight').shape).toEqual([320, 320]);
  });

  it("maps every used weight once; parameter counts are diffusers' for SD 2.1", () => {
    expectEachKeyOnce(p, specs);
    // 12 DDPM buffers, text_projection, logit_scale, and the 12 tensors of the unused 24th layer.
    expect(p.ignored).toBe(12 + 2 + 12);
    expect(parameters(p, 'text_encoder')).toBe(340_387_840);
    expect(parameters(p, 'unet')).toBe(865_910_724);
    expect(parameters(p, 'vae_encoder') + parameters(p, 'vae_decoder')).toBe(83_653_863);
    expect([...p.weights.text_encoder.keys()].some((k) => k.includes('layers.23.'))).toBe(false);
  });

  it("OpenCLIP's fused in_proj: q, k, v as consecutive row ranges", () => {
    const file = new Map(headerOf(specs).tensors.map((t) => [t.name, t]));
    const key = 'cond_stage_model.model.transformer.resblocks.5.attn.in_proj_weight';
    const whole = file.get(key)!;
    const part = 1024 * 1024 * 2;
    ['q_proj', 'k_proj', 'v_proj'].forEach((name, i) => {
      expect(ref(p, 'text_encoder', `text_model.encoder.layers.5.self_attn.${name}.weight`)).toEqual({ key, dtype: 'F16', shape: [1024, 1024], begin: whole.begin + i * part, end: whole.begin + (i + 1) * part });
      const bias = ref(p, 'text_encoder', `text_model.encoder.layers.5.self_attn.${name}.bias`);
      expect(bias).toMatchObject({ shape: [1024], begin: file.get(key.replace('weight', 'bias'))!.begin + i * 2048 });
    });
    expect(ref(p, 'text_encoder', 'text_model.embeddings.position_embedding.weight').key).toBe('cond_stage_model.model.positional_embedding');
    expect(ref(p, 'text_encoder', 'text_model.final_layer_norm.bias').key).toBe('cond_stage_model.model.ln_final.bias');
    expect(ref(p, 'text_encoder', 'text_model.encoder.layers.22.mlp.fc1.weight')).toMatchObject({ key: 'cond_stage_model.model.transformer.resblocks.22.mlp.c_fc.weight', shape: [4096, 1024] });
  });

  it('SD 1.5 inpainting: 9 input channels', () => {
    const inpaint = plan(SD15_INPAINTING);
    expect(inpaint).toMatchObject({ family: 'sd1', inpainting: true, prediction: 'epsilon' });
    expect(inpaint.unet.inChannels).toBe(9);
    expect(ref(inpaint, 'unet', 'conv_in.weight').shape).toEqual([320, 9, 3, 3]);
    expect(parameters(inpaint, 'unet')).toBe(859_535_364);
    expect(plan({ ...SD21, unet: { ...SD21.unet, inChannels: 9 } })).toMatchObject({ family: 'sd2', inpainting: true, prediction: 'epsilon' });
  });
});

describe('planCheckpoint: tiny checkpoints from the factory', () => {
  const read = async (bytes: Uint8Array<ArrayBuffer>) => readSafetensorsHeader(new Blob([bytes]));

  it.each(['F16', 'F32'] as const)('SD 1.x style, %s, read back from the file', async (dtype) => {
    const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1'), dtype), 7);
    const header = await read(bytes);
    const p = planCheckpoint(header, 'tiny.safetensors');
    expect(p).toMatchObject({ family: 'sd1', inpainting: false });
    expect(p.text).toMatchObject({ width: 32, heads: 1, layers: 2, layersUsed: 2, intermediate: 128, vocab: 49408 });
    expect(p.unet).toMatchObject({ blockChannels: [32, 64], layersPerBlock: 1, attention: [true, false], heads: [8, 8], contextDim: 32, linearProjection: false, timeEmbedDim: 128 });
    expect(p.vae).toMatchObject({ blockChannels: [32, 64], layersPerBlock: 1 });
    for (const c of CHECKPOINT_COMPONENTS) for (const r of p.weights[c].values()) expect(r.dtype).toBe(dtype);
    expectEachKeyOnce(p, ldmTensorSpecs(tinyLdmConfig('sd1'), dtype));
    // A ref's bytes are where the header says (data section after 8 + header bytes).
    const r = ref(p, 'unet', 'mid_block.attentions.0.proj_in.weight');
    const t = header.tensors.find((x) => x.name === r.key)!;
    expect([r.begin, r.end]).toEqual([t.begin, t.end]);
  });

  it('SD 2.x style: row slices of in_proj_weight hold exactly the q, k, v rows', async () => {
    const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd2'), 'F32'), 3);
    const header = await read(bytes);
    const p = planCheckpoint(header);
    expect(p).toMatchObject({ family: 'sd2', prediction: 'v_prediction' });
    expect(p.text).toMatchObject({ kind: 'open_clip', width: 32, heads: 1, layers: 2, layersUsed: 1 });
    expect(p.unet).toMatchObject({ heads: [1, 1], linearProjection: true });
    const data = bytes.subarray(8 + header.headerBytes);
    const fused = header.tensors.find((t) => t.name === 'cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight')!;
    const rows = new Float32Array(data.slice(fused.begin, fused.end).buffer); // [96, 32]
    ['q_proj', 'k_proj', 'v_proj'].forEach((name, i) => {
      const r = ref(p, 'text_encoder', `text_model.encoder.layers.0.self_attn.${name}.weight`);
      expect(r.shape).toEqual([32, 32]);
      expect(new Float32Array(data.slice(r.begin, r.end).buffer)).toEqual(rows.subarray(i * 32 * 32, (i + 1) * 32 * 32));
    });
  });

  it('inpainting, BF16 (kept in the plan for the builder to convert), a smaller vocabulary', async () => {
    const p = planCheckpoint(await read(ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1', { inChannels: 9, vocab: 1000 }), 'BF16'))));
    expect(p).toMatchObject({ inpainting: true, text: { vocab: 1000 } });
    expect(ref(p, 'unet', 'conv_in.weight').dtype).toBe('BF16');
  });
});

describe('classifySafetensorsHeader (the classifier the reader shares with the registry)', () => {
  it('decides the family from key names, whatever the widths', () => {
    // Tiny SD 2.x: 32-wide cross-attention, which no width rule would call SD 2.x.
    expect(classifySafetensorsHeader(headerOf(ldmTensorSpecs(tinyLdmConfig('sd2'))), 'x.safetensors')).toEqual({ kind: 'checkpoint', family: 'sd2', inpainting: false });
    const sd1Wide = ldmTensorSpecs({ ...tinyLdmConfig('sd1'), unet: { ...tinyLdmConfig('sd1').unet, context: 1024 } });
    expect(classifySafetensorsHeader(headerOf(sd1Wide), 'x.safetensors')).toMatchObject({ family: 'sd1' });
    expect(classifySafetensorsHeader(headerOf(ldmTensorSpecs(tinyLdmConfig('sd1', { inChannels: 9 }))), 'x.safetensors')).toMatchObject({ inpainting: true });
  });

  it("without the data bytes a LoRA's alpha comes from its metadata", async () => {
    const header = await readSafetensorsHeader(new Blob([st.kohyaLora({ alpha: 2, metadataAlpha: '16' })]));
    expect(classifySafetensorsHeader(header, 'l.safetensors')).toMatchObject({ kind: 'lora', alpha: 16, alpha_source: 'metadata' });
  });
});

describe('planCheckpoint: what it refuses, and why', () => {
  const tiny = () => ldmTensorSpecs(tinyLdmConfig('sd1'));
  const refuse = (specs: LdmTensorSpec[]) => () => planSpecs(specs);
  const fromFile = async (bytes: Uint8Array<ArrayBuffer>, name: string) => planCheckpoint(await readSafetensorsHeader(new Blob([bytes])), name);

  it('a LoRA or an embedding says what it is', async () => {
    await expect(fromFile(st.kohyaLora(), 'style.safetensors')).rejects.toThrow(/^style\.safetensors is a LoRA \(3 adapted layers, rank 4\), not a checkpoint: import it as a LoRA/);
    await expect(fromFile(st.a1111Embedding(), 'dir/emb.safetensors')).rejects.toThrow(/^emb\.safetensors is a textual-inversion embedding \(2 vectors\), not a checkpoint/);
    await expect(fromFile(st.unknownModel(), 'bert.safetensors')).rejects.toThrow(/^bert\.safetensors is not a Stable Diffusion checkpoint: it is a safetensors file with 3 tensors/);
  });

  it('SDXL and other architectures are named', async () => {
    await expect(fromFile(st.sdxlCheckpoint(), 'xl.safetensors')).rejects.toThrow(/xl\.safetensors is an SDXL checkpoint .*only SD 1\.x and SD 2\.x/);
    const sd3 = [{ name: 'model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight', dtype: 'F16', shape: [4, 4] }];
    expect(refuse(sd3)).toThrow(/Stable Diffusion 3/);
    const noText = tiny().filter((s) => !s.name.startsWith('cond_stage_model.'));
    expect(refuse(noText)).toThrow(/without an SD 1\.x .* or SD 2\.x .* text encoder/);
  });

  it('a checkpoint saved without its VAE says so', () => {
    expect(refuse(tiny().filter((s) => !s.name.startsWith('first_stage_model.')))).toThrow(/^model\.safetensors has no VAE \(no first_stage_model\.\* tensors\)/);
  });

  it('VAE mid-block attention stored as Linear [c, c] (written back from diffusers) reads the same', () => {
    const linear = tiny().map((s) => (/mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(s.name) ? { ...s, shape: s.shape.slice(0, 2) } : s));
    const p = planSpecs(linear);
    expect(ref(p, 'vae_decoder', 'decoder.mid_block.attentions.0.to_v.weight').shape).toEqual([64, 64]);
    const wrong = tiny().map((s) => (s.name === 'first_stage_model.encoder.mid.attn_1.k.weight' ? { ...s, shape: [64, 32, 1, 1] } : s));
    expect(refuse(wrong)).toThrow("tensor 'first_stage_model.encoder.mid.attn_1.k.weight' has shape [64, 32, 1, 1]; expected [64, 64, 1, 1] or [64, 64]");
  });

  it('a missing key is named', () => {
    const key = 'model.diffusion_model.output_blocks.2.0.out_layers.3.weight';
    expect(refuse(tiny().filter((s) => s.name !== key))).toThrow(new CheckpointError(`tensor '${key}' is missing: the checkpoint is incomplete or not a standard SD 1.x/2.x model`));
    expect(refuse(tiny().filter((s) => !s.name.startsWith('first_stage_model.decoder.up.1.')))).toThrow(/tensor 'first_stage_model\.decoder\.up\.1\.block\.0\.norm1\.weight' is missing/);
  });

  it('a mis-shaped key: key, found and expected shape', () => {
    const key = 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_v.weight';
    const specs = tiny().map((s) => (s.name === key ? { ...s, shape: [32, 16] } : s));
    expect(refuse(specs)).toThrow(`tensor '${key}' has shape [32, 16]; expected [32, 32]`);
    const fused = 'cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight';
    const sd2 = ldmTensorSpecs(tinyLdmConfig('sd2')).map((s) => (s.name === fused ? { ...s, shape: [64, 32] } : s));
    expect(refuse(sd2)).toThrow(`tensor '${fused}' has shape [64, 32]; expected [96, 32]`);
  });

  it('float8 and other non-float weights are refused; float8 in an ignored key is not', () => {
    const key = 'model.diffusion_model.middle_block.0.in_layers.2.weight';
    expect(refuse(tiny().map((s) => (s.name === key ? { ...s, dtype: 'F8_E4M3' } : s)))).toThrow(
      `tensor '${key}' is float8 (F8_E4M3), which the studio cannot build from; use an fp16 or fp32 version of this checkpoint`,
    );
    expect(refuse(tiny().map((s) => (s.name === key ? { ...s, dtype: 'I32' } : s)))).toThrow(/is I32; weights must be F16, BF16 or F32/);
    const ema = ldmTensorSpecs({ ...tinyLdmConfig('sd1'), ema: true }).map((s) => (s.name.startsWith('model_ema.') ? { ...s, dtype: 'F8_E4M3' } : s));
    expect(() => planSpecs(ema)).not.toThrow();
  });

  it('weights an SD UNet or VAE does not have, and unsupported input widths', () => {
    const extra = [...tiny(), { name: 'model.diffusion_model.label_emb.0.0.weight', dtype: 'F16', shape: [128, 32] }];
    expect(refuse(extra)).toThrow(/^unexpected tensor 'model\.diffusion_model\.label_emb\.0\.0\.weight' in the UNet: an SD 1\.x\/2\.x UNet has no such weight/);
    const vaeAttn = [...tiny(), { name: 'first_stage_model.encoder.down.0.attn.0.q.weight', dtype: 'F16', shape: [32, 32, 1, 1] }];
    expect(refuse(vaeAttn)).toThrow(/unexpected tensor .* in the VAE/);
    const depth = tiny().map((s) => (s.name === 'model.diffusion_model.input_blocks.0.0.weight' ? { ...s, shape: [32, 5, 3, 3] } : s));
    expect(refuse(depth)).toThrow(/the UNet takes 5 input channels; only 4 \(text to image\) and 9 \(inpainting\) .*depth-to-image/);
    // A key outside the three components changes nothing that is built: counted, not refused.
    expect(planSpecs([...tiny(), { name: 'denoiser.sigmas', dtype: 'F32', shape: [1000] }]).ignored).toBe(13 + 1);
  });

  it("a truncated file fails in the header reader, with the reader's message", async () => {
    const bytes = ldmCheckpointBytes(tiny());
    await expect(fromFile(bytes.slice(0, 4000), 'cut.safetensors')).rejects.toThrow(SafetensorsError);
    await expect(fromFile(bytes.slice(0, 4000), 'cut.safetensors')).rejects.toThrow(/runs past the end of the file.*truncated/);
    await expect(fromFile(bytes.slice(0, bytes.length - 10), 'cut.safetensors')).rejects.toThrow(/run past the end of the data/);
  });
});
