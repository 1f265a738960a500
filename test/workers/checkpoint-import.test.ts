// @vitest-environment node
/**
 * A single-file LDM checkpoint through the worker's side of the Models view and the job queue:
 * imported as its one stored file, verified by the probe (graphs built, then cached in IndexedDB),
 * generated from, its cache used on the next load, rebuilt when missing or damaged, dropped with
 * the model; files the builder cannot take refused with the reader's message, nothing stored.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../src/media/decode-image';
import { encodePng } from '../../src/media/png';
import type { JobEvent } from '../../src/protocol/events';
import { ModelRegistry } from '../../src/registry/registry';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { JobRepository } from '../../src/storage/jobs';
import { ModelGraphCache } from '../../src/storage/model-graphs';
import { ModelRepository } from '../../src/storage/models';
import { openStudioDb } from '../../src/storage/schema';
import { planCheckpoint } from '../../src/registry/checkpoint/ldm-keys';
import { inspectOnnx, sliceableBytes } from '../../src/registry/onnx-inspect';
import { CHECKPOINT_BUILDER_VERSION, checkpointReader, checkpointWeightsFor } from '../../workers/checkpoint-reader';
import { JobQueue } from '../../workers/job-queue';
import { ModelsService } from '../../workers/models-service';
import { OrtDiffusionProvider } from '../../workers/ort/diffusion-provider';
import { probeModel } from '../../workers/ort/probe';
import { headerOf, ldmCheckpointBytes, ldmTensorSpecs, SD15, tinyLdmConfig } from '../fixtures/ldm-checkpoint';
import * as st from '../fixtures/safetensors-builder';
import { createBoxUpscaler } from '../helpers/test-upscaler';
import { nodeOrt } from '../helpers/node-ort';

let n = 0;
function setup() {
  const db = openStudioDb({ name: `checkpoint-import-${++n}` });
  const repo = new ModelRepository(db);
  const graphs = new ModelGraphCache(db);
  const registry = new ModelRegistry(repo);
  const models = new ModelsService({ repo, registry, graphs, probe: (info, read) => probeModel(nodeOrt(), info, read, 'wasm') });
  const provider = () =>
    new OrtDiffusionProvider({
      ort: async () => ({ ort: nodeOrt(), backend: 'wasm' }),
      listModels: () => repo.listModels(),
      reader: (info, options) => models.reader(info, options),
    });
  const queue = (diffusion: OrtDiffusionProvider) =>
    new JobQueue({
      jobs: new JobRepository(db),
      artifacts: new ArtifactRepository(db),
      upscalers: async () => ({ load: async (_m, f) => createBoxUpscaler(f), available: async () => [] }),
      diffusion: async () => diffusion,
      decodeImage: decodeImageFile,
      encodePng,
      backend: () => 'wasm',
    });
  const count = async (store: 'models' | 'model_chunks' | 'model_graphs') => (await db).count(store);
  return { db, repo, graphs, registry, models, provider, queue, count };
}

const file = (name: string, bytes: Uint8Array) => ({ path: name, file: new File([bytes as Uint8Array<ArrayBuffer>], name) });
const tiny = (family: 'sd1' | 'sd2', dtype: 'F16' | 'F32', inChannels = 4) => ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig(family, { inChannels }), dtype), 3);

async function importOne(s: ReturnType<typeof setup>, name: string, bytes: Uint8Array) {
  const scan = await s.models.scan([file(name, bytes)]);
  expect(scan.models).toHaveLength(1);
  const progress: string[] = [];
  const [outcome] = await s.models.import(scan.scan_id, [{ index: 0 }], (p) => p.message && progress.push(p.message));
  return { scan, outcome, progress };
}

/** Runs a 2-step 64² generation; returns its result and the status lines the job reported. */
async function generate(queue: JobQueue) {
  const statuses: string[] = [];
  queue.subscribe((e: JobEvent) => e.type === 'status' && statuses.push(e.message));
  const request = { pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { width: 64, height: 64, steps: 2, seed: 5 } }] }, input_data: { prompt: 'a lighthouse' } };
  const result = await (await queue.submit(request, 'generate')).done;
  return { result, statuses };
}

describe('importing a single-file LDM checkpoint', () => {
  const cases = [
    { label: 'SD 1.x float16', family: 'sd1', dtype: 'F16', inChannels: 4, prediction: 'epsilon' },
    { label: 'SD 2.x float32', family: 'sd2', dtype: 'F32', inChannels: 4, prediction: 'v_prediction' },
    { label: 'SD 1.x inpainting', family: 'sd1', dtype: 'F16', inChannels: 9, prediction: 'epsilon' },
  ] as const;
  for (const c of cases) {
    it(`${c.label}: stored as its one file, its graphs built by the probe and cached`, async () => {
      const s = setup();
      const bytes = tiny(c.family, c.dtype, c.inChannels);
      const { scan, outcome, progress } = await importOne(s, 'my-model.safetensors', bytes);
      const proposal = scan.models[0];
      expect(proposal.problem).toBeNull();
      expect(proposal.model_type).toBe('checkpoint');
      expect(proposal.summary).toMatch(new RegExp(`Stable Diffusion ${c.family === 'sd1' ? '1' : '2'}\\.x${c.inChannels === 9 ? ' inpainting' : ''} single-file checkpoint`));
      expect(proposal.components.map((x) => [x.role, x.built ?? false])).toEqual([
        ['checkpoint_weights', false],
        ['text_encoder', true],
        ['unet', true],
        ['vae_decoder', true],
        ['vae_encoder', true],
      ]);

      expect(outcome.ok, outcome.error).toBe(true);
      const info = outcome.model!;
      expect(info).toMatchObject({ model_type: 'checkpoint', status: 'verified', file_size_bytes: bytes.byteLength });
      expect(info.family).toMatchObject({ family: c.family, prediction_type: c.prediction, pad_token_id: c.family === 'sd2' ? 0 : 49407 });
      expect(info.family!.sources.family).toMatch(/key names/);
      expect(info.metadata.inpainting).toBe(c.inChannels === 9);
      expect(info.components).toHaveLength(1);
      expect(info.components[0]).toMatchObject({ path: 'my-model.safetensors', role: 'checkpoint_weights', bytes: bytes.byteLength, dtype: c.dtype });
      // The probe built each graph once, saying so, and the row records how long each took.
      expect(progress.filter((m) => /^Building the /.test(m))).toEqual([
        'Building the text encoder from the checkpoint…',
        'Building the UNet from the checkpoint…',
        'Building the VAE decoder from the checkpoint…',
        'Building the VAE encoder from the checkpoint…',
      ]);
      expect(Object.keys(info.source!.build_ms).sort()).toEqual(['text_encoder/float32', 'unet/float32', 'vae_decoder/float32', 'vae_encoder/float32']);
      expect(await s.count('model_graphs')).toBe(4);
      expect(await s.count('model_chunks')).toBe(1);

      // Generating uses the cached graphs: no build, and an image comes out.
      const { result, statuses } = await generate(s.queue(s.provider()));
      expect(statuses).toEqual([]);
      if (c.inChannels === 9) {
        // Loaded (from the cache) and refused by the stage, as any inpainting checkpoint is.
        expect(result.error).toMatch(/inpainting model .* needs an image and a mask/);
        return;
      }
      expect(result.error).toBeNull();
      expect(result.artifacts).toHaveLength(1);
      // A1111's "Model hash" is the file's own (AutoV2), as A1111 computes it for this file.
      expect(result.metadata.text_to_image).toMatchObject({ model: 'my-model', model_hash: info.components[0].sha256.slice(0, 10) });
    }, 120_000);
  }

  it('a missing or damaged cache entry is rebuilt, the job saying so; the next load reads the cache', async () => {
    const s = setup();
    const { outcome } = await importOne(s, 'sd1.safetensors', tiny('sd1', 'F16'));
    const info = outcome.model!;
    const fileId = info.components[0].file_id;
    const db = await s.db;
    // Damage the UNet's graph and drop the VAE decoder's.
    const key = (component: string): [string, string, string, number] => [fileId, component, 'float32', CHECKPOINT_BUILDER_VERSION];
    const unet = await db.get('model_graphs', key('unet'));
    await db.put('model_graphs', { ...unet!, blob: new Blob([new Uint8Array(unet!.bytes).fill(7)]) });
    await db.delete('model_graphs', key('vae_decoder'));

    const first = await generate(s.queue(s.provider()));
    expect(first.result.error).toBeNull();
    expect(first.statuses).toEqual(['Building the UNet from the checkpoint…', 'Building the VAE decoder from the checkpoint…']);
    expect(await s.count('model_graphs')).toBe(4);
    const rebuilt = await db.get('model_graphs', key('unet'));
    expect(rebuilt!.sha256).toBe(unet!.sha256);

    // A fresh provider (a reloaded page): every graph from the cache.
    const second = await generate(s.queue(s.provider()));
    expect(second.result.error).toBeNull();
    expect(second.statuses).toEqual([]);
  }, 120_000);

  it('removing the model removes its cached graphs (another model keeps its own)', async () => {
    const s = setup();
    const a = (await importOne(s, 'a.safetensors', tiny('sd1', 'F16'))).outcome.model!;
    await importOne(s, 'b.safetensors', tiny('sd2', 'F16'));
    expect(await s.count('model_graphs')).toBe(8);
    expect(await s.registry.removeModel(a.name)).toBe(true);
    expect(await s.count('model_graphs')).toBe(4);
    expect(await s.graphs.count(a.components[0].file_id)).toBe(0);
    expect(await s.registry.clear()).toBe(1);
    expect(await s.count('model_graphs')).toBe(0);
  }, 120_000);
});

describe('the checkpoint reader', () => {
  it('reads byte ranges of the stored file, never the whole file at once', async () => {
    const bytes = tiny('sd1', 'F16');
    const s = setup();
    const { outcome } = await importOne(s, 'ranges.safetensors', bytes);
    const info = outcome.model!;
    const stored = await s.repo.readFile(info.components[0].file_id);
    const sizes: number[] = [];
    // A Blob whose slices note their size: what the reader asks for, and nothing more.
    const watched = {
      size: stored.size,
      slice: (begin?: number, end?: number) => {
        const part = stored.slice(begin, end);
        sizes.push(part.size);
        return part;
      },
    } as unknown as Blob;
    const read = checkpointReader(info, { readFile: async () => watched, compute: 'float32', backend: 'wasm' });
    const unet = await read('unet/model.onnx');
    expect(unet!.byteLength).toBeGreaterThan(0);
    const data = await read('unet/model.onnx_data');
    expect(data!.byteLength).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThan(bytes.byteLength / 2);
    expect(await read('scheduler/scheduler_config.json')).toBeDefined();
    expect(await read('nothing/here.json')).toBeUndefined();
  });
});

describe("a float32 checkpoint's weights: as in the file, or float16 copies", () => {
  const plan = (config: Parameters<typeof ldmTensorSpecs>[0], dtype: 'F16' | 'F32') => planCheckpoint(headerOf(ldmTensorSpecs(config, dtype)));

  it('auto: float16 copies on WebGPU, and on WASM when float32 would not fit its 4 GB; never for float16 files; a choice wins', () => {
    const fullF32 = plan(SD15, 'F32');
    expect(checkpointWeightsFor('auto', 'wasm', fullF32)).toEqual({ weights: 'float16', reason: "its float32 weights (4.3 GB) would not leave room in WASM's 4 GB" });
    expect(checkpointWeightsFor('auto', 'webgpu', fullF32).weights).toBe('float16');
    expect(checkpointWeightsFor('auto', 'wasm', plan(SD15, 'F16'))).toEqual({ weights: 'checkpoint', reason: "the file's weights are float16 already" });
    expect(checkpointWeightsFor('auto', 'webgpu', plan(SD15, 'F16')).weights).toBe('checkpoint');
    const tinyF32 = plan(tinyLdmConfig('sd1'), 'F32');
    expect(checkpointWeightsFor('auto', 'wasm', tinyF32).weights).toBe('checkpoint');
    expect(checkpointWeightsFor('auto', 'webgpu', tinyF32).weights).toBe('float16');
    expect(checkpointWeightsFor('checkpoint', 'wasm', fullF32)).toEqual({ weights: 'checkpoint', reason: 'chosen in the Models view' });
    expect(checkpointWeightsFor('float16', 'wasm', tinyF32).weights).toBe('float16');
  });

  it('chosen in the Models view: the next load converts (and says so), caches that graph apart, and generates', async () => {
    const s = setup();
    const { outcome } = await importOne(s, 'wide.safetensors', tiny('sd2', 'F32'));
    expect(outcome.model!.source!.weights).toBe('auto');
    const info = await s.models.update(outcome.model!.name, { checkpoint_weights: 'float16' });
    expect(info.source!.weights).toBe('float16');
    const statuses: string[] = [];
    const read = s.models.reader(info, { onStatus: (m) => statuses.push(m) });
    const unet = await inspectOnnx(sliceableBytes((await read('unet/model.onnx'))!));
    expect(unet.weightDtype).toBe('float16');
    await read('unet/model.onnx_data');
    expect(statuses).toEqual(['Building the UNet from the checkpoint…', "Converting the UNet's weights to float16…"]);
    // The probe's float32-weight graphs and this one are kept side by side.
    const rows = await (await s.db).getAll('model_graphs');
    expect(rows.filter((r) => r.component === 'unet').map((r) => r.compute).sort()).toEqual(['float32', 'float32+float16-weights']);
    expect((await s.repo.getModel(info.name))!.source!.build_ms).toHaveProperty(['unet/float32, float16 weights']);

    const { result } = await generate(s.queue(s.provider()));
    expect(result.success).toBe(true);
    // Back to automatic: the choice is stored, the rest of the source record kept.
    const reset = await s.registry.update(info.name, { checkpoint_weights: 'auto' });
    expect(reset.source).toMatchObject({ weights: 'auto', built: info.source!.built });
  }, 120_000);

  it('refused for a model that is not a single-file checkpoint', async () => {
    const s = setup();
    const lora = st.fileFrom(
      st.objectOf(st.entry('lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', 'F16', [4, 32], [0, 256]), st.entry('lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', 'F16', [32, 4], [256, 512])),
      new Uint8Array(512),
    );
    const { outcome } = await importOne(s, 'style.safetensors', lora);
    await expect(s.models.update(outcome.model!.name, { checkpoint_weights: 'float16' })).rejects.toThrow(
      "'style' is not a single-file checkpoint: only those can have their weights converted to float16",
    );
  });
});

describe('single-file checkpoints the builder cannot take: the reader says why, nothing is stored', () => {
  const specs = ldmTensorSpecs(tinyLdmConfig('sd1'), 'F16');
  const whole = ldmCheckpointBytes(specs, 3);
  const withoutKey = ldmCheckpointBytes(
    specs.filter((t) => t.name !== 'model.diffusion_model.out.2.weight'),
    3,
  );
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['an SDXL checkpoint', st.sdxlCheckpoint(), /an SDXL checkpoint .*only SD 1\.x and SD 2\.x checkpoints can be built here[\s\S]*export it to ONNX/],
    ['a checkpoint missing a UNet weight', withoutKey, /model\.diffusion_model\.out\.2\.weight/],
    ['a truncated checkpoint', whole.slice(0, whole.byteLength - 1000), /not a valid \.safetensors file: .*(truncated|past the end|data)/i],
  ];
  it.each(cases)('%s', async (_label, bytes, message) => {
    const s = setup();
    const scan = await s.models.scan([file('model.safetensors', bytes)]);
    expect(scan.models[0].problem).toMatch(message);
    const [outcome] = await s.models.import(scan.scan_id, [{ index: 0 }]);
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(message);
    expect(await s.count('models')).toBe(0);
    expect(await s.count('model_chunks')).toBe(0);
  });

  it('a LoRA registered as a checkpoint: the reader names it a LoRA', async () => {
    const s = setup();
    const outcome = await s.models.register([file('style.safetensors', st.kohyaLora({ alpha: 8 }))], 'checkpoint');
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/style\.safetensors is a LoRA .*not a checkpoint: import it as a LoRA/);
    expect(await s.count('models')).toBe(0);
    expect(await s.count('model_chunks')).toBe(0);
  });
});
