/**
 * `npm run bench -- lora [--fp32] [--rank=32]`: a rank-32 kohya LoRA with random matrices on
 * every transformer module of a full-size SD 1.5 UNet (192 modules: attn1/attn2 q/k/v/out,
 * ff, proj_in/proj_out of the 16 transformer blocks, LDM-path names as A1111-era LoRAs have them),
 * merged into the UNet built from a full-size random checkpoint (test/fixtures/full-size-checkpoint.ts,
 * float16 as the common download, `--fp32` for a float32 one) through the worker's path: the
 * checkpoint seen as a folder (checkpointFolder), the LoRA matched and patched by loraFolder.
 *
 * Figures, side by side in one run: reading the UNet's weights plain (what a load without a
 * LoRA reads), reading them merged (weight 1), and switching the weight (0.5: match and merge
 * again from the original bytes, the LoRA's modules already parsed, as the worker caches them);
 * the extra memory merging holds (loraFolder's largestCopyBytes: the copy, when not patched in
 * place, plus the largest weight's float32 buffers; and the process's peak RSS growth, which only
 * shows a new high).
 * Session creation is not included (the same for a merged and a plain UNet). Needs ~6 GB of free
 * memory and 2–4 GB of disk; the temp files are removed after.
 */
import { open } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { openAsBlob } from 'node:fs';
import { join } from 'node:path';
import type { LoraModule } from '../../src/pipeline/diffusion/lora';
import { planCheckpoint } from '../../src/registry/checkpoint/ldm-keys';
import { checkpointFolder } from '../../src/registry/checkpoint/virtual-folder';
import { loraFolder, type FolderReader, type MatrixProduct } from '../../src/registry/lora/merge';
import { ortMatrixProduct } from '../../workers/ort/matrix-product';
import type { Ort } from '../../workers/ort/types';
import { loraAddnetHash } from '../../src/registry/lora/hash';
import { inspectOnnx, sliceableBytes } from '../../src/registry/onnx-inspect';
import { readSafetensorsHeader, type SafetensorsTensor } from '../../src/registry/safetensors';
import { SD15 } from '../fixtures/ldm-checkpoint';
import { withTempDir, writeFullSizeCheckpoint } from '../fixtures/full-size-checkpoint';
import { kohyaFile, loraModulesOf, randomLayer, type LayerSpec } from '../fixtures/lora/lora-files';

const UNET_PREFIX = 'model.diffusion_model.';
const THREADS = 2;
/** The modules kohya's sd-scripts trains in a UNet: the transformer blocks' linears and the 1×1 proj convs around them. */
const TRAINED = /(transformer_blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2))|\.proj_in|\.proj_out)\.weight$/;

async function readRange(file: string, begin: number, end: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const bytes = new Uint8Array(end - begin);
    for (let at = 0; at < bytes.length; ) {
      const { bytesRead } = await handle.read(bytes, at, Math.min(bytes.length - at, 2 ** 30), begin + at);
      if (!bytesRead) throw new Error(`${file} ended at ${begin + at}`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** A random LoRA of `rank` on every trained module of the checkpoint's UNet, LDM-path kohya names. */
function randomLora(tensors: readonly SafetensorsTensor[], rank: number): { file: Uint8Array; modules: number } {
  const layers: Record<string, LayerSpec> = {};
  let seed = 1;
  for (const t of tensors) {
    if (!t.name.startsWith(UNET_PREFIX) || !TRAINED.test(t.name)) continue;
    const path = t.name.slice(UNET_PREFIX.length, -'.weight'.length);
    const [out, inp, kh] = t.shape;
    layers[`lora_unet_${path.replace(/\./g, '_')}`] = randomLayer(seed++, rank, out, inp, { alpha: rank / 2, scale: 0.05, ...(kh ? { kernel: kh } : {}) });
  }
  return { file: kohyaFile(layers, 'F16'), modules: Object.keys(layers).length };
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const rssMb = () => process.resourceUsage().maxRSS / 1024;

/** Reads every file the UNet's graph names as external data; the bytes are dropped as read. */
async function readUnetWeights(read: FolderReader, locations: readonly string[]): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  let bytes = 0;
  for (const location of locations) bytes += (await read(`unet/${location}`))?.byteLength ?? 0;
  return { seconds: (performance.now() - started) / 1000, bytes };
}

export async function benchLora(flags: string[]): Promise<void> {
  const dtype = flags.includes('--fp32') ? 'F32' : 'F16';
  const rank = Number(flags.find((f) => f.startsWith('--rank='))?.slice('--rank='.length) ?? 32);
  console.log(`== lora: rank-${rank} kohya LoRA (random, float16) merged into a full-size SD 1.5 UNet (${dtype} checkpoint), Node ${process.version} ==`);
  await withTempDir(async (dir) => {
    const path = join(dir, 'sd15.safetensors');
    const written = await writeFullSizeCheckpoint(path, { config: SD15, dtype });
    const header = await readSafetensorsHeader(await openAsBlob(path));
    const plan = planCheckpoint(header, 'sd15.safetensors');
    const folder = checkpointFolder(plan, { dataOffset: written.dataOffset, read: (b, e) => readRange(path, b, e) }, { compute: 'float32', weights: 'checkpoint' });
    console.log(`checkpoint: ${mb(written.bytes)} written in ${written.seconds.toFixed(1)} s`);

    const lora = randomLora(header.tensors, rank);
    let t = performance.now();
    const modules: LoraModule[] = await loraModulesOf(lora.file);
    const parseS = (performance.now() - t) / 1000;
    t = performance.now();
    const hash = await loraAddnetHash(new Blob([lora.file as Uint8Array<ArrayBuffer>]));
    const hashS = (performance.now() - t) / 1000;
    console.log(`LoRA file: ${mb(lora.file.byteLength)}, ${lora.modules} modules; parsed in ${parseS.toFixed(2)} s (cached per file in the worker); addnet hash ${hash} in ${hashS.toFixed(2)} s (once, at import)`);

    // The UNet graph is built (and in the app, cached) before any merge: not part of the figures.
    t = performance.now();
    const graph = (await folder.read('unet/model.onnx'))!;
    const locations = (await inspectOnnx(sliceableBytes(graph))).externalData.map((e) => e.location.replace(/^\.\//, ''));
    console.log(`UNet graph built in ${((performance.now() - t) / 1000).toFixed(1)} s; weights in ${locations.join(', ')}`);

    const rows: Array<[string, string, string, string]> = [];
    const plain = await readUnetWeights(folder.read, locations);
    rows.push(['read the UNet weights, no LoRA', plain.seconds.toFixed(2), mb(plain.bytes), '—']);

    const web = await import('onnxruntime-web');
    web.env.wasm.numThreads = THREADS;
    const product = ortMatrixProduct(web as unknown as Ort);
    const run = async (label: string, weight: number, multiply?: MatrixProduct, freshReads = false) => {
      const rssBefore = rssMb();
      const started = performance.now();
      const merged = await loraFolder(folder.read, [{ name: 'bench', modules, weight }], { multiply, freshReads });
      const matchS = (performance.now() - started) / 1000;
      const read = await readUnetWeights(merged.read, locations);
      const total = (performance.now() - started) / 1000;
      const report = merged.report[0];
      rows.push([
        `${label} (weight ${weight})`,
        `${total.toFixed(2)} (match ${matchS.toFixed(2)}, read+merge ${read.seconds.toFixed(2)})`,
        mb(read.bytes),
        `held ${mb(merged.largestCopyBytes)}; peak RSS +${(rssMb() - rssBefore).toFixed(0)} MB`,
      ]);
      return report;
    };
    await run('merge, JS product, into a copy', 1);
    const report = await run('merge, ORT MatMul, in place (the worker)', 1, product.multiply, true);
    await run('switch weight, ORT MatMul, in place', 0.5, product.multiply, true);
    await run('switch back, ORT MatMul, in place', 1, product.multiply, true);
    await product.release();

    console.log(`LoRA \`bench\`: ${report.matched} of ${report.total} modules${report.unmatched.length ? ` (unmatched: ${report.unmatched.slice(0, 3).join('; ')})` : ''}`);
    const width = [52, 44, 10, 40];
    console.log(['what', 'seconds', 'bytes', 'extra memory'].map((h, i) => h.padEnd(width[i])).join(''));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i])).join(''));
    const seconds = (row: number) => Number(rows[row][1].split(' ')[0]);
    console.log(
      `merge over a plain load's read: +${(seconds(2) - plain.seconds).toFixed(2)} s with ORT's MatMul, +${(seconds(1) - plain.seconds).toFixed(2)} s with the JS loop ` +
        `(ORT ${(seconds(1) / seconds(2)).toFixed(1)}× faster); switching the weight costs a merge again ` +
        '(the worker then reopens the UNet and text encoder sessions, never the VAE)',
    );
    console.log(`onnxruntime-web WASM ${THREADS} threads; machine load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
  });
}
