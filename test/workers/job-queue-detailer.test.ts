import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../src/media/decode-image';
import { encodePng } from '../../src/media/png';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import type { DetectorProvider } from '../../src/pipeline/ports';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { JobRepository } from '../../src/storage/jobs';
import { openStudioDb } from '../../src/storage/schema';
import { JobQueue } from '../../workers/job-queue';
import { boxDetector, detectorProvider } from '../helpers/test-detector';

const astronautBytes = new Uint8Array(readFileSync(new URL('../fixtures/images/astronaut.png', import.meta.url)));
let dbCount = 0;

function setup(detectors?: DetectorProvider) {
  const db = openStudioDb({ name: `queue-detailer-test-${++dbCount}` });
  const jobs = new JobRepository(db);
  const queue = new JobQueue({
    jobs,
    artifacts: new ArtifactRepository(db),
    backend: () => 'test',
    decodeImage: decodeImageFile,
    encodePng,
    upscalers: async () => ({ load: async () => Promise.reject(new Error('none')), available: async () => [] }),
    diffusion: async () => ({ load: async () => Promise.reject(new Error('no checkpoint in this test')) }),
    ...(detectors ? { detectors: async () => detectors } : {}),
  });
  return { queue, jobs };
}

const file = (name: string, bytes: Uint8Array) => ({ name, type: 'image/png', bytes: bytes.slice().buffer });
const detail = (input: Record<string, unknown>) => ({
  pipeline_config: { stages: [{ stage_type: 'detailer', parameters: {} }] },
  input_data: { image_file: file('astronaut.png', astronautBytes), ...input },
});

describe('JobQueue: the detailer', () => {
  it('decodes mask_file into the mask (one with nothing painted: nothing to redraw) and stores it described, its PNG kept', async () => {
    const { queue, jobs } = setup();
    const blank = encodePng(opaqueBlack(64, 64));
    const { job_id, done } = await queue.submit(detail({ mask_file: file('mask.png', blank) }));
    const result = await done;
    expect(result.error).toMatch(/nothing to redraw/);
    const job = await jobs.get(job_id);
    // Described, with the mask's PNG kept so the job's mask can be restored.
    const stored = (job!.request as { input_data: Record<string, { png?: ArrayBuffer }> }).input_data.mask_file;
    expect(stored).toMatchObject({ name: 'mask.png', type: 'image/png', bytes: blank.byteLength });
    expect(Buffer.from(stored.png!).equals(Buffer.from(blank))).toBe(true);
  });

  it('an empty mask_file fails saying so', async () => {
    const { queue } = setup();
    const { done } = await queue.submit(detail({ mask_file: file('mask.png', new Uint8Array(0)) }));
    expect((await done).error).toMatch(/'mask.png' is empty/);
  });

  it('gives the stages the detectors: no face found, the image unchanged, the job succeeds', async () => {
    const detectors = detectorProvider({ face: [boxDetector({ width: 512, height: 512 }, [])] });
    const { queue } = setup(detectors);
    const { done } = await queue.submit(detail({}));
    const result = await done;
    expect(result.error).toBeNull();
    expect(detectors.asked).toEqual(['face']);
    expect(result.metadata.detailer).toMatchObject({ mode: 'detect', message: 'no face found' });
    expect(result.artifacts).toHaveLength(1);
  });
});

function opaqueBlack(width: number, height: number) {
  const img = createRgbaImage(width, height);
  for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
  return img;
}
