// @vitest-environment node
/**
 * The tiny random-weight diffusion models (test/fixtures/tiny-diffusion/factory.ts).
 *
 * Every preset is written to a temporary folder, each component is loaded from disk with
 * onnxruntime-web (Node WASM), its declared I/O is compared with the real exports' (hard-coded
 * below, not derived from the factory), and it is run once. The UNet must react to each of its
 * inputs, builds must be byte-identical, and external data must really be external.
 */
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTextEncoder,
  buildUnet,
  buildVaeDecoder,
  buildVaeEncoder,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  presetFiles,
  presets,
  writeDiffusersFolder,
  writePreset,
  type ComponentName,
  type PresetName,
  type TimestepShape,
  type TimestepType,
} from '../fixtures/tiny-diffusion/factory';

const { ModelProto, TensorProto } = onnxProto.onnx;

let tmp: string;
beforeAll(async () => {
  ort.env.wasm.numThreads = 1; // before the first session
  tmp = await mkdtemp(join(tmpdir(), 'tiny-diffusion-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Expected signatures (what the real exports declare; ORT reports inferred output dims)

type Sig = Record<string, [ort.Tensor.Type, (number | string)[]]>;
interface Component {
  inputs: Sig;
  outputs: Sig;
}

const textEncoder = (ids: 'int32' | 'int64', float: 'float32' | 'float16', hidden: number, b: number | string, s: number | string): Component => ({
  inputs: { input_ids: [ids, [b, s]] },
  outputs: { last_hidden_state: [float, [b, s, hidden]], pooler_output: [float, [b, hidden]] },
});
const DYN_TEXT = ['batch_size', 'sequence_length'] as const;
const DYN_LATENT = ['batch_size', 4, 'height_latent', 'width_latent'];
const DYN_IMAGE = ['batch_size', 3, 'height', 'width'];

const EXPECTED: Record<PresetName, { files: string[]; components: Partial<Record<ComponentName, Component>> }> = {
  'sd15-fp32-dynamic': {
    files: ['model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'unet/model.onnx_data', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx'],
    components: {
      text_encoder: textEncoder('int32', 'float32', 768, ...DYN_TEXT),
      unet: {
        inputs: {
          sample: ['float32', ['batch_size', 4, 'height', 'width']],
          timestep: ['int64', ['steps']],
          encoder_hidden_states: ['float32', ['batch_size', 'sequence_length', 768]],
        },
        outputs: { out_sample: ['float32', ['batch_size', 4, 'height', 'width']] },
      },
      vae_decoder: { inputs: { latent_sample: ['float32', DYN_LATENT] }, outputs: { sample: ['float32', DYN_IMAGE] } },
      vae_encoder: { inputs: { sample: ['float32', DYN_IMAGE] }, outputs: { latent_parameters: ['float32', ['batch_size', 8, 'height_latent', 'width_latent']] } },
    },
  },
  'sd15-fp16-static77': {
    files: ['model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx'],
    components: {
      text_encoder: textEncoder('int64', 'float16', 768, 1, 77),
      unet: {
        inputs: {
          sample: ['float16', [2, 4, 64, 64]],
          timestep: ['float16', [2]],
          encoder_hidden_states: ['float16', [2, 77, 768]],
        },
        outputs: { out_sample: ['float16', [2, 4, 64, 64]] },
      },
      vae_decoder: { inputs: { latent_sample: ['float16', [1, 4, 64, 64]] }, outputs: { sample: ['float16', [1, 3, 512, 512]] } },
      vae_encoder: { inputs: { sample: ['float16', [1, 3, 512, 512]] }, outputs: { latent_sample: ['float16', [1, 4, 64, 64]] } },
    },
  },
  'inpaint-9ch': {
    files: ['model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx', 'vae_encoder/model.onnx'],
    components: {
      text_encoder: textEncoder('int32', 'float32', 768, ...DYN_TEXT),
      unet: {
        inputs: {
          sample: ['float32', ['batch_size', 9, 'height', 'width']],
          timestep: ['float32', []],
          encoder_hidden_states: ['float32', ['batch_size', 'sequence_length', 768]],
        },
        outputs: { out_sample: ['float32', ['batch_size', 4, 'height', 'width']] },
      },
      vae_decoder: { inputs: { latent_sample: ['float32', DYN_LATENT] }, outputs: { sample: ['float32', DYN_IMAGE] } },
      vae_encoder: { inputs: { sample: ['float32', DYN_IMAGE] }, outputs: { latent_sample: ['float32', DYN_LATENT] } },
    },
  },
  'sd-turbo': {
    files: ['text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx'],
    components: {
      text_encoder: textEncoder('int32', 'float32', 1024, ...DYN_TEXT),
      unet: {
        inputs: {
          sample: ['float32', ['batch_size', 'num_channels', 'height', 'width']],
          timestep: ['int64', ['steps']],
          encoder_hidden_states: ['float32', ['batch_size', 'sequence_length', 1024]],
        },
        // Declared [batch_size, out_channels, height, width]; ORT's shape inference fills in the 4.
        outputs: { out_sample: ['float32', ['batch_size', 4, 'height', 'width']] },
      },
      vae_decoder: {
        inputs: { latent_sample: ['float32', ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent']] },
        outputs: { sample: ['float32', DYN_IMAGE] },
      },
    },
  },
};

/** Sizes for symbolic dims when running: latents 1×4×8×8, images 64×64, 77 tokens. */
function concreteDims(component: ComponentName, shape: readonly (number | string)[]): number[] {
  const image = component === 'vae_decoder' || component === 'vae_encoder' ? 64 : 8;
  const sizes: Record<string, number> = {
    batch_size: 1,
    steps: 1,
    sequence_length: 77,
    height: image,
    width: image,
    height_latent: 8,
    width_latent: 8,
    num_channels: 4,
    num_channels_latent: 4,
  };
  return shape.map((d) => (typeof d === 'number' ? d : sizes[d]));
}

// ---------------------------------------------------------------------------------------------
// Tensor helpers

/** CLIP-style ids: BOS, a few words, EOS, padded with EOS (SD 1.x). */
function clipIds(count: number, words = [320, 1125, 539, 518]): number[] {
  const ids = [49406, ...words, 49407];
  while (ids.length < count) ids.push(49407);
  return ids.slice(0, count);
}

function floatTensor(type: ort.Tensor.Type, values: ArrayLike<number>, dims: number[]): ort.Tensor {
  if (type === 'float16') return new ort.Tensor('float16', Uint16Array.from(values as ArrayLike<number>, float32ToFloat16Bits), dims);
  return new ort.Tensor('float32', Float32Array.from(values), dims);
}

function intTensor(type: ort.Tensor.Type, values: number[], dims: number[]): ort.Tensor {
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  return new ort.Tensor('int32', Int32Array.from(values), dims);
}

/** Any float or int tensor type, as plain numbers. */
function numbers(tensor: ort.Tensor): number[] {
  if (tensor.type === 'float16') return Array.from(tensor.data as Uint16Array, float16BitsToFloat32);
  if (tensor.type === 'int64') return Array.from(tensor.data as BigInt64Array, Number);
  return Array.from(tensor.data as Float32Array);
}

function sequence(n: number, seed: number, scale = 1): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 2 * scale;
  });
}

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

function tensorMeta(session: ort.InferenceSession, which: 'inputMetadata' | 'outputMetadata'): Sig {
  const sig: Sig = {};
  for (const meta of session[which]) {
    if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
    sig[meta.name] = [meta.type, [...meta.shape]];
  }
  return sig;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Loads `<dir>/<component>/model.onnx` (+ model.onnx_data when present) the way the app would. */
async function loadComponent(dir: string, component: ComponentName): Promise<ort.InferenceSession> {
  const model = new Uint8Array(await readFile(join(dir, component, 'model.onnx')));
  const files = await readdir(join(dir, component));
  const externalData = files.includes('model.onnx_data')
    ? [{ path: 'model.onnx_data', data: new Uint8Array(await readFile(join(dir, component, 'model.onnx_data'))) }]
    : undefined;
  return ort.InferenceSession.create(model, externalData ? { externalData } : {});
}

/** Feeds for a component from its metadata: CLIP ids, t = 999, values in [-1, 1]. */
function feedsFor(component: ComponentName, session: ort.InferenceSession): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  session.inputMetadata.forEach((meta, i) => {
    if (!meta.isTensor) throw new Error('non-tensor input');
    const dims = concreteDims(component, meta.shape);
    if (meta.name === 'input_ids') {
      const ids = Array.from({ length: dims[0] }, () => clipIds(dims[1])).flat();
      feeds[meta.name] = intTensor(meta.type, ids, dims);
    } else if (meta.name === 'timestep') {
      const values = Array(size(dims)).fill(999);
      feeds[meta.name] = meta.type === 'int64' ? intTensor('int64', values, dims) : floatTensor(meta.type, values, dims);
    } else {
      feeds[meta.name] = floatTensor(meta.type, sequence(size(dims), 17 + i), dims);
    }
  });
  return feeds;
}

// ---------------------------------------------------------------------------------------------
// Presets

describe.each(Object.keys(presets) as PresetName[])('preset %s', (name) => {
  const expected = EXPECTED[name];
  let dir: string;
  const sessions = new Map<ComponentName, ort.InferenceSession>();

  beforeAll(async () => {
    dir = join(tmp, name);
    await writePreset(dir, name);
    for (const component of Object.keys(expected.components) as ComponentName[]) {
      sessions.set(component, await loadComponent(dir, component));
    }
  });
  afterAll(async () => {
    for (const session of sessions.values()) await session.release();
  });

  it('writes the layout’s files, each model small', async () => {
    expect(await listFiles(dir)).toEqual([...expected.files].sort());
    for (const file of expected.files.filter((f) => f.endsWith('.onnx'))) {
      expect((await readFile(join(dir, file))).length).toBeLessThan(200_000);
    }
  });

  it('declares the real exports’ input and output names, dtypes and shapes', () => {
    for (const [component, sig] of Object.entries(expected.components) as [ComponentName, Component][]) {
      const session = sessions.get(component)!;
      expect([...session.inputNames], component).toEqual(Object.keys(sig.inputs));
      expect([...session.outputNames], component).toEqual(Object.keys(sig.outputs));
      expect(tensorMeta(session, 'inputMetadata'), component).toEqual(sig.inputs);
      expect(tensorMeta(session, 'outputMetadata'), component).toEqual(sig.outputs);
    }
  });

  it('runs every component once with bounded, finite outputs of the declared shapes', async () => {
    for (const [component, sig] of Object.entries(expected.components) as [ComponentName, Component][]) {
      const session = sessions.get(component)!;
      const result = await session.run(feedsFor(component, session));
      for (const [output, [type, shape]] of Object.entries(sig.outputs)) {
        const tensor = result[output];
        let dims = concreteDims(component, shape);
        if (component === 'vae_decoder') dims = [dims[0], 3, 64, 64]; // 8 × the 8×8 latents
        if (component === 'vae_encoder') dims = [dims[0], dims[1], 8, 8];
        if (shape.every((d) => typeof d === 'number')) dims = shape as number[]; // static: as declared
        expect(tensor.type, `${component}.${output}`).toBe(type);
        expect([...tensor.dims], `${component}.${output}`).toEqual(dims);
        const values = numbers(tensor);
        const bound = component === 'vae_encoder' ? 20 : 1.5; // latents span a few units
        expect(values.every((v) => Number.isFinite(v) && Math.abs(v) <= bound), `${component}.${output}`).toBe(true);
        if (component === 'vae_decoder') expect(values.every((v) => v >= -1 && v <= 1)).toBe(true);
        // Not constant: the weights really are random.
        const range = values.reduce((m, v) => Math.max(m, v), -Infinity) - values.reduce((m, v) => Math.min(m, v), Infinity);
        expect(range, `${component}.${output}`).toBeGreaterThan(0.05);
      }
    }
  });

  it('UNet output changes with each of sample, timestep and encoder_hidden_states', async () => {
    const session = sessions.get('unet')!;
    const base = feedsFor('unet', session);
    const run = async (feeds: Record<string, ort.Tensor>) => numbers((await session.run(feeds)).out_sample);
    const reference = await run(base);
    expect(await run(feedsFor('unet', session))).toEqual(reference); // deterministic

    const changed = (input: string, values: number[]) => {
      const t = base[input];
      const dims = [...t.dims];
      if (t.type === 'int64' || t.type === 'int32') return { ...base, [input]: intTensor(t.type, values, dims) };
      return { ...base, [input]: floatTensor(t.type, values, dims) };
    };
    const sampleValues = numbers(base.sample).map((v) => v * 0.5 + 0.1);
    const ehsValues = numbers(base.encoder_hidden_states).map((v, i) => (i % 7 === 0 ? -v : v));
    const timesteps = numbers(base.timestep).map(() => 979); // the next step of a 50-step schedule
    for (const [input, values] of [['sample', sampleValues], ['encoder_hidden_states', ehsValues], ['timestep', timesteps]] as const) {
      const diff = maxAbsDiff(await run(changed(input, values)), reference);
      expect(diff, input).toBeGreaterThan(1e-3);
    }
  });

  it('text encoder: every position depends on the ids; pooler_output is the EOS row', async () => {
    const session = sessions.get('text_encoder')!;
    const feeds = feedsFor('text_encoder', session);
    const ids = feeds.input_ids;
    const [, seq] = ids.dims;
    const hidden = session.outputMetadata[1].isTensor ? (session.outputMetadata[1].shape[1] as number) : 0;
    const a = await session.run(feeds);
    const other = clipIds(seq, [320, 1125, 539, 999]); // last word differs
    const b = await session.run({ input_ids: intTensor(ids.type, other, [1, seq]) });
    const ha = numbers(a.last_hidden_state);
    const hb = numbers(b.last_hidden_state);
    for (const position of [0, 3, seq - 1]) {
      const row = (h: number[]) => h.slice(position * hidden, (position + 1) * hidden);
      expect(maxAbsDiff(row(ha), row(hb)), `position ${position}`).toBeGreaterThan(1e-3);
    }
    const eos = clipIds(seq).indexOf(49407);
    expect(numbers(a.pooler_output)).toEqual(ha.slice(eos * hidden, (eos + 1) * hidden));
  });

  it('builds byte-identical files every time', () => {
    const again = presetFiles(name);
    const first = presetFiles(name);
    expect([...again.keys()]).toEqual([...first.keys()]);
    for (const [path, bytes] of first) expect(Buffer.compare(bytes, again.get(path)!), path).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Folder contents, external data, variants, float16 bits

describe('diffusers folder', () => {
  it('writes model_index.json, the SD 1.x scheduler config and (when asked) the tokenizer', async () => {
    const vocabDir = join(tmp, 'vocab');
    await mkdir(vocabDir, { recursive: true });
    await writeFile(join(vocabDir, 'vocab.json'), '{"a</w>": 320}');
    await writeFile(join(vocabDir, 'merges.txt'), '#version: 0.2\na b\n');
    const dir = join(tmp, 'with-tokenizer');
    const written = await writeDiffusersFolder(dir, { tokenizer: { from: vocabDir }, vaeEncoder: false });
    expect(written).toContain('tokenizer/vocab.json');
    expect(await listFiles(dir)).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/model.onnx',
      'tokenizer/merges.txt',
      'tokenizer/special_tokens_map.json',
      'tokenizer/tokenizer_config.json',
      'tokenizer/vocab.json',
      'unet/model.onnx',
      'vae_decoder/model.onnx',
    ]);
    expect(await readFile(join(dir, 'tokenizer/merges.txt'), 'utf8')).toBe('#version: 0.2\na b\n');

    const index = JSON.parse(await readFile(join(dir, 'model_index.json'), 'utf8'));
    expect(index._class_name).toBe('OnnxStableDiffusionPipeline');
    expect(index.unet).toEqual(['diffusers', 'OnnxRuntimeModel']);
    expect(index.vae_encoder).toBeUndefined();

    const scheduler = JSON.parse(await readFile(join(dir, 'scheduler/scheduler_config.json'), 'utf8'));
    expect(scheduler).toMatchObject({
      _class_name: 'PNDMScheduler',
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      num_train_timesteps: 1000,
      steps_offset: 1,
      set_alpha_to_one: false,
      skip_prk_steps: true,
      clip_sample: false,
      prediction_type: 'epsilon',
      timestep_spacing: 'leading',
    });
  });

  it('optimum preset lists its class name and the source components', () => {
    const index = JSON.parse(new TextDecoder().decode(presetFiles('sd15-fp32-dynamic').get('model_index.json')));
    expect(index._class_name).toBe('ORTStableDiffusionPipeline');
    expect(index.text_encoder).toEqual(['transformers', 'CLIPTextModel']);
  });
});

describe('external data', () => {
  const files = presetFiles('sd15-fp32-dynamic');
  const model = files.get('unet/model.onnx')!;
  const data = files.get('unet/model.onnx_data')!;

  it('marks the UNet weights EXTERNAL with location, offset and length inside model.onnx_data', () => {
    const decoded = ModelProto.decode(model);
    const external = decoded.graph!.initializer!.filter((t) => t.dataLocation === TensorProto.DataLocation.EXTERNAL);
    expect(external.map((t) => t.name)).toContain('conv_in.weight');
    expect(external.map((t) => t.name)).toContain('cond.weight'); // 768×4 floats
    let end = 0;
    for (const tensor of external) {
      const entries = Object.fromEntries(tensor.externalData!.map((e) => [e.key, e.value]));
      expect(Object.keys(entries).sort()).toEqual(['length', 'location', 'offset']);
      expect(entries.location).toBe('model.onnx_data');
      const count = tensor.dims!.reduce((a: number, b) => a * Number(b), 1);
      expect(Number(entries.length)).toBe(count * 4);
      expect(Number(entries.offset) % 64).toBe(0);
      expect(tensor.rawData?.length ?? 0).toBe(0);
      end = Math.max(end, Number(entries.offset) + Number(entries.length));
    }
    expect(end).toBe(data.length);
  });

  it('loads only with the data file, and computes what the inline model computes', async () => {
    await expect(ort.InferenceSession.create(model)).rejects.toThrow();
    const external = await ort.InferenceSession.create(model, { externalData: [{ path: 'model.onnx_data', data }] });
    const inline = await ort.InferenceSession.create(buildUnet({ seed: 12, hidden: 768 }).bytes);
    const feeds = {
      sample: floatTensor('float32', sequence(256, 3), [1, 4, 8, 8]),
      timestep: intTensor('int64', [500], [1]),
      encoder_hidden_states: floatTensor('float32', sequence(77 * 768, 4), [1, 77, 768]),
    };
    const a = numbers((await external.run(feeds)).out_sample);
    const b = numbers((await inline.run(feeds)).out_sample);
    expect(a).toEqual(b);
    await external.release();
    await inline.release();
  });
});

describe('declared shapes', () => {
  it('keeps the declared channel dim_params that ORT’s metadata replaces with inferred sizes', () => {
    const declared = (bytes: Uint8Array) =>
      ModelProto.decode(bytes).graph!.output!.map((o) => o.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)));
    const files = presetFiles('sd-turbo');
    expect(declared(files.get('unet/model.onnx')!)).toEqual([['batch_size', 'out_channels', 'height', 'width']]);
    expect(declared(files.get('vae_decoder/model.onnx')!)).toEqual([['batch_size', 'num_channels', 'height', 'width']]);
  });
});

describe('sampling loop', () => {
  it('stays bounded over 20 Euler steps with CFG (batch 2) on the SD 1.5 preset', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const unet = await ort.InferenceSession.create(files.get('unet/model.onnx')!, {
      externalData: [{ path: 'model.onnx_data', data: files.get('unet/model.onnx_data')! }],
    });
    const ehs = floatTensor('float32', sequence(2 * 77 * 768, 12), [2, 77, 768]);
    const n = 4 * 8 * 8;
    const sigmas = Array.from({ length: 21 }, (_, i) => (i === 20 ? 0 : 14.6 * (1 - i / 20) ** 3 + 0.03));
    let x = sequence(n, 13, 1.7).map((v) => v * sigmas[0]);
    for (let i = 0; i < 20; i++) {
      const scaled = x.map((v) => v / Math.sqrt(sigmas[i] ** 2 + 1));
      const out = await unet.run({
        sample: floatTensor('float32', [...scaled, ...scaled], [2, 4, 8, 8]),
        timestep: intTensor('int64', [999 - i * 50, 999 - i * 50], [2]),
        encoder_hidden_states: ehs,
      });
      const eps = numbers(out.out_sample);
      const guided = eps.slice(0, n).map((u, k) => u + 7.5 * (eps[n + k] - u));
      x = x.map((v, k) => v + (sigmas[i + 1] - sigmas[i]) * guided[k]);
    }
    expect(x.every((v) => Number.isFinite(v) && Math.abs(v) < 100)).toBe(true);
    await unet.release();
  });
});

describe('variants', () => {
  const timesteps: [TimestepType, TimestepShape, number[]][] = [];
  for (const type of ['int64', 'float32', 'float16'] as const) {
    for (const [shape, dims] of [['scalar', []], ['one', [1]], ['batch', [2]]] as const) timesteps.push([type, shape, [...dims]]);
  }

  it.each(timesteps)('UNet timestep %s %s runs with batch 2 and reacts to the timestep', async (type, shape, dims) => {
    const session = await ort.InferenceSession.create(buildUnet({ timestep: type, timestepShape: shape }).bytes);
    const meta = session.inputMetadata[1];
    expect(meta.isTensor && [meta.name, meta.type, meta.shape]).toEqual(['timestep', type, shape === 'batch' ? ['steps'] : dims]);
    const run = async (t: number) => {
      const values = Array(size(dims)).fill(t);
      const timestep = type === 'int64' ? intTensor('int64', values, dims) : floatTensor(type, values, dims);
      const out = await session.run({
        sample: floatTensor('float32', sequence(2 * 4 * 4 * 4, 5), [2, 4, 4, 4]),
        timestep,
        encoder_hidden_states: floatTensor('float32', sequence(2 * 3 * 32, 6), [2, 3, 32]),
      });
      expect(out.out_sample.dims).toEqual([2, 4, 4, 4]);
      return numbers(out.out_sample);
    };
    expect(maxAbsDiff(await run(999), await run(1))).toBeGreaterThan(1e-3);
    await session.release();
  });

  it('UNet batch rows are independent (CFG): row 0 ignores row 1’s text embedding', async () => {
    const session = await ort.InferenceSession.create(buildUnet({}).bytes);
    const sample = floatTensor('float32', sequence(2 * 4 * 16, 7), [2, 4, 4, 4]);
    const timestep = intTensor('int64', [999, 999], [2]);
    const ehs1 = sequence(2 * 5 * 32, 8);
    const ehs2 = ehs1.map((v, i) => (i >= 5 * 32 ? -v : v)); // only row 1 changes
    const run = async (ehs: number[]) =>
      numbers((await session.run({ sample, timestep, encoder_hidden_states: floatTensor('float32', ehs, [2, 5, 32]) })).out_sample);
    const [a, b] = [await run(ehs1), await run(ehs2)];
    expect(a.slice(0, 64)).toEqual(b.slice(0, 64));
    expect(maxAbsDiff(a.slice(64), b.slice(64))).toBeGreaterThan(1e-3);
    await session.release();
  });

  it('text encoder ids int32 / int64, dynamic or static 77, hidden 32 / 768 / 1024 (float16 weights < 200 KB)', async () => {
    for (const [ids, seq, hidden] of [['int32', 'dynamic', 32], ['int64', 77, 768], ['int64', 'dynamic', 1024]] as const) {
      const built = buildTextEncoder({ ids, seq, hidden, weights: 'float16', io: 'float32' });
      expect(built.bytes.length).toBeLessThan(200_000);
      const session = await ort.InferenceSession.create(built.bytes);
      const length = seq === 'dynamic' ? 12 : 77;
      const out = await session.run({ input_ids: intTensor(ids, clipIds(length), [1, length]) });
      expect(out.last_hidden_state.dims).toEqual([1, length, hidden]);
      expect(out.pooler_output.dims).toEqual([1, hidden]);
      await session.release();
    }
  });

  it('float16 weights are stored as float16 initializers (and float32 only where ONNX requires it)', () => {
    const decoded = ModelProto.decode(buildVaeDecoder({ weights: 'float16', io: 'float32' }).bytes);
    const types = Object.fromEntries(decoded.graph!.initializer!.map((t) => [t.name, t.dataType]));
    expect(types['post_quant.weight']).toBe(TensorProto.DataType.FLOAT16);
    expect(types['texture.weight']).toBe(TensorProto.DataType.FLOAT16);
    expect(types['upsample.scales']).toBe(TensorProto.DataType.FLOAT); // Resize scales are float32
    expect(Number(decoded.irVersion)).toBe(8);
    expect(decoded.opsetImport!.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
  });

  it('VAE encoder with 8 channels puts the mean first and a small logvar (≈ −6) last', async () => {
    const session = await ort.InferenceSession.create(buildVaeEncoder({ outChannels: 8 }).bytes);
    const out = (await session.run({ sample: floatTensor('float32', sequence(3 * 32 * 32, 9), [1, 3, 32, 32]) })).latent_parameters;
    expect(out.dims).toEqual([1, 8, 4, 4]);
    const values = numbers(out);
    const logvar = values.slice(4 * 16);
    expect(logvar.every((v) => v > -7 && v < -5)).toBe(true);
    expect(values.slice(0, 4 * 16).some((v) => Math.abs(v) > 0.1)).toBe(true);
    await session.release();
  });
});

describe('float16 conversion', () => {
  it('rounds to nearest, ties to even, with subnormals, overflow and NaN', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519, 0x7bff], // just below the rounding boundary
      [65520, 0x7c00], // rounds up to Inf
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie → even (0)
      [3 * 2 ** -25, 0x0002], // tie → even (2)
      [2 ** -14, 0x0400], // smallest normal
      [1 + 2 ** -11, 0x3c00], // tie → even
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
      [0.1, 0x2e66],
    ];
    for (const [value, bits] of cases) expect(float32ToFloat16Bits(value), String(value)).toBe(bits);
    expect(float32ToFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(float32ToFloat16Bits(NaN) & 0x3ff).not.toBe(0);
    for (let bits = 0; bits < 0x7c00; bits += 37) expect(float32ToFloat16Bits(float16BitsToFloat32(bits))).toBe(bits);
  });

  it('agrees with onnxruntime’s own float32 → float16 Cast', async () => {
    // A one-node model: Cast float32 → float16; compare bits over awkward and random values.
    const values: number[] = [];
    for (let bits = 0; bits < 0x7c00; bits += 7) {
      const v = float16BitsToFloat32(bits);
      const next = float16BitsToFloat32(bits + 1);
      values.push(v, (v + next) / 2, v + (next - v) * 0.25, -((v + next) / 2)); // exact, ties, in between
    }
    values.push(...sequence(5000, 11, 70000), 65520, 65519.99, 1e-8, -1e-8);
    const f32 = Float32Array.from(values);
    const model = ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'cast',
        node: [{ opType: 'Cast', input: ['x'], output: ['y'], attribute: [{ name: 'to', type: 2, i: TensorProto.DataType.FLOAT16 }] }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 10, shape: { dim: [{ dimParam: 'n' }] } } } }],
      },
    }).finish();
    const session = await ort.InferenceSession.create(new Uint8Array(model));
    const y = (await session.run({ x: new ort.Tensor('float32', f32, [f32.length]) })).y.data as Uint16Array;
    const mismatches = Array.from(f32).filter((v, i) => float32ToFloat16Bits(v) !== y[i]);
    expect(mismatches).toEqual([]);
    await session.release();
  });
});
