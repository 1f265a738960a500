import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../src/media/decode-image';
import { encodePng } from '../../src/media/png';
import { ModelRegistry } from '../../src/registry/registry';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { JobRepository } from '../../src/storage/jobs';
import { ModelRepository } from '../../src/storage/models';
import { openStudioDb } from '../../src/storage/schema';
import { JobQueue } from '../../workers/job-queue';
import { ModelsService } from '../../workers/models-service';
import { NO_CHECKPOINT, OrtDiffusionProvider } from '../../workers/ort/diffusion-provider';
import { probeModel } from '../../workers/ort/probe';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';
import { createBoxUpscaler } from '../helpers/test-upscaler';
import { nodeOrt } from '../helpers/node-ort';

let n = 0;
function setup() {
  const db = openStudioDb({ name: `generate-job-${++n}` });
  const repo = new ModelRepository(db);
  const registry = new ModelRegistry(repo);
  const models = new ModelsService({ repo, registry, probe: (info, read) => probeModel(nodeOrt(), info, read, 'wasm') });
  const diffusion = new OrtDiffusionProvider({
    ort: async () => ({ ort: nodeOrt(), backend: 'wasm' }),
    listModels: () => repo.listModels(),
    reader: (info) => models.reader(info),
  });
  const artifacts = new ArtifactRepository(db);
  const queue = new JobQueue({
    jobs: new JobRepository(db),
    artifacts,
    upscalers: async () => ({ load: async (_m, f) => createBoxUpscaler(f), available: async () => [] }),
    diffusion: async () => diffusion,
    decodeImage: decodeImageFile,
    encodePng,
    backend: () => 'wasm',
  });
  return { models, queue, artifacts, diffusion };
}

const generate = (input: Record<string, unknown>) => ({
  pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { width: 64, height: 64, steps: 2 } }] },
  input_data: input,
});

describe('generate jobs on an imported checkpoint (worker side, Node)', () => {
  it('says how to get a model when none is registered; the queue goes on', async () => {
    const { queue } = setup();
    const result = await (await queue.submit(generate({ prompt: 'a cat' }), 'generate')).done;
    expect(result.success).toBe(false);
    expect(result.error).toContain(NO_CHECKPOINT);
  });

  it('imports a tiny folder, generates with a drawn seed that is recorded, and reproduces it', async () => {
    const { models, queue, artifacts, diffusion } = setup();
    const files = [...presetFiles('sd15-fp32-dynamic')].map(([path, bytes]) => ({ path: `tiny/${path}`, file: new Blob([bytes as Uint8Array<ArrayBuffer>]) }));
    const scan = await models.scan(files as never);
    const [outcome] = await models.import(scan.scan_id, [{ index: 0 }]);
    expect(outcome.model?.status).toBe('verified');

    const first = await (await queue.submit(generate({ prompt: 'a cat' }), 'generate')).done;
    expect(first.error).toBeNull();
    const seed = first.data.seed as number;
    expect(Number.isInteger(seed)).toBe(true);
    expect(first.metadata.text_to_image).toMatchObject({ model: 'tiny', seed, steps: 2 });
    const again = await (await queue.submit(generate({ prompt: 'a cat', seed }), 'generate')).done;
    const blob = async (id: string) => Buffer.from(await (await artifacts.getBlob(id))!.arrayBuffer());
    const { decodePng } = await import('../../src/media/png');
    const pixels = async (id: string) => Buffer.from(decodePng(new Uint8Array(await blob(id))).data);
    expect((await pixels(again.artifacts[0])).equals(await pixels(first.artifacts[0]))).toBe(true);

    // The PNG carries A1111's parameters and our JSON.
    const { readPngTextChunks } = await import('../../src/media/png-text');
    const { parseInfotext } = await import('../../src/media/infotext');
    const chunks = readPngTextChunks(new Uint8Array(await blob(first.artifacts[0])));
    const params = parseInfotext(chunks.find((c) => c.keyword === 'parameters')!.text);
    expect(params.prompt).toBe('a cat');
    // A1111's "Model hash" (AutoV2 style): the first 10 hex digits of the UNet file's SHA-256.
    const unetSha = outcome.model!.components.find((c) => c.role === 'unet')!.sha256;
    expect(params.params).toMatchObject({ Steps: '2', Seed: String(seed), Size: '64x64', Model: 'tiny', 'Model hash': unetSha.slice(0, 10) });
    const ours = JSON.parse(chunks.find((c) => c.keyword === 'media-lab')!.text);
    expect(ours).toMatchObject({ stage_type: 'text_to_image', seed, rng: expect.any(String), model_hashes: { unet: unetSha } });
    // The whole job rides along: its pipeline and inputs, with the drawn seed.
    expect(ours.job).toEqual({ pipeline_config: generate({ prompt: 'a cat' }).pipeline_config, input_data: { prompt: 'a cat', seed } });

    const wrong = await (await queue.submit(generate({ prompt: 'a cat', model: 'nope' }), 'generate')).done;
    expect(wrong.error).toMatch(/no model named 'nope'/);
    await diffusion.release();
  });
});
