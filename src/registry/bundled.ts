import { z } from 'zod';
import { DETECTOR_LAYOUTS, type ModelInfo } from '../protocol/models';

/** Where a bundled file came from and what it is: every models.json entry has these. */
const provenance = {
  name: z.string(),
  file: z.string(),
  source: z.object({ package: z.string(), version: z.string(), path: z.string() }),
  license: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
};

export const BundledUpscaler = z.object({
  ...provenance,
  type: z.literal('upscaler'),
  scale: z.number().int().positive(),
  value_range: z.tuple([z.number(), z.number()]),
  layout: z.literal('NCHW'),
  input: z.string(),
  output: z.string(),
  receptive_radius: z.number().int().nonnegative(),
  peak_channels: z.number().int().positive(),
});
export type BundledUpscaler = z.infer<typeof BundledUpscaler>;

export const BundledDetector = z.object({
  ...provenance,
  type: z.literal('detector'),
  /** How its outputs are decoded (src/pipeline/detection). */
  detector_layout: z.enum(DETECTOR_LAYOUTS),
  /** What it finds, by class index. */
  classes: z.array(z.string()).min(1),
  /** Pixel values 0..255 map linearly onto this range. */
  value_range: z.tuple([z.number(), z.number()]),
  layout: z.literal('NCHW'),
  input: z.string(),
  /** [1, 3, height, width]. */
  input_shape: z.tuple([z.literal(1), z.literal(3), z.number().int().positive(), z.number().int().positive()]),
  /** Every output, in the session's order. */
  outputs: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().positive()) })).min(1),
});
export type BundledDetector = z.infer<typeof BundledDetector>;

/** An entry of `public/models/models.json`, written by `npm run convert-models`. */
export const BundledModel = z.discriminatedUnion('type', [BundledUpscaler, BundledDetector]);
export type BundledModel = z.infer<typeof BundledModel>;

export const isBundledUpscaler = (model: BundledModel): model is BundledUpscaler => model.type === 'upscaler';
export const isBundledDetector = (model: BundledModel): model is BundledDetector => model.type === 'detector';

export const BundledManifest = z.object({ models: z.array(BundledModel) });
export type BundledManifest = z.infer<typeof BundledManifest>;

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** models.json's entries, read with `readModelFile` (fetch in the worker, fs in Node). */
export async function readBundledManifest(readModelFile: (file: string) => Promise<Uint8Array>): Promise<BundledModel[]> {
  const parsed = BundledManifest.safeParse(JSON.parse(new TextDecoder().decode(await readModelFile('models.json'))));
  if (!parsed.success) throw new Error(`models.json is malformed: ${parsed.error.message}`);
  return parsed.data.models;
}

/** A bundled model file's bytes, after checking them against models.json's sha256. */
export async function verifiedBundledBytes(model: { file: string; sha256: string }, bytes: Uint8Array): Promise<Uint8Array> {
  const digest = await sha256Hex(bytes);
  if (digest !== model.sha256) {
    throw new Error(`bundled model ${model.file} is damaged (sha256 ${digest.slice(0, 12)}…, expected ${model.sha256.slice(0, 12)}…); reload the app to fetch it again`);
  }
  return bytes;
}

/** A bundled model as a read-only registry entry. */
export function bundledModelInfo(model: BundledModel, discoveredAt: string): ModelInfo {
  return {
    name: model.name,
    model_type: model.type,
    file_path: `models/${model.file}`,
    file_size_bytes: model.bytes,
    discovered_at: discoveredAt,
    description: `Bundled with the app: converted from ${model.source.package} ${model.source.version} (${model.license})`,
    tags: ['bundled'],
    metadata: { source: model.source, license: model.license },
    status: 'verified',
    status_message: null,
    components: [
      {
        path: model.file,
        role: model.type,
        bytes: model.bytes,
        sha256: model.sha256,
        dtype: 'float32',
        file_id: `bundled:${model.file}`,
      },
    ],
    ...(model.type === 'upscaler' ? { upscaler: { scale: model.scale, value_range: model.value_range } } : {}),
    ...(model.type === 'detector' ? { detector: { layout: model.detector_layout, classes: model.classes, input_size: model.input_shape[2] } } : {}),
    read_only: true,
  };
}
