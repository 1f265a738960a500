/**
 * zod schemas for every record kept in IndexedDB. Rows are validated when read back, because
 * the database outlives the code that wrote it (older builds, manual edits, half-migrated data).
 * The TypeScript record types are inferred from these, so schema and type cannot drift apart.
 */
import { z } from 'zod';
import { JobKind, JobStatus } from '../protocol/schemas';
import { CorruptRecordError } from './errors';

const timestamp = z.number().finite().nonnegative(); // ms since the epoch
const plainObject = z.record(z.string(), z.unknown());

export const ArtifactRecordSchema = z.object({
  id: z.string().min(1),
  job_id: z.string().min(1),
  stage: z.string().min(1),
  /** e.g. '<job>/generated_upscaled.png' */
  name: z.string().min(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** size of the PNG blob */
  bytes: z.number().int().nonnegative(),
  mime: z.literal('image/png'),
  parameters: plainObject,
  metadata: plainObject,
  created_at: timestamp,
});
export type ArtifactRecord = z.infer<typeof ArtifactRecordSchema>;

/** The PNG bytes live in their own store so that listing artifacts never loads them. */
export const ArtifactBlobRecordSchema = z.object({
  id: z.string().min(1),
  blob: z.instanceof(Blob),
});
export type ArtifactBlobRecord = z.infer<typeof ArtifactBlobRecordSchema>;

export { JobKind as JobKindSchema, JobStatus as JobStatusSchema } from '../protocol/schemas';
export type { JobKind, JobStatus } from '../protocol/schemas';

export const JobRecordSchema = z.object({
  id: z.string().min(1),
  /** the submitted { pipeline_config, input_data }, minus big binary inputs */
  request: z.unknown(),
  kind: JobKind,
  status: JobStatus,
  created_at: timestamp,
  started_at: timestamp.optional(),
  finished_at: timestamp.optional(),
  /** stage name → milliseconds */
  timings: z.record(z.string(), z.number()).optional(),
  error: z.string().nullable().optional(),
  /** artifact ids, in the order they were produced */
  artifacts: z.array(z.string()),
  metadata: plainObject.optional(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

/**
 * A job's whole input (image bytes, latents included), kept while the job is queued or running
 * so the tab that takes over the queue after a reload can still run it. Its own store, so that
 * listing jobs never loads image bytes.
 */
export const JobInputRecordSchema = z.object({
  id: z.string().min(1),
  pipeline_config: z.unknown(),
  input_data: plainObject,
});
export type JobInputRecord = z.infer<typeof JobInputRecordSchema>;

/**
 * One piece of a stored model file. The model's row in `models` (ModelInfo, validated with the
 * protocol's schema) is what makes the file usable; chunks alone are never shown to the user.
 */
export const ModelChunkRecordSchema = z.object({
  /** Identifies one stored file; a ModelComponent's `file_id`. */
  file_id: z.string().min(1),
  /** 0, 1, 2, … without gaps; the file is the chunks concatenated in this order. */
  index: z.number().int().nonnegative(),
  /** The import that wrote it, so an abandoned import's chunks can be found and deleted. */
  import_id: z.string().min(1),
  /** size of `blob`, kept so it can be checked against the blob read back */
  bytes: z.number().int().nonnegative(),
  blob: z.instanceof(Blob),
  created_at: timestamp,
});
export type ModelChunkRecord = z.infer<typeof ModelChunkRecordSchema>;

/**
 * An ONNX graph built from a stored single-file checkpoint (its weights stay in the checkpoint's
 * chunks; this is the graph alone, megabytes). Checked against its hash when read back, so a
 * damaged row is rebuilt rather than handed to the runtime.
 */
export const ModelGraphRecordSchema = z.object({
  /** The checkpoint's stored file (a ModelComponent's `file_id`). */
  file_id: z.string().min(1),
  /** text_encoder, unet, vae_decoder or vae_encoder. */
  component: z.string().min(1),
  /** The type the graph computes in: float32 or float16. */
  compute: z.string().min(1),
  /** The graph builder's version: a newer builder writes other graphs, so older rows are not used. */
  builder: z.number().int().nonnegative(),
  blob: z.instanceof(Blob),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** How long building it took. */
  build_ms: z.number().nonnegative(),
  created_at: timestamp,
});
export type ModelGraphRecord = z.infer<typeof ModelGraphRecordSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`).join('; ');
}

/** How a damaged row is named in messages: its id, a model's name, or a chunk's file and index. */
function rowId(row: unknown): string {
  const r = (row ?? {}) as { id?: unknown; name?: unknown; file_id?: unknown; index?: unknown };
  if (r.id !== undefined) return String(r.id);
  if (r.name !== undefined) return String(r.name);
  if (r.file_id !== undefined) return `${String(r.file_id)}#${String(r.index)}`;
  return '?';
}

/** For listings: the parsed row, or undefined with a warning, so one bad row does not hide the rest. */
export function parseListedRow<S extends z.ZodType>(schema: S, store: string, row: unknown): z.output<S> | undefined {
  const parsed = schema.safeParse(row);
  if (parsed.success) return parsed.data;
  console.warn(`skipping damaged ${store} record "${rowId(row)}": ${describeIssues(parsed.error)}`);
  return undefined;
}

/** For reads by id: the parsed row, or a CorruptRecordError that says what is wrong. */
export function parseFetchedRow<S extends z.ZodType>(schema: S, store: string, row: unknown): z.output<S> {
  const parsed = schema.safeParse(row);
  if (parsed.success) return parsed.data;
  throw new CorruptRecordError(store, rowId(row), describeIssues(parsed.error));
}

/** Before writing: refuse a record that could not be read back. */
export function parseNewRecord<S extends z.ZodType>(schema: S, store: string, record: unknown): z.output<S> {
  const parsed = schema.safeParse(record);
  if (parsed.success) return parsed.data;
  throw new TypeError(`invalid ${store} record: ${describeIssues(parsed.error)}`);
}
