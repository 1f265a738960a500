/**
 * SD 1.5's full-size graphs, built over shape-only weights: the parameter counts match the
 * published model sizes (so the test plans' channel bookkeeping is diffusers'), and a build is
 * megabytes of graph, not gigabytes.
 */
import { describe, expect, it } from 'vitest';
import { buildTextEncoder, buildUnet, buildVaeDecoder, buildVaeEncoder, fileLocation } from '../../../../src/registry/checkpoint/build';
import { encodeModel } from '../../../../src/registry/convert/onnx-build';
import { sd15Plan, withShapeOnlyWeights } from '../../../helpers/tiny-checkpoint-plan';

const count = (refs: Iterable<{ shape: number[] }>) => [...refs].reduce((n, r) => n + r.shape.reduce((a, b) => a * b, 1), 0);

describe('SD 1.5 at full size (no weights)', () => {
  const plan = sd15Plan();
  withShapeOnlyWeights(plan);
  const locate = fileLocation('model.safetensors', 8 + 4096);

  it('has the published parameter counts: UNet 859,520,964, VAE 83,653,863, CLIP text 123,060,480', () => {
    expect(count(plan.weights.unet.values())).toBe(859_520_964);
    expect(count(plan.weights.vae_encoder.values()) + count(plan.weights.vae_decoder.values())).toBe(83_653_863);
    expect(count(plan.weights.text_encoder.values())).toBe(123_060_480);
  });

  it('builds each component as a few MB of graph that references every weight', () => {
    for (const [name, build] of [
      ['text_encoder', buildTextEncoder],
      ['unet', buildUnet],
      ['vae_decoder', buildVaeDecoder],
      ['vae_encoder', buildVaeEncoder],
    ] as const) {
      const built = build(plan, { locate });
      const bytes = encodeModel(built.model);
      expect(bytes.byteLength, name).toBeLessThan(4e6);
      expect(new Set(built.externalRanges.map((r) => r.name)), name).toEqual(new Set(plan.weights[name].keys()));
    }
  });
});
