/**
 * The probe run once after a model is imported: every ONNX component gets a session and one
 * minimal run, so "verified" means the runtime really loaded and ran it. Upscalers with dynamic
 * shapes get their scale and value range from it.
 */
import type { ModelInfo } from '../../src/protocol/models';
import type { Backend } from '../../src/protocol/schemas';
import { detect } from '../../src/pipeline/detection/detect';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { yoloClassNames } from '../../src/registry/detector-classes';
import { inspectOnnx, sliceableBytes } from '../../src/registry/onnx-inspect';
import { createOrtDetector } from './detector';
import { loadDiffusionModel, type FolderReader } from './diffusion-model';
import type { Ort, OrtSession } from './types';

export interface ProbeResult {
  ok: boolean;
  message: string;
  upscaler?: { scale: number; value_range: [number, number] };
  detector?: NonNullable<ModelInfo['detector']>;
}

const msg = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function probeModel(ort: Ort, info: ModelInfo, read: FolderReader, backend: Backend): Promise<ProbeResult> {
  try {
    if (info.model_type === 'checkpoint') return await probeCheckpoint(ort, info, read, backend);
    if (info.model_type === 'upscaler') return await probeUpscaler(ort, info, read, backend);
    if (info.model_type === 'detector') return await probeDetector(ort, info, read, backend);
    // LoRA and embedding files have no graph to run; their headers were fully validated.
    return { ok: true, message: 'header validated (no runtime graph to probe)' };
  } catch (err) {
    return { ok: false, message: `${backend.toUpperCase()} could not run it: ${msg(err)}` };
  }
}

async function probeCheckpoint(ort: Ort, info: ModelInfo, read: FolderReader, backend: Backend): Promise<ProbeResult> {
  const started = Date.now();
  const model = await loadDiffusionModel(ort, read, backend);
  try {
    const ids = new Int32Array(77).fill(model.family?.padTokenId ?? 49407);
    ids[0] = 49406;
    ids[1] = 49407;
    const text = await model.textEncoder.run(ids, [1, 77]);
    const [h, w] = model.unet.latentSize ?? [8, 8];
    const batch = model.unet.maxBatch ?? 1;
    const sample = { data: new Float32Array(batch * model.unet.inChannels * h * w), dims: [batch, model.unet.inChannels, h, w] };
    const hidden = text.dims[2];
    const ehs = { data: new Float32Array(batch * 77 * hidden), dims: [batch, 77, hidden] };
    const out = await model.unet.run(sample, 999, ehs);
    const decoded = await model.vaeDecoder.run({ data: new Float32Array(4 * h * w), dims: [1, 4, h, w] });
    const summary = `text encoder → [${text.dims.join(', ')}], UNet → [${out.dims.join(', ')}], VAE decoder → [${decoded.dims.join(', ')}]`;
    return { ok: true, message: `ran on ${backend.toUpperCase()} in ${Date.now() - started} ms: ${summary}` };
  } finally {
    await model.release();
  }
}

async function session(ort: Ort, info: ModelInfo, read: FolderReader, backend: Backend): Promise<OrtSession> {
  const main = info.components.find((c) => c.role === 'upscaler' || c.role === 'detector');
  if (!main) throw new Error('the model has no ONNX component');
  const bytes = await read(main.path);
  if (!bytes) throw new Error(`${main.path} is missing from storage`);
  const externalData = [];
  for (const location of main.external_data ?? []) {
    const data = await read(location);
    if (!data) throw new Error(`external data ${location} is missing from storage`);
    externalData.push({ path: location, data });
  }
  return ort.InferenceSession.create(bytes, { executionProviders: [backend], ...(externalData.length ? { externalData } : {}) });
}

/**
 * Scale from output/input size on a 16×16 gradient; value range by which of [0, 1] and [0, 255]
 * inputs the model reproduces better (a network trained on one range turns the other into noise).
 */
async function probeUpscaler(ort: Ort, info: ModelInfo, read: FolderReader, backend: Backend): Promise<ProbeResult> {
  const s = await session(ort, info, read, backend);
  try {
    const input = s.inputNames[0];
    const meta = s.inputMetadata[0];
    const dims = meta?.isTensor ? meta.shape : [];
    const size = typeof dims[2] === 'number' ? dims[2] : 16;
    const width = typeof dims[3] === 'number' ? dims[3] : 16;
    const plane = size * width;
    const gradient = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) gradient[c * plane + i] = ((i % width) / width + c / 6) / 1.5;
    const errors: Array<{ range: [number, number]; error: number; scale: number }> = [];
    for (const hi of [1, 255]) {
      const data = gradient.map((v) => v * hi);
      const feed = new ort.Tensor('float32', data, [1, 3, size, width]);
      const result = await s.run({ [input]: feed });
      const out = result[s.outputNames[0]];
      const values = (await out.getData()) as Float32Array;
      const [, , oh, ow] = out.dims;
      const scale = Math.round(oh / size);
      if (oh !== size * scale || ow !== width * scale || scale < 1) throw new Error(`output [${out.dims.join(', ')}] is not an integer multiple of the input ${size}×${width}`);
      // Compare the output, sampled back at input resolution, with the input, both in 0..1.
      let err = 0;
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < size; y++)
          for (let x = 0; x < width; x++) {
            const o = values[c * oh * ow + (y * scale + (scale >> 1)) * ow + x * scale + (scale >> 1)] / hi;
            err += Math.abs(o - gradient[c * plane + y * width + x]);
          }
      errors.push({ range: [0, hi], error: err / (3 * plane), scale });
      feed.dispose();
      out.dispose();
    }
    const best = errors.sort((a, b) => a.error - b.error)[0];
    return {
      ok: true,
      message: `ran on ${backend.toUpperCase()}: ×${best.scale}, values ${best.range[0]}–${best.range[1]}`,
      upscaler: { scale: best.scale, value_range: best.range },
    };
  } finally {
    await s.release();
  }
}

/**
 * A detector is verified only if the studio can decode it: its outputs must fit a known layout
 * (MediaPipe BlazeFace / palm anchors, YOLO-style); otherwise the message says what they are.
 * A YOLO detector's classes are named by its metadata or, for one class, its file name
 * (detector-classes.ts); without either they stay numbered and it is not chosen for a target.
 */
async function probeDetector(ort: Ort, info: ModelInfo, read: FolderReader, backend: Backend): Promise<ProbeResult> {
  const main = info.components.find((c) => c.role === 'detector');
  if (!main) throw new Error('the model has no ONNX component');
  if (main.external_data?.length) throw new Error('detectors with external data files are not supported; export it as one .onnx file');
  const bytes = await read(main.path);
  if (!bytes) throw new Error(`${main.path} is missing from storage`);
  const detector = await createOrtDetector(bytes, { ort, backend, id: info.name });
  try {
    // One run through the decoder, on a blank image (nothing to find: only that it decodes).
    const started = Date.now();
    await detect(createRgbaImage(detector.inputSize, detector.inputSize), detector, { threshold: 1 });
    const ms = Date.now() - started;
    const named =
      detector.decoding.layout === 'yolo'
        ? yoloClassNames({ metadata: (await inspectOnnx(sliceableBytes(bytes, main.path))).metadata, numClasses: detector.decoding.numClasses, fileName: main.path })
        : null;
    const classes = named ?? [...detector.classes];
    return {
      ok: true,
      message: `ran on ${backend.toUpperCase()} in ${ms} ms: ${detector.layout} decoding, finds ${classes.join(', ')}, input ${detector.inputSize}×${detector.inputSize}`,
      detector: { layout: detector.layout, classes, input_size: detector.inputSize },
    };
  } finally {
    await detector.release();
  }
}
