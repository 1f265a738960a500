import { constantYolo, undecodableBoxes } from '../helpers/tiny-detectors';
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../src/protocol/models';
import { bundledModelInfo, BundledManifest } from '../../src/registry/bundled';
import { ModelRegistry } from '../../src/registry/registry';
import { PICKLE_REASON, type PickedFile } from '../../src/registry/scan';
import { ModelRepository } from '../../src/storage/models';
import { openStudioDb } from '../../src/storage/schema';
import { ModelsService } from '../../workers/models-service';
import { probeModel } from '../../workers/ort/probe';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';
import * as st from '../fixtures/safetensors-builder';
import { modelsDir, nodeOrt } from '../helpers/node-ort';

let n = 0;
const blob = (bytes: Uint8Array) => new Blob([bytes as Uint8Array<ArrayBuffer>]);
const picked = (path: string, bytes: Uint8Array): PickedFile => ({ path, file: blob(bytes) });
const esrgan = (scale: number) => new Uint8Array(readFileSync(`${modelsDir}esrgan-slim-x${scale}.onnx`));
const manifest = BundledManifest.parse(JSON.parse(readFileSync(`${modelsDir}models.json`, 'utf8')));

function folder(prefix: string, preset: Parameters<typeof presetFiles>[0] = 'sd15-fp32-dynamic'): PickedFile[] {
  return [...presetFiles(preset)].map(([path, bytes]) => picked(`${prefix}/${path}`, bytes));
}

function setup() {
  const db = openStudioDb({ name: `registry-${++n}` });
  const repo = new ModelRepository(db);
  const registry = new ModelRegistry(repo, {
    bundled: async () => manifest.models.map((m) => bundledModelInfo(m, '2026-01-01T00:00:00.000Z')),
    now: () => new Date('2026-11-24T10:00:00.000Z'),
  });
  const service = new ModelsService({
    repo,
    registry,
    probe: (info, read) => probeModel(nodeOrt(), info, read, 'wasm'),
  });
  return { repo, registry, service };
}

describe('scanning', () => {
  it('finds nothing in an empty folder', async () => {
    const { registry } = setup();
    expect(await registry.scanModels([])).toEqual({ analyzed: [], refused: [], ignored: [] });
  });

  it('finds checkpoints, LoRAs, embeddings and upscalers recursively, by content, reading headers only', async () => {
    const { registry } = setup();
    const { analyzed, refused, ignored } = await registry.scanModels([
      ...folder('models/sd15'),
      picked('loras/style/ink.safetensors', st.kohyaLora({ alpha: 8 })),
      picked('embeddings/bad-hands.safetensors', st.a1111Embedding()),
      picked('upscalers/my-x2.onnx', esrgan(2)),
      picked('old/v1-5.ckpt', new Uint8Array(64)),
      picked('readme.txt', new TextEncoder().encode('hi')),
    ]);
    expect(analyzed.map((a) => [a.proposal.name, a.proposal.model_type, a.proposal.problem])).toEqual([
      ['sd15', 'checkpoint', null],
      ['ink', 'lora', null],
      ['bad-hands', 'embedding', null],
      ['my-x2', 'upscaler', null],
    ]);
    const sd = analyzed[0];
    expect(sd.proposal.summary).toMatch(/Stable Diffusion 1\.x ONNX folder \(float32, 4 components/);
    expect(sd.family).toMatchObject({ family: 'sd1', pad_token_id: 49407 });
    expect(sd.proposal.components.map((c) => c.role).sort()).toEqual(
      ['config', 'external_data', 'scheduler_config', 'text_encoder', 'unet', 'vae_decoder', 'vae_encoder'].sort(),
    );
    expect(analyzed[1].proposal.summary).toMatch(/LoRA rank 4, alpha 8 \(kohya/);
    expect(analyzed[2].proposal.summary).toMatch(/2 tokens × 768/);
    expect(refused).toEqual([{ path: 'old/v1-5.ckpt', bytes: 64, reason: PICKLE_REASON }]);
    expect(ignored).toEqual(['readme.txt']);
  });

  it('avoids names already registered, bundled ones included', async () => {
    const { registry } = setup();
    const { analyzed } = await registry.scanModels([picked('esrgan-slim-x2.onnx', esrgan(2))]);
    expect(analyzed[0].proposal.name).toBe('esrgan-slim-x2-2');
  });
});

describe('refused inputs, each with a clear message', () => {
  const cases: Array<[string, PickedFile[], RegExp]> = [
    ['random bytes named .onnx', [picked('x.onnx', new Uint8Array(4096).map((_, i) => (i * 7919) % 251))], /not an ONNX model/],
    ['a truncated ONNX', [picked('x.onnx', esrgan(2).slice(0, 300_000))], /truncated|ends in the middle/],
    [
      'missing external data',
      folder('sd').filter((f) => !f.path.endsWith('model.onnx_data')),
      /keeps its weights in 'model\.onnx_data'.*not among the picked files/,
    ],
    ['a folder without a VAE decoder', folder('sd').filter((f) => !f.path.includes('vae_decoder')), /needs a text encoder, a UNet and a VAE decoder; this folder has no VAE decoder/],
    // The builder needs every weight: a file with a few of an SD 1.x checkpoint's keys is refused naming one missing.
    ['an incomplete single-file SD checkpoint', [picked('v1-5.safetensors', st.sd1Checkpoint())], /tensor 'cond_stage_model\.[\w.]+' is missing: the checkpoint is incomplete/],
    ['a single-file SDXL checkpoint', [picked('xl.safetensors', st.sdxlCheckpoint())], /an SDXL checkpoint[\s\S]*export it to ONNX/],
    ['a UNet on its own', [picked('unet.onnx', presetFiles('inpaint-9ch').get('unet/model.onnx')!)], /a UNet of a Stable Diffusion model on its own; import the whole model folder/],
    ['an unknown safetensors', [picked('bert.safetensors', st.unknownModel())], /not something the studio can use/],
  ];
  it.each(cases)('%s', async (_label, files, message) => {
    const { registry } = setup();
    const { analyzed } = await registry.scanModels(files);
    expect(analyzed).toHaveLength(1);
    expect(analyzed[0].proposal.problem).toMatch(message);
    await expect(registry.importAnalyzed(analyzed[0])).rejects.toThrow(message);
  });

  it.each(Object.entries(st.broken))('safetensors breaking a rule: %s', async (_name, make) => {
    const { registry } = setup();
    const bytes = typeof make === 'function' ? (make as () => Uint8Array)() : (make as Uint8Array);
    const { analyzed } = await registry.scanModels([picked('broken.safetensors', bytes)]);
    expect(analyzed[0].proposal.problem).toMatch(/not a valid \.safetensors file: .+/);
  });

  it('refuses an empty folder, a folder of JPEGs and a pickle on registration', async () => {
    const { registry, repo } = setup();
    await expect(registry.registerModel([], 'checkpoint')).rejects.toThrow(/no files were picked/);
    await expect(registry.registerModel([picked('a.jpg', new Uint8Array(10))], 'checkpoint')).rejects.toThrow(/hold no model/);
    await expect(registry.registerModel([picked('v1.ckpt', new Uint8Array(10))], 'checkpoint')).rejects.toThrow(/pickle files .* can run arbitrary code/);
    expect(await repo.count()).toBe(0);
  });

  it('refuses an unknown model type and a type the file contradicts', async () => {
    const { registry } = setup();
    await expect(registry.registerModel([picked('x.onnx', esrgan(2))], 'vae')).rejects.toThrow(
      /unknown model type 'vae'; known: checkpoint, lora, embedding, upscaler, detector/,
    );
    await expect(registry.registerModel([picked('x.onnx', esrgan(2))], 'checkpoint')).rejects.toThrow(/this is an upscaler .*not a checkpoint/);
    await expect(registry.registerModel([picked('l.safetensors', st.peftLora())], 'embedding')).rejects.toThrow(/this is a LoRA .*not an embedding/);
    await expect(registry.listModels('vae')).rejects.toThrow(/unknown model type/);
  });
});

describe('registration, queries and management (the seed registry, with storage)', () => {
  it('registers with default naming, then custom names, description and tags', async () => {
    const { registry } = setup();
    const a = await registry.registerModel([picked('ink.safetensors', st.kohyaLora())], 'lora');
    expect(a).toMatchObject({ name: 'ink', model_type: 'lora', file_path: 'ink.safetensors', status: 'importing', description: null, tags: [] });
    expect(a.discovered_at).toBe('2026-11-24T10:00:00.000Z');
    expect(a.file_size_bytes).toBe(st.kohyaLora().byteLength);
    const b = await registry.registerModel([picked('e.safetensors', st.a1111Embedding())], 'embedding', {
      name: 'my-embed',
      description: 'hands',
      tags: ['fix', 'hands'],
    });
    expect(b).toMatchObject({ name: 'my-embed', description: 'hands', tags: ['fix', 'hands'] });
    // The same file again gets a free name; an explicit name that is taken is refused.
    expect((await registry.registerModel([picked('ink.safetensors', st.kohyaLora())], 'lora')).name).toBe('ink-2');
    await expect(registry.registerModel([picked('x.safetensors', st.kohyaLora())], 'lora', { name: 'ink' })).rejects.toThrow(/a model named 'ink' already exists/);
  });

  it('answers queries: path, model, lists by type, counts, existence', async () => {
    const { registry } = setup();
    await registry.registerModel([picked('deep/ink.safetensors', st.kohyaLora())], 'lora');
    await registry.registerModel([picked('e.safetensors', st.a1111Embedding())], 'embedding');
    expect(await registry.getModelPath('ink')).toBe('deep/ink.safetensors');
    expect(await registry.getModelPath('nope')).toBeNull();
    expect((await registry.getModel('ink'))?.model_type).toBe('lora');
    expect(await registry.getModel('nope')).toBeUndefined();
    expect((await registry.listAll()).map((m) => m.name)).toEqual(['esrgan-slim-x2', 'esrgan-slim-x3', 'esrgan-slim-x4', 'esrgan-slim-x8', 'blazeface-back', 'mediapipe-palm', 'e', 'ink']);
    expect((await registry.listModels('lora')).map((m) => m.name)).toEqual(['ink']);
    expect(await registry.listModels('checkpoint')).toEqual([]);
    expect(await registry.countModels()).toBe(8);
    expect(await registry.countModels('upscaler')).toBe(4);
    expect((await registry.listModels('detector')).map((m) => [m.name, m.components[0].role, m.read_only])).toEqual([
      ['blazeface-back', 'detector', true],
      ['mediapipe-palm', 'detector', true],
    ]);
    expect(await registry.modelExists('ink')).toBe(true);
    expect(await registry.modelExists('esrgan-slim-x4')).toBe(true);
    expect(await registry.modelExists('nope')).toBe(false);
  });

  it('removes, renames, updates and clears; bundled models stay read-only', async () => {
    const { registry, repo } = setup();
    await registry.registerModel([picked('ink.safetensors', st.kohyaLora())], 'lora');
    await registry.registerModel([picked('e.safetensors', st.a1111Embedding())], 'embedding');
    expect((await registry.rename('ink', 'ink-v2')).name).toBe('ink-v2');
    await expect(registry.rename('ink-v2', 'e')).rejects.toThrow(/already exists/);
    await expect(registry.rename('ink-v2', '  ')).rejects.toThrow(/cannot be empty/);
    expect((await registry.update('ink-v2', { description: 'inky', tags: ['style'] })).tags).toEqual(['style']);
    expect(await registry.removeModel('ink-v2')).toBe(true);
    expect(await registry.removeModel('ink-v2')).toBe(false);
    await expect(registry.removeModel('esrgan-slim-x2')).rejects.toThrow(/ships with the app/);
    await expect(registry.rename('esrgan-slim-x2', 'x')).rejects.toThrow(/ships with the app/);
    expect(await registry.clear()).toBe(1);
    expect(await repo.count()).toBe(0);
    expect(await registry.countModels()).toBe(6);
  });
});

describe('import through the worker service: stored, probed, verified', () => {
  it('scan → import a tiny diffusers folder: every file stored with its sha256, probed, verified', async () => {
    const { service, repo, registry } = setup();
    const report = await service.scan(folder('tiny-sd') as never);
    expect(report.models[0]).toMatchObject({ name: 'tiny-sd', model_type: 'checkpoint', problem: null });
    const progress: string[] = [];
    const [outcome] = await service.import(report.scan_id, [{ index: 0, tags: ['test'] }], (p) => progress.push(p.phase));
    expect(outcome.error).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect(outcome.model).toMatchObject({ status: 'verified', tags: ['test'] });
    expect(outcome.model!.status_message).toMatch(/ran on WASM .*UNet → \[1, 4, 8, 8\]/);
    expect(progress[0]).toBe('storing');
    expect(progress.slice(-2)).toEqual(['verifying', 'done']);
    const info = (await registry.getModel('tiny-sd')) as ModelInfo;
    const unetData = info.components.find((c) => c.path === 'unet/model.onnx_data')!;
    const { createHash } = await import('node:crypto');
    const original = presetFiles('sd15-fp32-dynamic').get('unet/model.onnx_data')!;
    expect(unetData.sha256).toBe(createHash('sha256').update(original).digest('hex'));
    const stored = new Uint8Array(await (await repo.readFile(unetData.file_id)).arrayBuffer());
    expect(Buffer.from(stored).equals(Buffer.from(original))).toBe(true);
    expect(info.components.find((c) => c.role === 'unet')?.inputs?.map((i) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
  });

  it('register (the seed API): declared type checked against content, stored and verified', async () => {
    const { service } = setup();
    const wrong = await service.register([picked('x.onnx', esrgan(2))] as never, 'lora');
    expect(wrong).toMatchObject({ ok: false });
    expect(wrong.error).toMatch(/this is an upscaler .*not a LoRA/);
    await expect(service.register([picked('x.onnx', esrgan(2))] as never, 'vae')).rejects.toThrow(/unknown model type 'vae'/);
    const ok = await service.register([picked('x.onnx', esrgan(2))] as never, 'upscaler', { name: 'two', tags: ['t'] });
    expect(ok.model).toMatchObject({ name: 'two', model_type: 'upscaler', status: 'verified', tags: ['t'] });
  });

  it('an imported upscaler gets its scale and value range from the probe', async () => {
    const { service } = setup();
    const report = await service.scan([picked('user/4x.onnx', esrgan(4))] as never);
    const [outcome] = await service.import(report.scan_id, [{ index: 0, name: 'my-4x' }]);
    // esrgan-slim is nearly scale-equivariant (tiny biases): it reproduces a [0, 1] gradient about
    // as well as a [0, 255] one (mean errors 0.005 and 0.006), so either range is a right answer.
    expect(outcome.model?.upscaler?.scale).toBe(4);
    expect([[0, 1], [0, 255]]).toContainEqual(outcome.model?.upscaler?.value_range);
    expect(outcome.model?.status).toBe('verified');
  });

  it('an imported detector is verified only if its outputs fit a layout the studio decodes', async () => {
    const { service } = setup();
    const yoloBytes = constantYolo(64, [32, 32, 16, 16], 0.9);
    const report = await service.scan([picked('yolo-face.onnx', yoloBytes), picked('odd-boxes.onnx', undecodableBoxes(16)), picked('yolov8n.onnx', yoloBytes)] as never);
    expect(report.models.map((m) => m.model_type)).toEqual(['detector', 'detector', 'detector']);
    const [yolo, odd, unnamed] = await service.import(report.scan_id, [{ index: 0 }, { index: 1 }, { index: 2 }]);
    // No `names` metadata: a one-class detector takes its class from the file name, if that says one.
    expect(yolo.model).toMatchObject({ model_type: 'detector', status: 'verified', detector: { layout: 'yolo', classes: ['face'], input_size: 64 } });
    expect(unnamed.model).toMatchObject({ status: 'verified', detector: { classes: ['class 0'] } });
    expect(odd.ok).toBe(false);
    expect(odd.model?.status).toBe('error');
    expect(odd.error).toMatch(/detector outputs \[1, 256, 7\] at 16×16 input match no known layout; the studio decodes YOLO-style/);
  });

  it('bundled detectors are listed with their layout and classes', async () => {
    const { registry } = setup();
    const detectors = await registry.listModels('detector');
    expect(detectors.map((d) => [d.name, d.detector])).toEqual([
      ['blazeface-back', { layout: 'blazeface', classes: ['face'], input_size: 256 }],
      ['mediapipe-palm', { layout: 'palm', classes: ['hand'], input_size: 256 }],
    ]);
  });

  it('a model the runtime cannot run is kept with status error and the reason', async () => {
    const { service, repo } = setup();
    // A model whose only op the runtime rejects at session creation: corrupt its opset domain.
    const bytes = esrgan(2);
    const text = Buffer.from(bytes);
    const at = text.indexOf(Buffer.from('Conv'));
    bytes.set(Buffer.from('Cnvx'), at);
    const report = await service.scan([picked('bad.onnx', bytes)] as never);
    const [outcome] = await service.import(report.scan_id, [{ index: 0 }]);
    expect(outcome.ok).toBe(false);
    expect(outcome.model?.status).toBe('error');
    expect(outcome.error).toMatch(/WASM could not run it/);
    expect(await repo.count()).toBe(1);
  });

  it('a cancelled import keeps nothing, and start-up cleanup removes chunks of a dead import', async () => {
    const { service, repo } = setup();
    const report = await service.scan(folder('tiny-sd') as never);
    const run = service.import(report.scan_id, [{ index: 0 }], (p) => {
      if (p.phase === 'storing' && p.bytes_done > 0) service.cancelImport(p.import_id);
    });
    const [outcome] = await run;
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/cancelled/);
    expect(await repo.count()).toBe(0);
    // A tab that died mid-import: chunks written, no row.
    await repo.writeFile(blob(new Uint8Array(5000)), { importId: 'dead-tab' });
    expect(await service.cleanup()).toBeGreaterThan(0);
    expect(await service.cleanup()).toBe(0);
  });
});
