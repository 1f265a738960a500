/**
 * onnxruntime-web implementations of the diffusion ports. Each adapts the pipeline's float32
 * tensors to what the session declares: float16 or float32 I/O, int32 or int64 ids, and an
 * int64, float32 or float16 timestep shaped `[]`, `[1]` or `[batch]`.
 */
import type { TextEncoderPort, UNetPort, VaeDecoderPort, VaeEncoderPort } from '../../src/pipeline/ports';
import type { Tensor } from '../../src/pipeline/tensor';
import { concatBatch, sliceBatch } from '../../src/pipeline/diffusion/latents';
import { fromFloat16Array, toFloat16Array } from '../../src/pipeline/float16';
import type { Backend } from '../../src/protocol/schemas';
import type { Ort, OrtSession } from './types';

type OrtTensor = import('onnxruntime-web').Tensor;
type Spec = { name: string; type: string; shape: ReadonlyArray<number | string> };

export class ModelSignatureError extends Error {
  override name = 'ModelSignatureError';
}

export type ComponentName = 'text encoder' | 'UNet' | 'VAE decoder' | 'VAE encoder';

/**
 * How running out of memory shows up: onnxruntime-web's C++ allocator ("std::bad_alloc",
 * "Failed to allocate a buffer of size …"), WebGPU ("WebGPU device error(2): Out of memory",
 * "VK_ERROR_OUT_OF_DEVICE_MEMORY", a buffer over the adapter's maxBufferSize), emscripten's heap
 * ("Aborted(OOM)", "Cannot enlarge memory arrays", Memory.grow) and V8 ("RangeError: Array
 * buffer allocation failed").
 */
const OUT_OF_MEMORY =
  /out of memory|out_of_device_memory|failed to allocate|bad_alloc|\bOOM\b|array buffer allocation failed|cannot enlarge memory|maximum memory size exceeded|memory\.grow|exceeds the max buffer size|RangeError.*alloc/i;

const messageOf = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

export function isOutOfMemory(err: unknown): boolean {
  return OUT_OF_MEMORY.test(messageOf(err));
}

const BACKEND_NAMES: Record<Backend, string> = { webgpu: 'WebGPU', wasm: 'WASM' };

/** What a component's weights are, for advice when it runs out of memory. */
export interface WeightsNote {
  /** float32, float16, int8, … (the dominant initializer dtype); unknown when absent. */
  dtype?: string;
  /** Built by the studio from a single-file checkpoint: its weights can be made float16 in the Models view. */
  fromCheckpoint?: boolean;
}

const HALF_OR_LESS = new Set(['float16', 'int8', 'uint8', 'int4', 'uint4']);
const TO_FLOAT16 = "set this checkpoint's weights to float16 in the Models view (half the memory)";

/**
 * What to try after running out of memory: a pure decision from where (backend; loading or
 * running at a size) and what the weights are. Never "use float16" for weights that are half
 * already; for a checkpoint the studio built, the Models view's float16 weights rather than an
 * export the person would have to make.
 */
export function outOfMemoryAdvice(backend: Backend | undefined, loading: boolean, weights: WeightsNote = {}): string {
  const float32 = weights.dtype === 'float32';
  const half = weights.dtype !== undefined && HALF_OR_LESS.has(weights.dtype);
  if (backend === 'wasm') {
    if (loading) {
      if (half) return `its weights are ${weights.dtype} already and WASM memory is limited to 4 GB: use WebGPU if this browser has it, or a smaller (int8 weight-only) export`;
      if (float32 && weights.fromCheckpoint) return `its weights are float32 and WASM memory is limited to 4 GB: ${TO_FLOAT16}, or use WebGPU if this browser has it`;
      return 'a float16 export of the model is half the size (WASM memory is limited to 4 GB)';
    }
    if (float32 && weights.fromCheckpoint) return `WASM memory is limited to 4 GB: try a smaller size, ${TO_FLOAT16}, or use WebGPU if this browser has it`;
    if (half) return 'try a smaller size, or WebGPU if this browser has it (WASM memory is limited to 4 GB)';
    return 'try a smaller size (WASM memory is limited to 4 GB)';
  }
  if (loading) {
    if (float32 && weights.fromCheckpoint) return `${TO_FLOAT16}, or use the WASM backend (?backend=wasm)`;
    if (half) return `its weights are ${weights.dtype} already: use the WASM backend (?backend=wasm), or a GPU with more memory`;
    return 'use a float16 export of the model, or the WASM backend (?backend=wasm)';
  }
  return 'try a smaller size or the WASM backend (?backend=wasm)';
}

/**
 * A runtime failure of a diffusion component, said in the user's terms. Out of memory names the
 * component, what it was working on (`at 768×768`, `while loading 1.7 GB`) and what to try;
 * any other error passes through, its message prefixed with the component unless it names it.
 */
export function componentError(err: unknown, component: ComponentName, backend: Backend | undefined, what: string, weights?: WeightsNote): Error {
  if (isOutOfMemory(err)) {
    const on = backend ? ` on ${BACKEND_NAMES[backend]}` : '';
    const advice = outOfMemoryAdvice(backend, what.startsWith('while loading'), weights);
    return new Error(`the ${component} ran out of memory ${what}${on}: ${advice}`, { cause: err });
  }
  if (!(err instanceof Error)) return new Error(`${component}: ${String(err)}`, { cause: err });
  if (!new RegExp(`^(the )?${component}\\b`, 'i').test(err.message)) {
    // Same error object (its class and stack stay), so callers' instanceof checks still work.
    err.message = `${component}: ${err.message}`;
  }
  return err;
}

/** Runs `fn`, turning its failure into a componentError. */
async function guarded<T>(component: ComponentName, on: { backend?: Backend; weights?: WeightsNote }, what: () => string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw componentError(err, component, on.backend, what(), on.weights);
  }
}

/** `at 768×768` (image pixels), with the batch when there is more than one. */
export function atSize(width: number, height: number, batch = 1): string {
  return `at ${width}×${height}${batch > 1 ? ` (batch of ${batch})` : ''}`;
}

function specs(list: readonly import('onnxruntime-web').InferenceSession.ValueMetadata[]): Spec[] {
  return list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] }));
}

function findInput(session: OrtSession, names: string[], component: string): Spec {
  const inputs = specs(session.inputMetadata);
  const found = inputs.find((i) => names.includes(i.name));
  if (!found) {
    throw new ModelSignatureError(
      `${component}: expected an input named ${names.map((n) => `'${n}'`).join(' or ')}, the model has ${inputs.map((i) => `'${i.name}'`).join(', ')}`,
    );
  }
  return found;
}

const fixed = (dim: number | string | undefined): number | null => (typeof dim === 'number' && dim > 0 ? dim : null);

/** A float tensor in the dtype the model declares. */
function floatTensor(ort: Ort, spec: Spec, t: Tensor): OrtTensor {
  if (spec.type === 'float16') return new ort.Tensor('float16', toFloat16Array(t.data), t.dims as number[]);
  if (spec.type === 'float32') return new ort.Tensor('float32', t.data, t.dims as number[]);
  throw new ModelSignatureError(`input '${spec.name}' is ${spec.type}; expected float32 or float16`);
}

/** Any float output as float32, checked for NaN (a float16 overflow shows up here first). */
async function readFloat(out: OrtTensor, component: string): Promise<Tensor> {
  const raw = await out.getData();
  const data = out.type === 'float16' ? fromFloat16Array(raw as Uint16Array) : new Float32Array(raw as Float32Array);
  out.dispose();
  for (let i = 0; i < data.length; i++) {
    if (Number.isNaN(data[i])) {
      throw new Error(`${component} produced NaN values${out.type === 'float16' ? ' (float16 overflow: try a float32 model or the WASM backend)' : ''}`);
    }
  }
  return { data, dims: [...out.dims] };
}

/** Runs and reads the first output; the feeds are disposed after, except those in `keep`. */
async function runOne(session: OrtSession, feeds: Record<string, OrtTensor>, component: string, keep?: OrtTensor): Promise<Tensor> {
  try {
    const results = await session.run(feeds);
    return await readFloat(results[session.outputNames[0]], component);
  } finally {
    for (const t of Object.values(feeds)) if (t !== keep) t.dispose();
  }
}

/** The WebGPU device type, as far as it is used here (no @webgpu/types in this project). */
interface GpuDeviceLike {
  createBuffer(descriptor: { size: number; usage: number }): { destroy(): void };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferLike, dataOffset: number, size: number): void };
}
// GPUBufferUsage flags (WebGPU spec): STORAGE | COPY_SRC | COPY_DST.
const STORAGE_BUFFER_USAGE = 0x80 | 0x04 | 0x08;

/**
 * The text conditioning is the same for every step of a job: it is converted once and, on
 * WebGPU, uploaded once to a GPU buffer that every UNet step reads. Two entries, because a UNet
 * with a fixed batch of 1 takes the unconditional and the conditional half in turn.
 */
export class ConditioningCache {
  private entries: Array<{ source: Tensor; tensor: OrtTensor }> = [];
  /** How many tensors were made (a test counts them). */
  created = 0;

  constructor(
    private readonly ort: Ort,
    private readonly spec: Spec,
    private readonly backend?: Backend,
  ) {}

  async get(source: Tensor): Promise<OrtTensor> {
    const hit = this.entries.find((e) => e.source === source);
    if (hit) return hit.tensor;
    const tensor = await this.create(source);
    this.created++;
    this.entries.push({ source, tensor });
    if (this.entries.length > 2) this.entries.shift()!.tensor.dispose();
    return tensor;
  }

  has(tensor: OrtTensor): boolean {
    return this.entries.some((e) => e.tensor === tensor);
  }

  private async create(source: Tensor): Promise<OrtTensor> {
    const cpu = floatTensor(this.ort, this.spec, source);
    if (this.backend !== 'webgpu') return cpu;
    try {
      const device = (await this.ort.env.webgpu.device) as unknown as GpuDeviceLike;
      const data = cpu.data as Float32Array | Uint16Array;
      // WebGPU buffer sizes are multiples of 4; 16 keeps vectorised reads in bounds too.
      const buffer = device.createBuffer({ size: Math.ceil(data.byteLength / 16) * 16, usage: STORAGE_BUFFER_USAGE });
      device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      const onGpu = this.ort.Tensor.fromGpuBuffer(buffer as never, {
        dataType: cpu.type as 'float32' | 'float16',
        dims: cpu.dims,
        dispose: () => buffer.destroy(),
      });
      cpu.dispose();
      return onGpu as OrtTensor;
    } catch {
      // No device to upload to (yet): a CPU tensor, uploaded by ORT at each run, still works.
      return cpu;
    }
  }
}

export function createTextEncoderPort(ort: Ort, session: OrtSession, hiddenSize: number, backend?: Backend, weights?: WeightsNote): TextEncoderPort {
  const ids = findInput(session, ['input_ids'], 'text encoder');
  return {
    sequenceLength: fixed(ids.shape[1]),
    hiddenSize,
    run: (values: Int32Array, dims: readonly [number, number]): Promise<Tensor> =>
      guarded('text encoder', { backend, weights }, () => `at ${dims[0]}×${dims[1]} tokens`, async () => {
        const tensor =
          ids.type === 'int64'
            ? new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [...dims])
            : new ort.Tensor('int32', values, [...dims]);
        let results: Awaited<ReturnType<OrtSession['run']>>;
        try {
          results = await session.run({ [ids.name]: tensor });
        } finally {
          tensor.dispose();
        }
        const name = session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : session.outputNames[0];
        for (const other of session.outputNames) if (other !== name) results[other].dispose();
        return readFloat(results[name], 'text encoder');
      }),
  };
}

export function createUNetPort(ort: Ort, session: OrtSession, backend?: Backend, weights?: WeightsNote): UNetPort & { conditioning: ConditioningCache } {
  const sample = findInput(session, ['sample'], 'UNet');
  const timestep = findInput(session, ['timestep'], 'UNet');
  const hidden = findInput(session, ['encoder_hidden_states'], 'UNet');
  const channels = fixed(sample.shape[1]);
  if (channels !== null && channels !== 4 && channels !== 9) {
    throw new ModelSignatureError(`UNet 'sample' has ${channels} channels; expected 4, or 9 for inpainting`);
  }
  const h = fixed(sample.shape[2]);
  const w = fixed(sample.shape[3]);
  const conditioning = new ConditioningCache(ort, hidden, backend);

  const runBatch = async (x: Tensor, t: number, ehs: Tensor): Promise<Tensor> => {
    const batch = x.dims[0];
    // `[]`, `[1]` or `[batch]`, as the export declares.
    const tDims = timestep.shape.length === 0 ? [] : fixed(timestep.shape[0]) === 1 ? [1] : [batch];
    const count = tDims.length === 0 ? 1 : tDims[0];
    let tTensor: OrtTensor;
    if (timestep.type === 'int64') tTensor = new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(t))), tDims);
    else if (timestep.type === 'float16') tTensor = new ort.Tensor('float16', toFloat16Array(new Float32Array(count).fill(t)), tDims);
    else if (timestep.type === 'float32') tTensor = new ort.Tensor('float32', new Float32Array(count).fill(t), tDims);
    else throw new ModelSignatureError(`UNet 'timestep' is ${timestep.type}; expected int64, float32 or float16`);
    const ehsTensor = await conditioning.get(ehs);
    return runOne(session, { [sample.name]: floatTensor(ort, sample, x), [timestep.name]: tTensor, [hidden.name]: ehsTensor }, 'UNet', ehsTensor);
  };

  // WASM's 4 GB may hold a full-size UNet's weights and one image's activations but not two
  // (classifier-free guidance runs the unconditional and the conditional image as a batch of 2;
  // measured: SD 1.5 at 512² on WASM). Then the batch runs one image at a time from that step
  // on — the same result, at the same total cost — instead of failing the job.
  let oneAtATime = false;
  const slices = new WeakMap<Tensor, Tensor[]>();
  const sliceOf = (t: Tensor, i: number) => {
    let list = slices.get(t);
    if (!list) slices.set(t, (list = []));
    return (list[i] ??= sliceBatch(t, i, i + 1));
  };
  const runEach = async (x: Tensor, t: number, ehs: Tensor) => {
    const out: Tensor[] = [];
    for (let i = 0; i < x.dims[0]; i++) out.push(await runBatch(sliceBatch(x, i, i + 1), t, sliceOf(ehs, i)));
    return concatBatch(out);
  };

  return {
    conditioning,
    inChannels: (channels ?? 4) as 4 | 9,
    maxBatch: fixed(sample.shape[0]),
    sequenceLength: fixed(hidden.shape[1]),
    latentSize: h !== null && w !== null ? [h, w] : null,
    run: (x: Tensor, t: number, ehs: Tensor): Promise<Tensor> =>
      guarded('UNet', { backend, weights }, () => atSize(x.dims[3] * 8, x.dims[2] * 8, oneAtATime ? 1 : x.dims[0]), async () => {
        if (x.dims[0] === 1) return runBatch(x, t, ehs);
        if (oneAtATime) return runEach(x, t, ehs);
        try {
          return await runBatch(x, t, ehs);
        } catch (err) {
          if (backend !== 'wasm' || !isOutOfMemory(err)) throw err;
          oneAtATime = true;
          return runEach(x, t, ehs);
        }
      }),
  };
}

export function createVaeDecoderPort(ort: Ort, session: OrtSession, backend?: Backend, weights?: WeightsNote): VaeDecoderPort {
  const input = findInput(session, ['latent_sample'], 'VAE decoder');
  return {
    run: (latents) =>
      guarded('VAE decoder', { backend, weights }, () => atSize(latents.dims[3] * 8, latents.dims[2] * 8, latents.dims[0]), () =>
        runOne(session, { [input.name]: floatTensor(ort, input, latents) }, 'VAE decoder'),
      ),
  };
}

export function createVaeEncoderPort(ort: Ort, session: OrtSession, backend?: Backend, weights?: WeightsNote): VaeEncoderPort {
  const input = findInput(session, ['sample'], 'VAE encoder');
  return {
    run: (image: Tensor): Promise<Tensor> =>
      guarded('VAE encoder', { backend, weights }, () => atSize(image.dims[3], image.dims[2], image.dims[0]), async () => {
        const out = await runOne(session, { [input.name]: floatTensor(ort, input, image) }, 'VAE encoder');
        const [b, c, h, w] = out.dims;
        if (c === 4) return out;
        if (c !== 8) throw new ModelSignatureError(`VAE encoder returned ${c} channels; expected 4, or 8 (mean and log-variance)`);
        // Latent distribution parameters: the mean is the first 4 channels of each batch item.
        const plane = 4 * h * w;
        const mean = new Float32Array(b * plane);
        for (let i = 0; i < b; i++) mean.set(out.data.subarray(i * 2 * plane, i * 2 * plane + plane), i * plane);
        return { data: mean, dims: [b, 4, h, w] };
      }),
  };
}
