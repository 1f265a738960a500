/**
 * The built components opened by the same code as an imported optimum folder
 * (loadDiffusionModel: each `<component>/model.onnx` with `model.onnx_data` beside it, here the
 * stand-in checkpoint file itself) and run through text-to-image and image-to-image in Node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTextEncoder, buildUnet, buildVaeDecoder, buildVaeEncoder, fileLocation } from '../../../../src/registry/checkpoint/build';
import type { BuildOptions, BuiltComponent } from '../../../../src/registry/checkpoint/build';
import type { CheckpointPlan } from '../../../../src/registry/checkpoint/architecture';
import { encodeModel } from '../../../../src/registry/convert/onnx-build';
import { imageToImage, textToImage } from '../../../../src/pipeline/diffusion/text-to-image';
import { createRgbaImage } from '../../../../src/pipeline/image/rgba';
import { loadDiffusionModel, type LoadedDiffusionModel } from '../../../../workers/ort/diffusion-model';
import { nodeOrt } from '../../../helpers/node-ort';
import { tinyCheckpoint } from '../../../helpers/tiny-checkpoint-plan';

const BUILDERS: Record<keyof CheckpointPlan['weights'], (plan: CheckpointPlan, o: BuildOptions) => BuiltComponent> = {
  text_encoder: buildTextEncoder,
  unet: buildUnet,
  vae_decoder: buildVaeDecoder,
  vae_encoder: buildVaeEncoder,
};

let model: LoadedDiffusionModel;
beforeAll(async () => {
  const { plan, files } = tinyCheckpoint({ family: 'sd1', dtype: 'F16' });
  const folder = new Map<string, Uint8Array>();
  for (const [dir, build] of Object.entries(BUILDERS) as Array<[keyof typeof BUILDERS, (typeof BUILDERS)['unet']]>) {
    const ck = files[dir];
    folder.set(`${dir}/model.onnx`, encodeModel(build(plan, { locate: fileLocation('model.onnx_data', ck.headerBytes) }).model));
    folder.set(`${dir}/model.onnx_data`, ck.file());
  }
  model = await loadDiffusionModel(nodeOrt(), async (path) => folder.get(path), 'wasm');
});
afterAll(async () => {
  await model?.release();
});

describe('built components through the diffusion ports', () => {
  it('are recognised: hidden size, 4 input channels, dynamic sizes', () => {
    expect(model.hiddenSize).toBe(32);
    expect(model.unet.inChannels).toBe(4);
    expect(model.unet.latentSize).toBeNull();
    expect(model.textEncoder.sequenceLength).toBeNull();
    expect(model.vaeEncoder).toBeDefined();
  });

  it('run a 2-step text-to-image and an image-to-image', async () => {
    const params = { prompt: 'a lighthouse at dusk', negative_prompt: '', width: 64, height: 64, seed: 3, steps: 2 };
    const image = await textToImage(model, params);
    expect(image.dims).toEqual([1, 3, 64, 64]);
    expect(image.data.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    const input = createRgbaImage(64, 64);
    input.data.fill(128);
    const refined = await imageToImage(model, { ...params, image: input, strength: 0.5 });
    expect(refined.dims).toEqual([1, 3, 64, 64]);
    expect(refined.data.every(Number.isFinite)).toBe(true);
  });
});
