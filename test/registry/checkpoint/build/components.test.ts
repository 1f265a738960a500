/**
 * The four components built from tiny hand-made plans (SD 1.x and SD 2.x styles, float32 and
 * float16 weights) against float64 references composed from the block references: optimum's I/O
 * names, types and dynamic dims, diffusers' module paths as node names, the numbers.
 */
import { describe, expect, it } from 'vitest';
import onnxProto, { type onnx } from 'onnx-proto';
import { buildTextEncoder, buildUnet, buildVaeDecoder, buildVaeEncoder } from '../../../../src/registry/checkpoint/build';
import { encodeModel } from '../../../../src/registry/convert/onnx-build';
import { tinyCheckpoint } from '../../../helpers/tiny-checkpoint-plan';
import { relativeError, runBuilt } from '../../../helpers/run-built-model';
import { randomT } from '../../../helpers/nn-reference';
import { fromFloat16Array, toFloat16Array } from '../../../../src/pipeline/float16';
import { textEncoderRef, unetRef, vaeDecoderRef, vaeEncoderRef } from '../../../helpers/component-reference';

const { DataType } = onnxProto.onnx.TensorProto;
const TOLERANCE = 1e-4;

function signature(list: onnx.IValueInfoProto[] | null | undefined) {
  return (list ?? []).map((v) => ({
    name: v.name,
    type: v.type!.tensorType!.elemType,
    dims: v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)),
  }));
}
const nodeNames = (m: onnx.IModelProto) => new Set(m.graph!.node!.map((n) => n.name!));

for (const family of ['sd1', 'sd2'] as const) {
  for (const dtype of ['F32', 'F16'] as const) {
    describe(`${family} components, ${dtype} weights`, () => {
      const { plan, files } = tinyCheckpoint({ family, dtype });

      it('text encoder: input_ids int32 → last_hidden_state (final_layer_norm after layersUsed layers)', async () => {
        const ck = files.text_encoder;
        const built = buildTextEncoder(plan, { locate: ck.source().locate });
        expect(signature(built.model.graph!.input)).toEqual([{ name: 'input_ids', type: DataType.INT32, dims: ['batch_size', 'sequence_length'] }]);
        expect(signature(built.model.graph!.output)).toEqual([
          { name: 'last_hidden_state', type: DataType.FLOAT, dims: ['batch_size', 'sequence_length', 32] },
          { name: 'pooler_output', type: DataType.FLOAT, dims: ['batch_size', 32] },
        ]);
        expect(nodeNames(built.model)).toContain('/text_model/encoder/layers.0/self_attn/q_proj/MatMul');
        // open_clip: the penultimate layer's output, so the last layer's weights are never read.
        const usesLast = built.externalRanges.some((r) => r.name.startsWith('text_model.encoder.layers.1.'));
        expect(usesLast).toBe(family === 'sd1');

        const dims: [number, number] = [2, 7];
        const ids = [49406, 320, 1125, 539, 49407, 49407, 49407, 49406, 3, 49407, 0, 0, 0, 0];
        const out = await runBuilt(built.model, ck.file(), { input_ids: { type: 'int32', data: ids, dims } });
        const expected = textEncoderRef(ck.params, plan.text, ids, dims);
        const err = relativeError(out.last_hidden_state.data, expected.data);
        expect(out.last_hidden_state.dims).toEqual([2, 7, 32]);
        expect(err).toBeLessThan(TOLERANCE);
        // pooler_output: the row at the first highest id.
        expect(Array.from(out.pooler_output.data.subarray(0, 32))).toEqual(Array.from(out.last_hidden_state.data.subarray(4 * 32, 5 * 32)));
        const allLayers = textEncoderRef(ck.params, { ...plan.text, layersUsed: 2 }, ids, dims);
        if (family === 'sd2') expect(relativeError(out.last_hidden_state.data, allLayers.data)).toBeGreaterThan(1e-2);
      });

      it('UNet: sample, timestep int64 [steps], encoder_hidden_states → out_sample', async () => {
        const ck = files.unet;
        const built = buildUnet(plan, { locate: ck.source().locate });
        expect(signature(built.model.graph!.input)).toEqual([
          { name: 'sample', type: DataType.FLOAT, dims: ['batch_size', 4, 'height', 'width'] },
          { name: 'timestep', type: DataType.INT64, dims: ['steps'] },
          { name: 'encoder_hidden_states', type: DataType.FLOAT, dims: ['batch_size', 'sequence_length', 32] },
        ]);
        expect(signature(built.model.graph!.output)).toEqual([{ name: 'out_sample', type: DataType.FLOAT, dims: ['batch_size', 4, 'height', 'width'] }]);
        const names = nodeNames(built.model);
        expect(names).toContain('/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul');
        expect(names).toContain('/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_out.0/MatMul');
        expect(names).toContain('/mid_block/resnets.1/conv2/Conv');
        // Every weight of the plan is used, each by one initializer of its own name.
        expect(new Set(built.externalRanges.map((r) => r.name))).toEqual(new Set(plan.weights.unet.keys()));
        // Deterministic: the same plan gives the same bytes (what a build cache can key on).
        expect(encodeModel(buildUnet(plan, { locate: ck.source().locate }).model)).toEqual(encodeModel(built.model));

        const sample = randomT(ck.random, [2, 4, 8, 8]);
        const context = randomT(ck.random, [2, 5, 32]);
        const t = [999, 41];
        const out = await runBuilt(built.model, ck.file(), {
          sample: { type: 'float32', data: sample.data, dims: sample.dims },
          timestep: { type: 'int64', data: t, dims: [2] },
          encoder_hidden_states: { type: 'float32', data: context.data, dims: context.dims },
        });
        const err = relativeError(out.out_sample.data, unetRef(ck.params, plan.unet, sample, t, context).data);
        expect(out.out_sample.dims).toEqual([2, 4, 8, 8]);
        expect(err).toBeLessThan(TOLERANCE);
      });

      it('VAE decoder: latent_sample → sample (×8)', async () => {
        const ck = files.vae_decoder;
        const built = buildVaeDecoder(plan, { locate: ck.source().locate });
        expect(signature(built.model.graph!.input)).toEqual([{ name: 'latent_sample', type: DataType.FLOAT, dims: ['batch_size', 4, 'height_latent', 'width_latent'] }]);
        expect(signature(built.model.graph!.output)).toEqual([{ name: 'sample', type: DataType.FLOAT, dims: ['batch_size', 3, 'height', 'width'] }]);
        expect(nodeNames(built.model)).toContain('/decoder/mid_block/attentions.0/to_q/MatMul');
        expect(new Set(built.externalRanges.map((r) => r.name))).toEqual(new Set(plan.weights.vae_decoder.keys()));
        const latent = randomT(ck.random, [1, 4, 4, 3], 3);
        const out = await runBuilt(built.model, ck.file(), { latent_sample: { type: 'float32', data: latent.data, dims: latent.dims } });
        const err = relativeError(out.sample.data, vaeDecoderRef(ck.params, plan.vae, latent).data);
        expect(out.sample.dims).toEqual([1, 3, 32, 24]);
        expect(err).toBeLessThan(TOLERANCE);
      });

      it('VAE encoder: sample → latent_parameters (mean | logvar, 8 channels)', async () => {
        const ck = files.vae_encoder;
        const built = buildVaeEncoder(plan, { locate: ck.source().locate });
        expect(signature(built.model.graph!.input)).toEqual([{ name: 'sample', type: DataType.FLOAT, dims: ['batch_size', 3, 'height', 'width'] }]);
        expect(signature(built.model.graph!.output)).toEqual([{ name: 'latent_parameters', type: DataType.FLOAT, dims: ['batch_size', 8, 'height_latent', 'width_latent'] }]);
        expect(new Set(built.externalRanges.map((r) => r.name))).toEqual(new Set(plan.weights.vae_encoder.keys()));
        const image = randomT(ck.random, [1, 3, 24, 32]);
        const out = await runBuilt(built.model, ck.file(), { sample: { type: 'float32', data: image.data, dims: image.dims } });
        const err = relativeError(out.latent_parameters.data, vaeEncoderRef(ck.params, plan.vae, image).data);
        expect(out.latent_parameters.dims).toEqual([1, 8, 3, 4]);
        expect(err).toBeLessThan(TOLERANCE);
      });
    });
  }
}

describe('UNet shapes', () => {
  it('takes 9 input channels (inpainting) and latent sizes that are not a multiple of 2^levels', async () => {
    const { plan, files } = tinyCheckpoint({ inpainting: true });
    const ck = files.unet;
    const built = buildUnet(plan, { locate: ck.source().locate });
    expect(signature(built.model.graph!.input)[0].dims).toEqual(['batch_size', 9, 'height', 'width']);
    const sample = randomT(ck.random, [1, 9, 5, 7]);
    const context = randomT(ck.random, [1, 3, 32]);
    const out = await runBuilt(built.model, ck.file(), {
      sample: { type: 'float32', data: sample.data, dims: sample.dims },
      timestep: { type: 'int64', data: [500], dims: [1] },
      encoder_hidden_states: { type: 'float32', data: context.data, dims: context.dims },
    });
    expect(out.out_sample.dims).toEqual([1, 4, 5, 7]);
    expect(out.out_sample.data.every(Number.isFinite)).toBe(true);
  });
});

describe('float16 compute (as an fp16 export, for WebGPU)', () => {
  // float32 weights are cast to float16 in the graph; I/O is float16 except ids and timestep.
  const { plan, files } = tinyCheckpoint({ family: 'sd2', dtype: 'F32', seed: 2 });
  const FP16_TOLERANCE = 1e-2;

  it('text encoder and UNet declare float16 I/O and match the float64 reference to float16 precision', async () => {
    const te = buildTextEncoder(plan, { locate: files.text_encoder.source().locate, compute: 'float16' });
    expect(signature(te.model.graph!.input)[0].type).toBe(DataType.INT32);
    expect(signature(te.model.graph!.output)[0].type).toBe(DataType.FLOAT16);
    const ids = [49406, 1, 2, 3, 49407, 0];
    const text = await runBuilt(te.model, files.text_encoder.file(), { input_ids: { type: 'int32', data: ids, dims: [1, 6] } });
    const textErr = relativeError(text.last_hidden_state.data, textEncoderRef(files.text_encoder.params, plan.text, ids, [1, 6]).data);

    const unet = buildUnet(plan, { locate: files.unet.source().locate, compute: 'float16' });
    expect(signature(unet.model.graph!.input).map((i) => i.type)).toEqual([DataType.FLOAT16, DataType.INT64, DataType.FLOAT16]);
    const ck = files.unet;
    const sample = randomT(ck.random, [1, 4, 8, 8]);
    const context = randomT(ck.random, [1, 5, 32]);
    const out = await runBuilt(unet.model, ck.file(), {
      sample: { type: 'float16', data: sample.data, dims: sample.dims },
      timestep: { type: 'int64', data: [981], dims: [1] },
      encoder_hidden_states: { type: 'float16', data: context.data, dims: context.dims },
    });
    // The reference sees the float16-rounded inputs the graph saw.
    const round = (t: typeof sample) => ({ data: Float64Array.from(fromFloat16Array(toFloat16Array(Float32Array.from(t.data)))), dims: t.dims });
    const unetErr = relativeError(out.out_sample.data, unetRef(ck.params, plan.unet, round(sample), [981], round(context)).data);
    expect(textErr).toBeLessThan(FP16_TOLERANCE);
    expect(unetErr).toBeLessThan(FP16_TOLERANCE);
  });
});
