/**
 * `npm run bench`: esrgan-slim ×4 on one 512×512 image with this project's onnxruntime-web path,
 * UpscalerJS (tfjs WASM) and onnxruntime-node. Figures, not a test: nothing here fails on speed.
 * Each contender runs in its own process (contender.ts) so its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appTiling, CONTENDERS, THREADS, WARMUP_LIMIT_S } from './contender';

const BASELINE = 'ort-web-tiled';
const REFERENCE = 'ort-node-whole';
const contenderScript = fileURLToPath(new URL('./contender.ts', import.meta.url));

interface Result {
  name: string;
  loadS: number;
  firstS: number;
  seconds: number;
  cpuS: number;
  warm: boolean;
  peakRssMb: number;
  load1: number;
  note: string;
}

function version(pkg: string): string {
  const url = new URL(`../../node_modules/${pkg}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

function runContender(name: string, outFile: string): Result {
  const child = spawnSync(process.execPath, ['--import', 'tsx', contenderScript, name, outFile], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
    timeout: 180_000,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (child.status !== 0 || !line) {
    throw new Error(`contender ${name} failed (exit ${child.status ?? child.signal}):\n${child.stderr}${child.stdout}`);
  }
  return JSON.parse(line.slice('BENCH '.length)) as Result;
}

function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`outputs differ in size: ${a.length} vs ${b.length} bytes`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === r.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const { tileSize, overlap } = await appTiling();
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), node ${process.version}, load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(
    `versions: onnxruntime-web ${version('onnxruntime-web')}, onnxruntime-node ${version('onnxruntime-node')}, ` +
      `upscaler ${version('upscaler')}, @tensorflow/tfjs ${version('@tensorflow/tfjs')}, ` +
      `tfjs-backend-wasm ${version('@tensorflow/tfjs-backend-wasm')}, @upscalerjs/esrgan-slim ${version('@upscalerjs/esrgan-slim')}`,
  );
  console.log(`task: astronaut.png 512×512 ×4 with esrgan-slim-x4; app tiling: tile ${tileSize}, overlap ${overlap}; ${THREADS} threads where settable`);
  console.log(`timing: one warm-up run, then the timed run (a first run over ${WARMUP_LIMIT_S} s would be timed itself, marked cold)\n`);

  const dir = mkdtempSync(join(tmpdir(), 'media-lab-bench-'));
  try {
    const results: Result[] = [];
    for (const name of Object.keys(CONTENDERS)) {
      process.stdout.write(`  running ${name}…`);
      const r = runContender(name, join(dir, `${name}.rgb`));
      console.log(` ${r.seconds.toFixed(2)} s`);
      results.push(r);
    }
    const base = results.find((r) => r.name === BASELINE)!;
    const reference = readFileSync(join(dir, `${REFERENCE}.rgb`));
    const rows = [['contender', 'model s', 'first s', 'seconds', '× ' + BASELINE, 'cpu/wall', 'peak RSS MB', 'max diff', 'mean diff', 'loadavg', 'notes']];
    for (const r of results) {
      const d = diff(reference, readFileSync(join(dir, `${r.name}.rgb`)));
      rows.push([
        r.name,
        r.loadS.toFixed(2),
        r.firstS.toFixed(2),
        r.seconds.toFixed(2) + (r.warm ? '' : ' (cold)'),
        (r.seconds / base.seconds).toFixed(2),
        (r.cpuS / r.seconds).toFixed(2),
        r.peakRssMb.toFixed(0),
        String(d.max),
        d.mean.toExponential(1),
        r.load1.toFixed(1),
        r.note,
      ]);
    }
    console.log('\n' + table(rows));
    console.log(`\nseconds: the timed (warm) run; × ${BASELINE}: its seconds over this project's; cpu/wall: CPU seconds of all threads per wall second;\nmodel s: loading the model; loadavg: 1-minute load average as the contender finished (this machine is shared; above ${cpus().length} means contention)`);
    console.log(`diffs: 8-bit RGB levels vs ${REFERENCE}; peak RSS: VmHWM of the contender's own process`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
