// @vitest-environment node
/**
 * The detailer with the real bundled BlazeFace (public/models, onnxruntime-web's WASM build in
 * Node) on astronaut.png, redrawing with a tiny checkpoint: one face found and redrawn, every
 * pixel outside its dilated and blurred box unchanged.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../../src/media/png';
import { blurMask, dilateMask } from '../../src/pipeline/image/mask';
import type { DetectorProvider, StageServices } from '../../src/pipeline/ports';
import { rectMask } from '../../src/pipeline/stages/detailer';
import type { Box } from '../../src/pipeline/detection/types';
import { Workbench } from '../../src/pipeline/workbench';
import type { DetailerMetadata } from '../../src/protocol/stage-results';
import type { LoadedDiffusionModel } from '../../workers/ort/diffusion-model';
import { OrtDetectorProvider } from '../../workers/ort/detector';
import { createMemorySink } from '../helpers/memory-sink';
import { modelsDir, nodeOrt } from '../helpers/node-ort';
import { loadTinyModel } from '../helpers/tiny-models';

const astronaut = () => decodePng(new Uint8Array(readFileSync(fileURLToPath(new URL('../fixtures/images/astronaut.png', import.meta.url)))));

let tiny: LoadedDiffusionModel;
let provider: OrtDetectorProvider;
beforeAll(async () => {
  tiny = await loadTinyModel('sd15-fp32-dynamic');
  provider = new OrtDetectorProvider({ ort: nodeOrt(), backend: 'wasm', readModelFile: async (file) => new Uint8Array(await readFile(`${modelsDir}${file}`)) });
});
afterAll(async () => {
  await tiny?.release();
  await provider?.release();
});

describe('detailer with the bundled BlazeFace', () => {
  it('astronaut.png: one face redrawn, nothing outside its mask changed', async () => {
    const image = astronaut();
    const sink = createMemorySink();
    const detectors: DetectorProvider = { load: (target) => provider.forClass(target) };
    const services: StageServices = {
      artifacts: sink,
      detectors,
      diffusion: { load: async (name) => ({ name: name ?? 'tiny', models: tiny, defaults: { steps: 4, guidance_scale: 7, scheduler: 'ddim', width: 64, height: 64 } }) },
    };
    const wb = new Workbench({ stages: [{ stage_type: 'detailer', parameters: { prompt: 'a face', seed: 3, steps: 4, confidence: 0.5 } }] });
    const result = await wb.execute({ image }, 'job', services);
    expect(result.error).toBeNull();
    const meta = result.metadata.detailer as DetailerMetadata;
    expect(meta.detectors).toEqual(['blazeface-back']);
    expect(meta.regions).toHaveLength(1);
    const region = meta.regions[0];
    expect(region.class).toBe('face');
    expect(region.score).toBeGreaterThan(0.8);
    const out = sink.saved[0].image;
    const mask = blurMask(dilateMask(rectMask(512, 512, region.box as Box), 4), 4);
    let changed = 0;
    for (let i = 0; i < mask.data.length; i++) {
      const same = [0, 1, 2, 3].every((c) => out.data[i * 4 + c] === image.data[i * 4 + c]);
      if (!same) {
        expect(mask.data[i], `pixel ${i % 512},${Math.floor(i / 512)} changed outside the mask`).toBeGreaterThan(0);
        changed++;
      }
    }
    expect(changed).toBeGreaterThan(500);
    // The crop: the face's blurred mask plus 32 px, squared for the 64×64 model, inside the image.
    const [x1, y1, x2, y2] = region.crop!;
    expect(x2 - x1).toBe(y2 - y1);
    expect(x1 <= region.box[0] && y1 <= region.box[1] && x2 >= region.box[2] && y2 >= region.box[3]).toBe(true);
  });
});
