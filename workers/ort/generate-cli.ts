/**
 * `npm run generate -- --model <folder> --prompt "…" [--negative "…"] [--steps N] [--cfg G]
 *   [--scheduler NAME] [--karras] [--seed S | --latents file.f32] [--width W --height H]
 *   [--emphasis none] [--batch N] --out image.png`
 *
 * The studio's text-to-image in Node: the same model-folder reading, ports and denoising loop as
 * the worker, on onnxruntime-web's WASM build. For scripting, benchmarks and checks.
 * `--latents` is raw little-endian float32 `[1, 4, H/8, W/8]` (unscaled noise).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { textToImage } from '../../src/pipeline/diffusion/text-to-image';
import { tensorToImages } from '../../src/pipeline/diffusion/latents';
import { formatInfotext, samplerToA1111 } from '../../src/media/infotext';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks } from '../../src/media/png-text';
import type { SchedulerName } from '../../src/pipeline/diffusion/schedulers';
import { loadDiffusionModel } from './diffusion-model';
import type { Ort } from './types';

export interface GenerateCliResult {
  files: string[];
  seconds: number;
}

export async function runGenerateCli(argv: string[], log: (line: string) => void = console.log): Promise<GenerateCliResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      negative: { type: 'string', default: '' },
      steps: { type: 'string' },
      cfg: { type: 'string' },
      scheduler: { type: 'string', default: 'euler' },
      karras: { type: 'boolean', default: false },
      seed: { type: 'string' },
      latents: { type: 'string' },
      width: { type: 'string', default: '512' },
      height: { type: 'string', default: '512' },
      emphasis: { type: 'string', default: 'original' },
      batch: { type: 'string', default: '1' },
      out: { type: 'string' },
      threads: { type: 'string', default: '2' },
    },
    strict: true,
  });
  if (!values.model) throw new Error('--model <folder> is required');
  if (values.prompt === undefined) throw new Error('--prompt "…" is required');
  if (!values.out) throw new Error('--out image.png is required');
  if (values.seed !== undefined && values.latents !== undefined) throw new Error('give --seed or --latents, not both');
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${v}'`);
    return n;
  };
  const width = num('width', values.width)!;
  const height = num('height', values.height)!;
  const batch = num('batch', values.batch)!;
  let latents;
  if (values.latents) {
    const bytes = await readFile(values.latents);
    const expected = batch * 4 * (height / 8) * (width / 8);
    if (bytes.byteLength !== expected * 4) {
      throw new Error(`--latents has ${bytes.byteLength} bytes; [${batch}, 4, ${height / 8}, ${width / 8}] float32 needs ${expected * 4}`);
    }
    const data = new Float32Array(expected);
    new Uint8Array(data.buffer).set(bytes);
    latents = { data, dims: [batch, 4, height / 8, width / 8] };
  }
  const seed = num('seed', values.seed) ?? (latents ? 0 : Math.floor(Math.random() * 2 ** 32));

  ort.env.wasm.numThreads = num('threads', values.threads)!;
  const folder = values.model;
  const model = await loadDiffusionModel(ort as unknown as Ort, async (path) => readFile(join(folder, path)).then((b) => new Uint8Array(b)).catch(() => undefined), 'wasm');
  const started = performance.now();
  try {
    const params = {
      prompt: values.prompt,
      negative_prompt: values.negative,
      steps: num('steps', values.steps),
      guidance_scale: num('cfg', values.cfg),
      scheduler: values.scheduler as SchedulerName,
      karras: values.karras,
      width,
      height,
      seed,
      batch_size: batch,
      emphasis: values.emphasis as 'original' | 'none',
      latents,
    };
    const result = await textToImage(model, params, {
      onProgress: (step, total) => log(`step ${step}/${total}`),
    });
    const seconds = (performance.now() - started) / 1000;
    const { sampler, scheduleType } = samplerToA1111(values.scheduler as SchedulerName, values.karras);
    const files: string[] = [];
    const images = tensorToImages(result);
    for (let i = 0; i < images.length; i++) {
      const text = formatInfotext({
        prompt: values.prompt,
        negative_prompt: values.negative,
        steps: result.info.timesteps.length,
        sampler,
        scheduleType,
        cfg_scale: params.guidance_scale ?? 7.5,
        seed,
        width,
        height,
        model: folder.split(/[\\/]/).filter(Boolean).pop(),
      });
      const json = JSON.stringify({ params: { ...params, latents: latents ? 'given' : undefined }, info: result.info });
      const png = addPngTextChunks(encodePng(images[i]), [
        { keyword: 'parameters', text },
        { keyword: 'media-lab', text: json },
      ]);
      const file = images.length === 1 ? values.out : values.out.replace(/(\.png)?$/i, `-${i + 1}.png`);
      await writeFile(file, png);
      files.push(file);
    }
    log(`wrote ${files.join(', ')} in ${seconds.toFixed(2)} s (seed ${seed}, ${result.info.scheduler})`);
    return { files, seconds };
  } finally {
    await model.release();
  }
}

// Run as a script (not when imported by tests).
if (process.argv[1] && /generate-cli\.ts$/.test(process.argv[1])) {
  runGenerateCli(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`generate: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
