import { z } from 'zod';
import type { ModelInfo } from '../protocol/models';

/** `public/models/models.json`, written by `npm run convert-models`. */
export const BundledModel = z.object({
  name: z.string(),
  file: z.string(),
  type: z.literal('upscaler'),
  scale: z.number().int().positive(),
  value_range: z.tuple([z.number(), z.number()]),
  layout: z.literal('NCHW'),
  input: z.string(),
  output: z.string(),
  receptive_radius: z.number().int().nonnegative(),
  peak_channels: z.number().int().positive(),
  source: z.object({ package: z.string(), version: z.string(), path: z.string() }),
  license: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
});
export type BundledModel = z.infer<typeof BundledModel>;

export const BundledManifest = z.object({ models: z.array(BundledModel) });
export type BundledManifest = z.infer<typeof BundledManifest>;

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
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
        role: 'upscaler',
        bytes: model.bytes,
        sha256: model.sha256,
        dtype: 'float32',
        file_id: `bundled:${model.file}`,
      },
    ],
    upscaler: { scale: model.scale, value_range: model.value_range },
    read_only: true,
  };
}
