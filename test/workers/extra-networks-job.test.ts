// @vitest-environment node
/**
 * LoRAs and textual-inversion embeddings through the worker's side: a tiny single-file checkpoint,
 * a tiny kohya LoRA and an A1111 embedding imported through the models service (hashes recorded at
 * import), then text_to_image jobs through the job queue and the OrtDiffusionProvider: what the
 * tags and the `loras` parameter do to the pixels, what the metadata and the status lines report,
 * the errors a person sees, and which sessions a change of LoRA set reopens.
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../src/media/decode-image';
import { encodePng } from '../../src/media/png';
import type { JobEvent } from '../../src/protocol/events';
import type { ModelInfo } from '../../src/protocol/models';
import type { JobResult } from '../../src/protocol/schemas';
import { ModelRegistry } from '../../src/registry/registry';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { JobRepository } from '../../src/storage/jobs';
import { ModelGraphCache } from '../../src/storage/model-graphs';
import { ModelRepository } from '../../src/storage/models';
import { openStudioDb } from '../../src/storage/schema';
import { JobQueue } from '../../workers/job-queue';
import { ModelsService } from '../../workers/models-service';
import { OrtDiffusionProvider } from '../../workers/ort/diffusion-provider';
import { probeModel } from '../../workers/ort/probe';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../fixtures/ldm-checkpoint';
import { floatBytes, kohyaFile, randomLayer } from '../fixtures/lora/lora-files';
import { buildSafetensors } from '../fixtures/safetensors-builder';
import { seededRandom } from '../fixtures/tiny-diffusion/factory';
import { createBoxUpscaler } from '../helpers/test-upscaler';
import { nodeOrt } from '../helpers/node-ort';

/** The tiny checkpoint's widths: 32 everywhere (tinyLdmConfig). */
const WIDTH = 32;
const LORA = kohyaFile({
  lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: randomLayer(11, 4, 32, 32, { alpha: 2 }),
  lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k: randomLayer(12, 4, 32, 32),
  lora_unet_down_blocks_0_resnets_0_conv1: randomLayer(16, 3, 32, 32, { kernel: 3, alpha: 1.5 }),
  lora_te_text_model_encoder_layers_0_self_attn_q_proj: randomLayer(21, 4, 32, 32, { alpha: 4 }),
  lora_te_text_model_encoder_layers_1_mlp_fc1: randomLayer(22, 2, 128, 32),
});
const LORA_MODULES = 5;

function embeddingFile(vectors: number, width: number, seed: number): Uint8Array<ArrayBuffer> {
  const random = seededRandom(seed);
  const values = Float32Array.from({ length: vectors * width }, () => (random() * 2 - 1) * 2);
  return buildSafetensors([{ name: 'emb_params', dtype: 'F32', shape: [vectors, width], data: floatBytes(values, 'F32') }]);
}
const EMBEDDING = embeddingFile(2, WIDTH, 5);

let n = 0;
function setup() {
  const db = openStudioDb({ name: `extra-networks-${++n}` });
  const repo = new ModelRepository(db);
  const registry = new ModelRegistry(repo);
  const models = new ModelsService({ repo, registry, graphs: new ModelGraphCache(db), probe: (info, read) => probeModel(nodeOrt(), info, read, 'wasm') });
  const provider = new OrtDiffusionProvider({
    ort: async () => ({ ort: nodeOrt(), backend: 'wasm' }),
    listModels: () => repo.listModels(),
    reader: (info, options) => models.reader(info, options),
    freshReads: true,
  });
  const artifacts = new ArtifactRepository(db);
  const queue = new JobQueue({
    jobs: new JobRepository(db),
    artifacts,
    upscalers: async () => ({ load: async (_m, f) => createBoxUpscaler(f), available: async () => [] }),
    diffusion: async () => provider,
    decodeImage: decodeImageFile,
    encodePng,
    backend: () => 'wasm',
  });
  const statuses: string[] = [];
  queue.subscribe((e: JobEvent) => e.type === 'status' && statuses.push(e.message));
  return { repo, models, provider, artifacts, queue, statuses };
}
type Setup = ReturnType<typeof setup>;

async function importFile(s: Setup, name: string, bytes: Uint8Array): Promise<ModelInfo> {
  const scan = await s.models.scan([{ path: name, file: new File([bytes as Uint8Array<ArrayBuffer>], name) }]);
  const [outcome] = await s.models.import(scan.scan_id, [{ index: 0 }]);
  expect(outcome.ok, outcome.error).toBe(true);
  return outcome.model!;
}

/** A 2-step 64² text_to_image job; its result and the first image's RGBA bytes. */
async function generate(s: Setup, prompt: string, parameters: Record<string, unknown> = {}, negative = 'blurry') {
  const request = {
    pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { width: 64, height: 64, steps: 2, seed: 7, guidance_scale: 3, ...parameters } }] },
    input_data: { prompt, negative_prompt: negative },
  };
  const result: JobResult = await (await s.queue.submit(request, 'generate')).done;
  if (!result.success) return { result, pixels: undefined };
  const blob = await s.artifacts.getBlob(result.artifacts[0]);
  const image = await decodeImageFile(new Uint8Array(await blob!.arrayBuffer()), 'image/png');
  return { result, pixels: image.data };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** A1111's addnet hash, computed here independently: the bytes after the 8-byte length and the header. */
const addnet = (bytes: Uint8Array) => sha256(bytes.subarray(8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)))).slice(0, 12);
const differs = (a?: Uint8ClampedArray | Uint8Array, b?: Uint8ClampedArray | Uint8Array) => !!a && !!b && a.some((v, i) => v !== b[i]);

describe('LoRAs and embeddings in a text_to_image job', () => {
  let s: Setup;
  let plain: Awaited<ReturnType<typeof generate>>;
  beforeAll(async () => {
    s = setup();
    await importFile(s, 'tiny.safetensors', ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1'), 'F32'), 3));
    plain = await generate(s, 'a lighthouse');
    expect(plain.result.error).toBeNull();
  }, 120_000);

  it('records the A1111 hashes at import: addnet for a LoRA, the file sha256 for an embedding', async () => {
    const lora = await importFile(s, 'x.safetensors', LORA);
    expect(lora.model_type).toBe('lora');
    expect(lora.metadata.lora_hash).toBe(addnet(LORA));
    const emb = await importFile(s, 'mystyle.safetensors', EMBEDDING);
    expect(emb.model_type).toBe('embedding');
    expect(emb.metadata.embedding_hash).toBe(sha256(EMBEDDING).slice(0, 12));
  }, 60_000);

  it('<lora:x:1> changes the image, reports N of N modules and its hash; <lora:x:0> is the plain image exactly; the tag and `loras` agree', async () => {
    const tagged = await generate(s, 'a lighthouse <lora:x:1>');
    expect(tagged.result.error).toBeNull();
    expect(differs(tagged.pixels, plain.pixels)).toBe(true);
    const meta = tagged.result.metadata.text_to_image as Record<string, unknown>;
    // The prompt as written (A1111's infotext keeps the tag); the report and the infotext's hashes.
    expect(meta.prompt).toBe('a lighthouse <lora:x:1>');
    expect(meta.loras).toEqual([{ name: 'x', weight: 1, matched: LORA_MODULES, total: LORA_MODULES, hash: addnet(LORA) }]);
    expect(meta.lora_hashes).toEqual({ x: addnet(LORA) });
    expect(meta.networks).toEqual([`LoRA \`x\`: ${LORA_MODULES} of ${LORA_MODULES} modules`]);
    expect(meta.lora_merge_peak_bytes).toBeGreaterThan(0);
    expect(s.statuses).toContain(`LoRA \`x\`: ${LORA_MODULES} of ${LORA_MODULES} modules`);

    const zero = await generate(s, 'a lighthouse <lora:x:0>');
    expect(zero.result.error).toBeNull();
    expect(differs(zero.pixels, plain.pixels)).toBe(false);
    expect((zero.result.metadata.text_to_image as Record<string, unknown>).loras).toMatchObject([{ name: 'x', weight: 0, matched: LORA_MODULES }]);

    const param = await generate(s, 'a lighthouse', { loras: [{ name: 'x', weight: 1 }] });
    expect(param.result.error).toBeNull();
    expect(differs(param.pixels, tagged.pixels)).toBe(false);
    // Tags and the parameter add up: 0.5 + 0.5 is the tag's 1.
    const halves = await generate(s, 'a lighthouse <lora:x:0.5>', { loras: [{ name: 'x', weight: 0.5 }] });
    expect(differs(halves.pixels, tagged.pixels)).toBe(false);
    // A tag in the negative prompt stays text (A1111): no LoRA applied.
    const negative = await generate(s, 'a lighthouse', {}, 'blurry <lora:x:1>');
    expect(negative.result.error).toBeNull();
    expect((negative.result.metadata.text_to_image as Record<string, unknown>).loras).toBeUndefined();
    expect((negative.result.metadata.text_to_image as Record<string, unknown>).negative_prompt).toBe('blurry <lora:x:1>');
  }, 180_000);

  it('an unknown LoRA is an error listing the available ones', async () => {
    const { result } = await generate(s, 'a lighthouse <lora:nope:1>');
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/unknown LoRA 'nope'; available: 'x'/);
  }, 60_000);

  it('an embedding word changes the image and is reported with its hash; the same request twice reuses every session', async () => {
    const used = await generate(s, 'a mystyle lighthouse');
    expect(used.result.error).toBeNull();
    const opened = s.provider.sessionsOpened;
    const again = await generate(s, 'a mystyle lighthouse');
    expect(s.provider.sessionsOpened).toBe(opened);
    expect(differs(again.pixels, used.pixels)).toBe(false);
    expect(differs(used.pixels, plain.pixels)).toBe(true);
    // In the negative prompt too.
    const negative = await generate(s, 'a lighthouse', {}, 'mystyle');
    expect((negative.result.metadata.text_to_image as Record<string, unknown>).embeddings).toMatchObject([{ name: 'mystyle' }]);
    const meta = used.result.metadata.text_to_image as Record<string, unknown>;
    expect(meta.embeddings).toEqual([{ name: 'mystyle', vectors: 2, hash: sha256(EMBEDDING).slice(0, 12) }]);
    expect(meta.ti_hashes).toEqual({ mystyle: sha256(EMBEDDING).slice(0, 12) });
    expect(meta.prompt_chunks).toBe(1);
  }, 180_000);

  it('changing the LoRA set reopens the UNet and text encoder only; a weight of 0 shares the plain sessions', async () => {
    await generate(s, 'a lighthouse');
    const base = s.provider.sessionsOpened;
    await generate(s, 'a lighthouse <lora:x:0>');
    expect(s.provider.sessionsOpened).toBe(base);
    await generate(s, 'a lighthouse <lora:x:0.7>');
    expect(s.provider.sessionsOpened).toBe(base + 2);
    // A UNet-only weight change (`<lora:name:te:unet>`) reopens only the UNet.
    await generate(s, 'a lighthouse <lora:x:0.7:0.2>');
    expect(s.provider.sessionsOpened).toBe(base + 3);
    await generate(s, 'a lighthouse <lora:x:0.7:0.2>');
    expect(s.provider.sessionsOpened).toBe(base + 3);
    // Merged into buffers read afresh: the stored weights never change, so the plain image comes back exactly.
    const again = await generate(s, 'a lighthouse');
    expect(differs(again.pixels, plain.pixels)).toBe(false);
  }, 180_000);

  it('an embedding of another width used in a prompt is an error naming both widths; unused, it is ignored', async () => {
    await importFile(s, 'wide.safetensors', embeddingFile(1, 48, 9));
    const unused = await generate(s, 'a lighthouse');
    expect(unused.result.error).toBeNull();
    const { result } = await generate(s, 'a wide lighthouse');
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/embedding "wide" has 48-wide vectors but this model's text encoder is 32 wide/);
  }, 60_000);
});
