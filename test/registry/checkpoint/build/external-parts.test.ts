/**
 * External data split into parts under the browser's ArrayBuffer limit (a converted folder's
 * `model.onnx_data` is onnx-folder.test.ts's).
 */
import { describe, expect, it } from 'vitest';
import { buildVaeEncoder, planExternalParts } from '../../../../src/registry/checkpoint/build';
import { encodeModel } from '../../../../src/registry/convert/onnx-build';
import { tinyCheckpoint } from '../../../helpers/tiny-checkpoint-plan';
import { relativeError, runBuilt } from '../../../helpers/run-built-model';
import { randomT } from '../../../helpers/nn-reference';
import { nodeOrt } from '../../../helpers/node-ort';

describe('planExternalParts', () => {
  it('groups tensors in file order into parts no larger than the limit', () => {
    const ref = (key: string, begin: number, end: number) => ({ key, dtype: 'F32' as const, shape: [(end - begin) / 4], begin, end });
    const refs = [ref('c', 200, 300), ref('a', 0, 100), ref('b', 100, 200), ref('d', 300, 360)];
    const plan = planExternalParts(refs, { location: 'w', dataOffset: 16, maxBytes: 200 });
    expect(plan.parts).toEqual([
      { location: 'w.0', begin: 16, end: 216 },
      { location: 'w.1', begin: 216, end: 376 },
    ]);
    expect(plan.locate(refs[0])).toEqual({ location: 'w.1', offset: 0 });
    expect(plan.locate(refs[3])).toEqual({ location: 'w.1', offset: 100 });
    expect(planExternalParts(refs, { location: 'w', dataOffset: 16 }).parts).toEqual([{ location: 'w', begin: 16, end: 376 }]);
    expect(() => planExternalParts(refs, { location: 'w', dataOffset: 0, maxBytes: 50 })).toThrow(/larger than one external-data part/);
  });

  it("starts a new part where other tensors' bytes lie between two of its own (the VAE decoder's post_quant_conv after the encoder)", () => {
    const ref = (key: string, begin: number, end: number) => ({ key, dtype: 'F32' as const, shape: [(end - begin) / 4], begin, end });
    const decoder = [ref('decoder.conv_in', 0, 100), ref('decoder.conv_out', 100, 200), ref('post_quant_conv', 5_000, 5_040)];
    expect(planExternalParts(decoder, { location: 'w', dataOffset: 0, maxGap: 1000 }).parts).toEqual([
      { location: 'w.0', begin: 0, end: 200 },
      { location: 'w.1', begin: 5_000, end: 5_040 },
    ]);
    // A small gap (alignment, an ignored buffer) stays inside the part.
    expect(planExternalParts(decoder, { location: 'w', dataOffset: 0, maxGap: 4_800 }).parts).toEqual([{ location: 'w', begin: 0, end: 5_040 }]);
  });

  it('a model built over several parts runs as over the whole file', async () => {
    const { plan, files } = tinyCheckpoint({ seed: 3 });
    const ck = files.vae_encoder;
    const file = ck.file();
    const parts = planExternalParts(plan.weights.vae_encoder.values(), { location: 'weights', dataOffset: ck.headerBytes, maxBytes: 256 * 1024 });
    expect(parts.parts.length).toBeGreaterThan(3);
    const split = buildVaeEncoder(plan, { locate: parts.locate });
    const image = randomT(ck.random, [1, 3, 16, 16]);
    const ort = nodeOrt();
    const session = await ort.InferenceSession.create(encodeModel(split.model), {
      executionProviders: ['wasm'],
      externalData: parts.parts.map((p) => ({ path: p.location, data: file.slice(p.begin, p.end) })),
    });
    const out = await session.run({ sample: new ort.Tensor('float32', Float32Array.from(image.data), image.dims) });
    const splitResult = (await out.latent_parameters.getData()) as Float32Array;
    await session.release();
    const whole = await runBuilt(buildVaeEncoder(plan, { locate: ck.source().locate }).model, file, { sample: { type: 'float32', data: image.data, dims: image.dims } });
    expect(relativeError(splitResult, whole.latent_parameters.data)).toBe(0);
  });
});
