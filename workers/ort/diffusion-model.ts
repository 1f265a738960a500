/**
 * Opens a Stable Diffusion model folder (diffusers/optimum layout or the onnxruntime-web SD-Turbo
 * layout) as the pipeline's DiffusionModels: one session per component, ports that adapt dtypes,
 * the folder's tokenizer and scheduler config when present, family defaults from the text
 * encoder's width otherwise (768 → SD 1.x, pad 49407; 1024 → SD 2.x / Turbo, pad 0).
 */
import { ClipTokenizer } from '../../src/pipeline/diffusion/tokenizer/clip';
import type { DiffusionModels, FamilyDefaults } from '../../src/pipeline/ports';
import { padTokenForTextEncoderWidth } from '../../src/protocol/models';
import type { Backend } from '../../src/protocol/schemas';
import { BUILDER_PRODUCER } from '../../src/registry/checkpoint/build/graph-builder';
import { inspectOnnx, sliceableBytes, type OnnxInfo } from '../../src/registry/onnx-inspect';
import {
  componentError,
  createTextEncoderPort,
  createUNetPort,
  createVaeDecoderPort,
  createVaeEncoderPort,
  ModelSignatureError,
  type ComponentName,
  type WeightsNote,
} from './diffusion-ports';
import type { Ort, OrtSession } from './types';

/** Reads a file of the folder by its path inside it (`unet/model.onnx`); undefined if absent. */
export type FolderReader = (path: string) => Promise<Uint8Array | undefined>;

export interface LoadedDiffusionModel extends DiffusionModels {
  sessions: OrtSession[];
  hiddenSize: number;
  /** Each component's session as opened (or reused), for a caller that keeps some across loads. */
  components: Partial<Record<ComponentDir, OpenedSession>>;
  release(): Promise<void>;
}

/** The folders of a model's ONNX components. */
export type ComponentDir = 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder';

export interface LoadOptions {
  /**
   * Sessions to take as they are instead of opening the component again (the VAE when only the
   * LoRAs changed). They stay the caller's: a failed load does not release them.
   */
  reuse?: Partial<Record<ComponentDir, OpenedSession>>;
}

const COMPONENTS: Record<string, ComponentName> = {
  text_encoder: 'text encoder',
  unet: 'UNet',
  vae_decoder: 'VAE decoder',
  vae_encoder: 'VAE encoder',
};

/**
 * How far onnxruntime optimises a component's graph: a pure decision with its reason.
 *
 * A graph the studio built from a single-file checkpoint keeps the file's float16 weights and
 * casts them to float32 for float32 compute. Optimising folds those Casts at session creation:
 * float32 copies beside the float16 weights, about 3× the weights, which for an SD 1.5 UNet
 * (1.7 GB) is over WASM's 4 GB (measured: std::bad_alloc). Unoptimised, the Casts run in each
 * step instead, and the session creates and runs (measured: ~30 s per 512² step on 2 threads,
 * 5.2 GB renderer peak). Other models, and every model on WebGPU, keep the full optimisation.
 */
export function graphOptimizationFor(
  backend: Backend,
  info: Pick<OnnxInfo, 'producer' | 'inputs' | 'initializers'>,
): 'all' | 'disabled' {
  const castsHalfWeights =
    info.producer.name === BUILDER_PRODUCER && (info.initializers.byType.float16 ?? 0) > 0 && info.inputs.some((i) => i.type === 'float32');
  return backend === 'wasm' && castsHalfWeights ? 'disabled' : 'all';
}

export interface OpenedSession {
  session: OrtSession;
  weights: WeightsNote;
}

export async function openSession(ort: Ort, read: FolderReader, dir: string, backend: Backend): Promise<OpenedSession | undefined> {
  let bytes = 0;
  let weights: WeightsNote | undefined;
  try {
    const model = await read(`${dir}/model.onnx`);
    if (!model) return undefined;
    bytes = model.byteLength;
    // The external-data files its initializers name (`model.onnx_data`, or the parts of a
    // checkpoint seen as a folder: `model.onnx_data.0`, …), read without decoding the weights.
    const info = await inspectOnnx(sliceableBytes(model));
    weights = { dtype: info.weightDtype, fromCheckpoint: info.producer.name === BUILDER_PRODUCER };
    const externalData: Array<{ path: string; data: Uint8Array }> = [];
    for (const location of info.externalData.map((e) => e.location)) {
      const data = await read(`${dir}/${location.replace(/^\.\//, '')}`);
      if (!data) throw new ModelSignatureError(`the ${COMPONENTS[dir]} keeps its weights in ${dir}/${location}, which the model folder lacks`);
      externalData.push({ path: location, data });
      bytes += data.byteLength;
    }
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [backend],
      graphOptimizationLevel: graphOptimizationFor(backend, info),
      ...(externalData.length ? { externalData } : {}),
    });
    return { session, weights };
  } catch (err) {
    // Reading the files can run out of memory too (a multi-GB UNet), before its size is known.
    throw componentError(err, COMPONENTS[dir], backend, bytes ? `while loading (${formatBytes(bytes)})` : 'while loading', weights);
  }
}

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1e3))} kB`;
}

function textOf(bytes: Uint8Array | undefined): string | undefined {
  return bytes ? new TextDecoder().decode(bytes) : undefined;
}

/** The folder's tokenizer (`tokenizer/vocab.json` + `merges.txt`), else the bundled CLIP one. */
export async function loadTokenizer(read: FolderReader): Promise<ClipTokenizer> {
  const vocab = textOf(await read('tokenizer/vocab.json'));
  const merges = textOf(await read('tokenizer/merges.txt'));
  return vocab && merges ? ClipTokenizer.fromFiles(vocab, merges) : ClipTokenizer.default();
}

export async function loadDiffusionModel(ort: Ort, read: FolderReader, backend: Backend, options: LoadOptions = {}): Promise<LoadedDiffusionModel> {
  const sessions: OrtSession[] = [];
  const opened: OrtSession[] = [];
  const components: Partial<Record<ComponentDir, OpenedSession>> = {};
  const open = async (dir: ComponentDir, required: boolean) => {
    const reused = options.reuse?.[dir];
    const s = reused ?? (await openSession(ort, read, dir, backend));
    if (!s && required) throw new ModelSignatureError(`the model folder has no ${dir}/model.onnx`);
    if (s) {
      sessions.push(s.session);
      if (!reused) opened.push(s.session);
      components[dir] = s;
    }
    return s;
  };
  try {
    const { session: textEncoder, weights: textWeights } = (await open('text_encoder', true))!;
    const { session: unet, weights: unetWeights } = (await open('unet', true))!;
    const { session: vaeDecoder, weights: decoderWeights } = (await open('vae_decoder', true))!;
    const encoder = await open('vae_encoder', false);

    const hiddenMeta = textEncoder.outputMetadata.find((m) => m.name === 'last_hidden_state') ?? textEncoder.outputMetadata[0];
    const hiddenSize = hiddenMeta?.isTensor && typeof hiddenMeta.shape[2] === 'number' ? hiddenMeta.shape[2] : 768;
    const family: FamilyDefaults = { padTokenId: padTokenForTextEncoderWidth(hiddenSize) };
    // diffusers writes the VAE's latent scale into its config (SDXL: 0.13025).
    const vaeConfigText = textOf((await read('vae_decoder/config.json')) ?? (await read('vae/config.json')));
    const scalingFactor = vaeConfigText ? (JSON.parse(vaeConfigText) as { scaling_factor?: unknown }).scaling_factor : undefined;
    if (typeof scalingFactor === 'number' && Number.isFinite(scalingFactor) && scalingFactor > 0) family.vaeScale = scalingFactor;

    const tokenizer = await loadTokenizer(read);
    const schedulerText = textOf(await read('scheduler/scheduler_config.json'));
    const schedulerConfig = schedulerText ? (JSON.parse(schedulerText) as Record<string, unknown>) : undefined;

    return {
      textEncoder: createTextEncoderPort(ort, textEncoder, hiddenSize, backend, textWeights),
      unet: createUNetPort(ort, unet, backend, unetWeights),
      vaeDecoder: createVaeDecoderPort(ort, vaeDecoder, backend, decoderWeights),
      vaeEncoder: encoder ? createVaeEncoderPort(ort, encoder.session, backend, encoder.weights) : undefined,
      tokenizer,
      schedulerConfig,
      family,
      sessions,
      hiddenSize,
      components,
      release: async () => {
        await Promise.all(sessions.map((s) => s.release()));
      },
    };
  } catch (err) {
    // Only what this call opened: reused sessions stay with their owner.
    await Promise.all(opened.map((s) => s.release()));
    throw err;
  }
}
