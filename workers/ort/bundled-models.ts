import { z } from 'zod';

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
