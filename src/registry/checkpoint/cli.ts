/**
 * `npm run convert-checkpoint -- model.safetensors --out folder/ [--fp16 | --fp32]`
 *
 * A single-file Stable Diffusion checkpoint (original LDM key names) → a self-contained
 * diffusers / optimum ONNX folder, with the same reader and graph builder the studio uses in the
 * browser. Without a dtype flag each weight keeps the checkpoint's type.
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readSafetensorsHeader } from '../safetensors';
import { planCheckpoint } from './ldm-keys';
import type { CheckpointPlan } from './architecture';
import { writeCheckpointFolder, type CheckpointBytes, type FolderWriter } from './onnx-folder';

/**
 * A single-file checkpoint on disk: its header read and planned (a LoRA, an embedding, SDXL or a
 * truncated header is refused here, in the reader's words) and its bytes read from an open
 * handle only when asked for. `close` when done.
 */
export async function openCheckpointFile(file: string): Promise<{ plan: CheckpointPlan; source: CheckpointBytes; close(): Promise<void> }> {
  const header = await readSafetensorsHeader(await openAsBlob(file));
  const plan = planCheckpoint(header, basename(file));
  const handle = await open(file, 'r');
  const source: CheckpointBytes = {
    dataOffset: 8 + header.headerBytes,
    async read(begin, end) {
      const bytes = new Uint8Array(end - begin);
      const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, begin);
      if (bytesRead !== bytes.byteLength) throw new Error(`${file} ended at byte ${begin + bytesRead}, before the tensor data it announces (truncated?)`);
      return bytes;
    },
  };
  return { plan, source, close: () => handle.close() };
}

export async function runConvertCheckpoint(argv: string[], log: (line: string) => void = (l) => console.error(l)): Promise<string[]> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, fp16: { type: 'boolean', default: false }, fp32: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new Error('give one checkpoint: npm run convert-checkpoint -- model.safetensors --out folder/ [--fp16 | --fp32]');
  if (!values.out) throw new Error('--out <folder> is required');
  if (values.fp16 && values.fp32) throw new Error('--fp16 and --fp32 exclude each other');
  const out = values.out;

  const { plan, source, close } = await openCheckpointFile(file);
  log(
    `${file}: ${plan.family === 'sd1' ? 'SD 1.x' : 'SD 2.x'}${plan.inpainting ? ' inpainting' : ''}, UNet ${plan.unet.blockChannels.join('/')}, ` +
      `text width ${plan.text.width}, ${plan.prediction}${plan.ignored ? `; ${plan.ignored} keys not used (EMA, schedule buffers, …)` : ''}`,
  );
  try {
    const writer: FolderWriter = {
      async write(path, data) {
        const target = join(out, path);
        await mkdir(dirname(target), { recursive: true });
        await pipeline(data instanceof Uint8Array ? Readable.from([data]) : Readable.from(data), createWriteStream(target));
      },
    };
    const dtype = values.fp16 ? 'float16' : values.fp32 ? 'float32' : undefined;
    const written = await writeCheckpointFolder(plan, source, writer, {
      ...(dtype ? { dtype } : {}),
      onProgress: ({ component, total }) => log(`${component}: ${(total / 1e6).toFixed(1)} MB of weights`),
    });
    log(`wrote ${written.length} files to ${out}`);
    return written;
  } finally {
    await close();
  }
}

// Run as a script (not when imported by tests).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runConvertCheckpoint(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`convert-checkpoint: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
