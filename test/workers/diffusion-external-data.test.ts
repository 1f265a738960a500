/**
 * The folder loader gives each component the external-data files its model.onnx names, and only
 * those: one `model.onnx_data` as optimum writes it, none for inline weights, several parts for
 * a checkpoint seen as a folder (test/registry/checkpoint/virtual-folder.test.ts). A file the
 * model names but the folder lacks is an error naming both.
 */
import { describe, expect, it } from 'vitest';
import { loadDiffusionModel } from '../../workers/ort/diffusion-model';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';
import { nodeOrt } from '../helpers/node-ort';

describe('external data of a model folder', () => {
  it("reads model.onnx_data only where a model's initializers point to it", async () => {
    // Only the UNet keeps its weights outside; a stray data file beside the text encoder is not read.
    const files = presetFiles('sd15-fp32-dynamic');
    expect(files.has('unet/model.onnx_data')).toBe(true);
    expect(files.has('text_encoder/model.onnx_data')).toBe(false);
    files.set('text_encoder/model.onnx_data', new Uint8Array(16));
    const reads: string[] = [];
    const model = await loadDiffusionModel(
      nodeOrt(),
      async (path) => {
        reads.push(path);
        return files.get(path);
      },
      'wasm',
    );
    await model.release();
    expect(reads.filter((p) => p.includes('onnx_data'))).toEqual(['unet/model.onnx_data']);
  });

  it('a data file the model names but the folder lacks: the component, the file, and what was opened is released', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    files.delete('unet/model.onnx_data');
    const ort = nodeOrt();
    const released: string[] = [];
    const create = ort.InferenceSession.create.bind(ort.InferenceSession);
    const counting = {
      ...ort,
      InferenceSession: {
        create: async (...args: Parameters<typeof create>) => {
          const session = await create(...args);
          const release = session.release.bind(session);
          session.release = async () => {
            released.push(session.inputNames.join(','));
            await release();
          };
          return session;
        },
      },
    } as typeof ort;
    await expect(loadDiffusionModel(counting, async (p) => files.get(p), 'wasm')).rejects.toThrow(
      'the UNet keeps its weights in unet/model.onnx_data, which the model folder lacks',
    );
    expect(released).toEqual(['input_ids']);
  });
});
