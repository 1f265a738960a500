import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/pipeline/tensor';
import { ModelInfo, type ModelInfoInput } from '../../src/protocol/models';
import type { Backend } from '../../src/protocol/schemas';
import { graphOptimizationFor, loadDiffusionModel } from '../../workers/ort/diffusion-model';
import { BUILDER_PRODUCER } from '../../src/registry/checkpoint/build/graph-builder';
import {
  componentError,
  createTextEncoderPort,
  createUNetPort,
  createVaeDecoderPort,
  createVaeEncoderPort,
  isOutOfMemory,
  ModelSignatureError,
} from '../../workers/ort/diffusion-ports';
import { isFloat16Model, OrtDiffusionProvider } from '../../workers/ort/diffusion-provider';
import type { Ort, OrtSession } from '../../workers/ort/types';
import { presetFiles, type PresetName } from '../fixtures/tiny-diffusion/factory';
import { nodeOrt } from '../helpers/node-ort';

/** onnxruntime-web's and WebGPU's own words for running out of memory (from their issue trackers). */
const OOM_MESSAGES = [
  "Can't create a session. ERROR_CODE: 6, ERROR_MESSAGE: std::bad_alloc",
  "Can't create a session. Failed to allocate a buffer of size 2079238052.",
  '[E:onnxruntime:Default, webgpu_context.cc:120 operator()] WebGPU device error(2): Out of memory',
  'vkAllocateMemory failed with VK_ERROR_OUT_OF_DEVICE_MEMORY',
  'Buffer size (3185049600) exceeds the max buffer size limit (1073741824)',
  'Aborted(OOM). Build with -sASSERTIONS for more info.',
  'RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded',
];

const spec = (name: string, type: string, shape: Array<number | string>) => ({ name, isTensor: true as const, type, shape });

/** A test-double session: the metadata a real export declares, and a `run` that fails with `error`. */
function failingSession(inputs: ReturnType<typeof spec>[], outputs: string[], error: unknown): OrtSession & { runs: number } {
  const session = {
    runs: 0,
    inputMetadata: inputs,
    outputMetadata: outputs.map((n) => spec(n, 'float32', [])),
    inputNames: inputs.map((i) => i.name),
    outputNames: outputs,
    async run() {
      session.runs++;
      throw error;
    },
    async release() {},
  };
  return session as unknown as OrtSession & { runs: number };
}

/** The error a promise rejects with; fails the test if it resolves. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const zeros = (dims: number[]): Tensor => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims });

const unetSession = (error: unknown) =>
  failingSession(
    [spec('sample', 'float16', ['batch', 4, 'h', 'w']), spec('timestep', 'int64', ['batch']), spec('encoder_hidden_states', 'float16', ['batch', 77, 768])],
    ['out_sample'],
    error,
  );

describe('out of memory in a diffusion component', () => {
  it.each(OOM_MESSAGES)('recognises %s', (message) => {
    expect(isOutOfMemory(new Error(message))).toBe(true);
  });

  it('recognises V8 and emscripten allocation failures by their class and text', () => {
    expect(isOutOfMemory(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isOutOfMemory(new RangeError('allocation size overflow'))).toBe(true);
    expect(isOutOfMemory('Cannot enlarge memory arrays to size 4294967296 bytes')).toBe(true);
  });

  it.each([
    'failed to call OrtRun(). ERROR_CODE: 1, ERROR_MESSAGE: Non-zero status code returned while running Conv node',
    "input 'sample' is int8; expected float32 or float16",
    'Maximum call stack size exceeded',
    'RangeError: Invalid typed array length: -1',
    'Room for improvement',
  ])('does not mistake %s for it', (message) => {
    expect(isOutOfMemory(new Error(message))).toBe(false);
  });

  it('the UNet, running on WebGPU: names it, the image size and what to try', async () => {
    const session = unetSession(new Error('failed to call OrtRun(). ERROR_CODE: 6, ERROR_MESSAGE: std::bad_alloc'));
    const unet = createUNetPort(nodeOrt(), session, 'webgpu');
    const run = unet.run(zeros([1, 4, 96, 96]), 999, zeros([1, 77, 768]));
    await expect(run).rejects.toThrow(
      'the UNet ran out of memory at 768×768 on WebGPU: try a smaller size or the WASM backend (?backend=wasm)',
    );
    expect(session.runs).toBe(1);
    // The batch is said when there is one (classifier-free guidance doubles it); the cause is kept.
    const err = await failure(unet.run(zeros([2, 4, 64, 80]), 999, zeros([2, 77, 768])));
    expect(err.message).toBe('the UNet ran out of memory at 640×512 (batch of 2) on WebGPU: try a smaller size or the WASM backend (?backend=wasm)');
    expect((err.cause as Error).message).toContain('std::bad_alloc');
  });

  it('a UNet built from a float32 checkpoint, running on WASM: the advice is the Models view float16 weights', async () => {
    const unet = createUNetPort(nodeOrt(), unetSession(new Error('std::bad_alloc')), 'wasm', { dtype: 'float32', fromCheckpoint: true });
    await expect(unet.run(zeros([2, 4, 64, 64]), 999, zeros([2, 77, 768]))).rejects.toThrow(
      // The batch of 2 was tried one image at a time, and one image did not fit either.
      "the UNet ran out of memory at 512×512 on WASM: WASM memory is limited to 4 GB: try a smaller size, set this checkpoint's weights to float16 in the Models view (half the memory), or use WebGPU if this browser has it",
    );
  });

  it('on WASM a batch that does not fit runs one image at a time from then on (same result); one image that does not fit still fails', async () => {
    const ort = nodeOrt();
    const batches: number[] = [];
    // Runs batches of 1 (out = 2·sample + timestep), runs out of memory on larger ones.
    const session = {
      inputMetadata: [spec('sample', 'float32', ['batch', 4, 'h', 'w']), spec('timestep', 'float32', ['batch']), spec('encoder_hidden_states', 'float32', ['batch', 77, 8])],
      outputMetadata: [spec('out_sample', 'float32', [])],
      inputNames: ['sample', 'timestep', 'encoder_hidden_states'],
      outputNames: ['out_sample'],
      async run(feeds: Record<string, import('onnxruntime-web').Tensor>) {
        const x = feeds.sample;
        batches.push(x.dims[0]);
        if (x.dims[0] > 1) throw new Error("failed to call OrtRun(). ERROR_CODE: 6, ERROR_MESSAGE: std::bad_alloc");
        const t = (feeds.timestep.data as Float32Array)[0];
        return { out_sample: new ort.Tensor('float32', Float32Array.from(x.data as Float32Array, (v) => 2 * v + t), [...x.dims]) };
      },
      async release() {},
    } as unknown as OrtSession;
    const unet = createUNetPort(ort, session, 'wasm', { dtype: 'float16', fromCheckpoint: true });
    const sample = { data: Float32Array.from({ length: 2 * 4 * 2 * 2 }, (_, i) => i), dims: [2, 4, 2, 2] };
    const context = zeros([2, 77, 8]);
    const out = await unet.run(sample, 3, context);
    expect(out.dims).toEqual([2, 4, 2, 2]);
    expect(Array.from(out.data)).toEqual(Array.from(sample.data, (v) => 2 * v + 3));
    expect(batches).toEqual([2, 1, 1]);
    // The next step does not try the batch again.
    await unet.run(sample, 5, context);
    expect(batches).toEqual([2, 1, 1, 1, 1]);
    // On WebGPU the failure is the user's to act on (a smaller size, WASM): no silent retry.
    const gpu = createUNetPort(ort, session, 'webgpu');
    await expect(gpu.run(sample, 3, context)).rejects.toThrow('the UNet ran out of memory at 16×16 (batch of 2) on WebGPU');
  });

  it('the VAE decoder and encoder on WASM: the size, and no advice to switch to WASM', async () => {
    const webgpuOom = new Error('WebGPU device error(2): Out of memory');
    const decoder = createVaeDecoderPort(nodeOrt(), failingSession([spec('latent_sample', 'float32', ['b', 4, 'h', 'w'])], ['sample'], webgpuOom), 'wasm');
    await expect(decoder.run(zeros([1, 4, 64, 64]))).rejects.toThrow(
      'the VAE decoder ran out of memory at 512×512 on WASM: try a smaller size (WASM memory is limited to 4 GB)',
    );
    const encoder = createVaeEncoderPort(
      nodeOrt(),
      failingSession([spec('sample', 'float32', ['b', 3, 'H', 'W'])], ['latent_sample'], new RangeError('Array buffer allocation failed')),
      'webgpu',
    );
    await expect(encoder.run(zeros([1, 3, 1024, 768]))).rejects.toThrow('the VAE encoder ran out of memory at 768×1024 on WebGPU');
  });

  it('the text encoder says its token batch', async () => {
    const te = createTextEncoderPort(nodeOrt(), failingSession([spec('input_ids', 'int32', ['b', 77])], ['last_hidden_state'], new Error('bad_alloc')), 768, 'webgpu');
    await expect(te.run(new Int32Array(154), [2, 77])).rejects.toThrow('the text encoder ran out of memory at 2×77 tokens on WebGPU');
  });
});

describe('other runtime errors of a component', () => {
  it('pass through with the component named in front, same error object', async () => {
    const original = new TypeError('failed to call OrtRun(). ERROR_CODE: 1, ERROR_MESSAGE: Non-zero status code returned while running Conv node');
    const decoder = createVaeDecoderPort(nodeOrt(), failingSession([spec('latent_sample', 'float32', ['b', 4, 'h', 'w'])], ['sample'], original), 'webgpu');
    const err = await failure(decoder.run(zeros([1, 4, 8, 8])));
    expect(err).toBe(original);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('VAE decoder: failed to call OrtRun(). ERROR_CODE: 1, ERROR_MESSAGE: Non-zero status code returned while running Conv node');
  });

  it('out of memory while loading weights that are float16 already: no "use a float16 export" advice', () => {
    const oom = new Error("Can't create a session. ERROR_CODE: 6, ERROR_MESSAGE: std::bad_alloc");
    expect(componentError(oom, 'UNet', 'wasm', 'while loading (1.72 GB)', { dtype: 'float16' }).message).toBe(
      'the UNet ran out of memory while loading (1.72 GB) on WASM: its weights are float16 already and WASM memory is limited to 4 GB: use WebGPU if this browser has it, or a smaller (int8 weight-only) export',
    );
    expect(componentError(oom, 'UNet', 'wasm', 'while loading (3.44 GB)', { dtype: 'float32' }).message).toMatch(/a float16 export of the model is half the size/);
  });

  it("a float32 checkpoint the studio built: the advice is the Models view's float16 weights, never an export to make", () => {
    const oom = new Error("Can't create a session. ERROR_CODE: 6, ERROR_MESSAGE: std::bad_alloc");
    const built = { dtype: 'float32', fromCheckpoint: true };
    expect(componentError(oom, 'UNet', 'wasm', 'while loading (3.44 GB)', built).message).toBe(
      "the UNet ran out of memory while loading (3.44 GB) on WASM: its weights are float32 and WASM memory is limited to 4 GB: set this checkpoint's weights to float16 in the Models view (half the memory), or use WebGPU if this browser has it",
    );
    expect(componentError(new RangeError('Array buffer allocation failed'), 'UNet', 'wasm', 'at 512×512', built).message).toBe(
      "the UNet ran out of memory at 512×512 on WASM: WASM memory is limited to 4 GB: try a smaller size, set this checkpoint's weights to float16 in the Models view (half the memory), or use WebGPU if this browser has it",
    );
    expect(componentError(oom, 'UNet', 'webgpu', 'while loading (3.44 GB)', built).message).toMatch(/set this checkpoint's weights to float16 in the Models view/);
    // Half weights while running: a smaller size or the GPU, not "float16".
    expect(componentError(oom, 'UNet', 'wasm', 'at 768×768', { dtype: 'float16', fromCheckpoint: true }).message).toBe(
      'the UNet ran out of memory at 768×768 on WASM: try a smaller size, or WebGPU if this browser has it (WASM memory is limited to 4 GB)',
    );
  });

  it('are left alone when they already name the component', () => {
    const named = new ModelSignatureError("UNet 'timestep' is int8; expected int64, float32 or float16");
    expect(componentError(named, 'UNet', 'wasm', 'at 64×64')).toBe(named);
    expect(named.message).toBe("UNet 'timestep' is int8; expected int64, float32 or float16");
    expect(componentError(new Error('the VAE encoder returned 3 channels'), 'VAE encoder', 'wasm', '').message).toBe('the VAE encoder returned 3 channels');
    expect(componentError('opaque 1991937888', 'text encoder', 'wasm', '').message).toBe('text encoder: opaque 1991937888');
  });

  it('a UNet with an unsupported timestep type is reported as before, through the port', async () => {
    const session = failingSession(
      [spec('sample', 'float32', ['b', 4, 'h', 'w']), spec('timestep', 'int8', ['b']), spec('encoder_hidden_states', 'float32', ['b', 77, 768])],
      ['out_sample'],
      new Error('not reached'),
    );
    const err = await failure(createUNetPort(nodeOrt(), session, 'wasm').run(zeros([1, 4, 8, 8]), 1, zeros([1, 77, 768])));
    expect(err).toBeInstanceOf(ModelSignatureError);
    expect(err.message).toBe("UNet 'timestep' is int8; expected int64, float32 or float16");
    expect(session.runs).toBe(0);
  });
});

/**
 * The real onnxruntime-web (on WASM), except that creating the session of `failOn`'s files throws
 * `error`, and running `runFails`'s session throws `runError`.
 */
function ortFailingOn(files: Map<string, Uint8Array>, failOn: string, error: unknown, runFails?: string, runError?: unknown) {
  const real = nodeOrt();
  const released: string[] = [];
  const ort = {
    ...real,
    InferenceSession: {
      create: async (bytes: Uint8Array, options: object) => {
        if (bytes === files.get(`${failOn}/model.onnx`)) throw error;
        const session = await real.InferenceSession.create(bytes, { ...options, executionProviders: ['wasm'] });
        const dir = [...files].find(([, b]) => b === bytes)![0];
        if (dir === `${runFails}/model.onnx`) {
          session.run = async () => {
            throw runError;
          };
        }
        const release = session.release.bind(session);
        session.release = async () => {
          released.push(dir);
          return release();
        };
        return session;
      },
    },
  } as unknown as Ort;
  return { ort, released };
}

describe('a loaded model', () => {
  it('reports a run out of memory with the backend it was loaded on', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const { ort } = ortFailingOn(files, 'none', null, 'vae_decoder', new Error('WebGPU device error(2): Out of memory'));
    const model = await loadDiffusionModel(ort, async (p) => files.get(p), 'webgpu');
    try {
      await expect(model.vaeDecoder.run(zeros([1, 4, 96, 96]))).rejects.toThrow(
        'the VAE decoder ran out of memory at 768×768 on WebGPU: try a smaller size or the WASM backend (?backend=wasm)',
      );
      // The other components still run.
      expect((await model.vaeEncoder!.run(zeros([1, 3, 64, 64]))).dims).toEqual([1, 4, 8, 8]);
    } finally {
      await model.release();
    }
  });
});

describe('a component that cannot be created', () => {
  it('out of memory: names the component and its size, releases what was opened', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const unetBytes = files.get('unet/model.onnx')!.byteLength + files.get('unet/model.onnx_data')!.byteLength;
    const { ort, released } = ortFailingOn(files, 'unet', new Error("Can't create a session. Failed to allocate a buffer of size 2079238052."));
    const err = await failure(loadDiffusionModel(ort, async (p) => files.get(p), 'webgpu'));
    const kb = Math.round(unetBytes / 1e3);
    expect(err.message).toBe(
      `the UNet ran out of memory while loading (${kb} kB) on WebGPU: use a float16 export of the model, or the WASM backend (?backend=wasm)`,
    );
    expect(released).toEqual(['text_encoder/model.onnx']);
  });

  it('out of memory while reading the files: no size yet; WASM advice', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const read = async (p: string) => {
      if (p === 'vae_decoder/model.onnx') throw new RangeError('Array buffer allocation failed');
      return files.get(p);
    };
    const { ort } = ortFailingOn(files, 'none', null);
    await expect(loadDiffusionModel(ort, read, 'wasm')).rejects.toThrow(
      'the VAE decoder ran out of memory while loading on WASM: a float16 export of the model is half the size (WASM memory is limited to 4 GB)',
    );
  });

  it('any other failure is prefixed with the component', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const { ort } = ortFailingOn(files, 'text_encoder', new Error("Can't create a session. ERROR_CODE: 1, ERROR_MESSAGE: Load model failed"));
    await expect(loadDiffusionModel(ort, async (p) => files.get(p), 'webgpu')).rejects.toThrow(
      "text encoder: Can't create a session. ERROR_CODE: 1, ERROR_MESSAGE: Load model failed",
    );
  });
});

const SHA = 'a'.repeat(64);
function checkpointInfo(name: string, components: ModelInfoInput['components']): ModelInfo {
  return ModelInfo.parse({
    name,
    model_type: 'checkpoint',
    file_path: name,
    file_size_bytes: null,
    discovered_at: '2025-01-01T00:00:00.000Z',
    status: 'verified',
    components,
  });
}
const component = (role: 'text_encoder' | 'unet' | 'vae_decoder', dtype: string, ioType = 'float32') => ({
  path: `${role}/model.onnx`,
  role,
  bytes: 1,
  sha256: SHA,
  dtype,
  file_id: role,
  inputs: [{ name: 'x', type: role === 'text_encoder' ? 'int32' : ioType, shape: ['b'] }],
  outputs: [{ name: 'y', type: ioType, shape: ['b'] }],
});

const infos: Record<string, { info: ModelInfo; preset: PresetName }> = {
  // The onnxruntime-web SD-Turbo export: float16 weights, float32 I/O.
  turbo: { preset: 'sd-turbo', info: checkpointInfo('turbo', [component('text_encoder', 'float16'), component('unet', 'float16'), component('vae_decoder', 'float16')]) },
  fp32: { preset: 'sd15-fp32-dynamic', info: checkpointInfo('fp32', [component('text_encoder', 'float32'), component('unet', 'float32'), component('vae_decoder', 'float32')]) },
  // Weights counted as mixed, but the UNet's I/O is float16.
  io16: { preset: 'sd15-fp16-static77', info: checkpointInfo('io16', [component('text_encoder', 'float32'), component('unet', 'mixed', 'float16'), component('vae_decoder', 'float32')]) },
};

function provider(backend: Backend, shaderF16: boolean | undefined) {
  const reads: string[] = [];
  const real = nodeOrt();
  // Sessions run on WASM in Node whatever the backend says: only the provider's decision is tested.
  const ort = {
    ...real,
    InferenceSession: { create: (b: Uint8Array, o: object) => real.InferenceSession.create(b, { ...o, executionProviders: ['wasm'] }) },
  } as unknown as Ort;
  const p = new OrtDiffusionProvider({
    ort: async () => ({ ort, backend, shaderF16 }),
    listModels: async () => Object.values(infos).map((m) => m.info),
    reader: (info) => {
      const files = presetFiles(infos[info.name].preset);
      return async (path) => {
        reads.push(path);
        return files.get(path);
      };
    },
  });
  return { p, reads };
}

describe('float16 models on WebGPU need shader-f16', () => {
  it('which models count as float16', () => {
    expect(isFloat16Model(infos.turbo.info)).toBe(true);
    expect(isFloat16Model(infos.io16.info)).toBe(true);
    expect(isFloat16Model(infos.fp32.info)).toBe(false);
  });

  it.each(['turbo', 'io16'])('refuses %s on WebGPU without shader-f16, before reading a byte', async (name) => {
    const { p, reads } = provider('webgpu', false);
    await expect(p.load(name)).rejects.toThrow(
      `'${name}' is a float16 model and this GPU has no shader-f16 support: use a float32 export of it, or the WASM backend (?backend=wasm)`,
    );
    expect(reads).toEqual([]);
  });

  it.each([
    ['fp32', 'webgpu', false],
    ['turbo', 'webgpu', true],
    ['turbo', 'wasm', false],
    ['turbo', 'webgpu', undefined],
  ] as const)('loads %s on %s with shaderF16 %s', async (name, backend, shaderF16) => {
    const { p, reads } = provider(backend, shaderF16);
    const handle = await p.load(name);
    expect(handle.name).toBe(name);
    expect(reads).toContain('unet/model.onnx');
    await p.release();
  });
});

describe('which model the provider opens', () => {
  const ort = nodeOrt() as unknown as Ort;
  const upscaler = { ...checkpointInfo('esr', [component('unet', 'float32')]), model_type: 'upscaler' } as ModelInfo;
  const unverified = { ...checkpointInfo('half', [component('unet', 'float32')]), status: 'error', status_message: 'the UNet could not be loaded' } as ModelInfo;
  const make = (models: ModelInfo[]) =>
    new OrtDiffusionProvider({ ort: async () => ({ ort, backend: 'wasm' }), listModels: async () => models, reader: () => async () => undefined });

  it('refuses a model that is not a checkpoint, one that failed verification, an unknown name, and none at all', async () => {
    await expect(make([upscaler]).load('esr')).rejects.toThrow("'esr' is an upscaler, not a checkpoint: pick a Stable Diffusion model");
    await expect(make([unverified]).load('half')).rejects.toThrow("'half' did not pass verification: the UNet could not be loaded");
    await expect(make([upscaler]).load('nope')).rejects.toThrow("no model named 'nope' is registered");
    // Without a name: the first verified checkpoint; an upscaler or a failed one does not count.
    await expect(make([upscaler, unverified]).load(undefined)).rejects.toThrow(/no checkpoint is registered: import one in the Models view/);
  });
});

describe('graphOptimizationFor', () => {
  const built = (byType: Record<string, number>, input: string) => ({
    producer: { name: BUILDER_PRODUCER, version: '1' },
    inputs: [{ name: 'sample', type: input, shape: ['batch_size', 4, 'height', 'width'] }],
    initializers: { count: 1, bytes: 1, byType },
  });
  it('off on WASM for a checkpoint-built graph that casts float16 weights to float32 compute (folding the Casts would triple them)', () => {
    expect(graphOptimizationFor('wasm', built({ float16: 1.7e9 }, 'float32'))).toBe('disabled');
  });
  it('on for everything else: WebGPU, float16 compute, float32 weights, other producers', () => {
    expect(graphOptimizationFor('webgpu', built({ float16: 1.7e9 }, 'float32'))).toBe('all');
    expect(graphOptimizationFor('wasm', built({ float16: 1.7e9 }, 'float16'))).toBe('all');
    expect(graphOptimizationFor('wasm', built({ float32: 3.4e9 }, 'float32'))).toBe('all');
    expect(graphOptimizationFor('wasm', { ...built({ float16: 1.7e9 }, 'float32'), producer: { name: 'pytorch', version: '2.1' } })).toBe('all');
  });
});
