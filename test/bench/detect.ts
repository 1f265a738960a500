/**
 * `npm run bench -- detect`: detection time per image in Node, this project's path (ONNX on
 * onnxruntime-web WASM, letterbox and decoding in TypeScript) beside the TF.js original graph
 * models (tfjs WASM backend) on the same photos, in one process, one after the other.
 * Figures, not a test. "outside" is the time of detect() not spent in the model run: the
 * letterbox, the decoding and NMS, and moving tensors.
 */
import { readFileSync } from 'node:fs';
import { decodePng } from '../../src/media/png';
import { detect } from '../../src/pipeline/detection/detect';
import type { DetectorPort } from '../../src/pipeline/ports';
import { OrtDetectorProvider } from '../../workers/ort/detector';
import { modelsDir, nodeOrt } from '../helpers/node-ort';
import { tfjsDetector } from '../helpers/tfjs-detector';

const IMAGES = ['astronaut.png', 'hands.png', 'chelsea.png'];
const RUNS = 5;

export interface DetectRow {
  detector: string;
  runtime: string;
  image: string;
  size: string;
  found: number;
  /** Medians over RUNS warm runs, ms. */
  wallMs: number;
  runMs: number;
}

/** The port, with the time spent in its model runs added up. */
function timed(port: DetectorPort): DetectorPort & { runMs: number } {
  const wrapped = {
    ...port,
    runMs: 0,
    async run(input: Parameters<DetectorPort['run']>[0]) {
      const started = performance.now();
      try {
        return await port.run(input);
      } finally {
        wrapped.runMs += performance.now() - started;
      }
    },
  };
  return wrapped;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchDetectors(): Promise<DetectRow[]> {
  const ort = nodeOrt();
  const provider = new OrtDetectorProvider({ ort, backend: 'wasm', readModelFile: async (file) => new Uint8Array(readFileSync(`${modelsDir}${file}`)) });
  const contenders: Array<{ detector: string; runtime: string; port: DetectorPort }> = [];
  for (const [bundled, fixture] of [['blazeface-back', 'blazeface-back'], ['mediapipe-palm', 'handdetect']] as const) {
    const model = (await provider.models()).find((m) => m.name === bundled)!;
    contenders.push({ detector: bundled, runtime: 'ort-web (ONNX)', port: await provider.load(model) });
    contenders.push({ detector: bundled, runtime: 'tfjs-wasm (graph model)', port: await tfjsDetector(fixture) });
  }
  const rows: DetectRow[] = [];
  for (const name of IMAGES) {
    const image = decodePng(readFileSync(new URL(`../fixtures/images/${name}`, import.meta.url)));
    for (const c of contenders) {
      const port = timed(c.port);
      await detect(image, port, { threshold: 0.5 }); // warm-up: kernels, first allocation
      const walls: number[] = [];
      const runs: number[] = [];
      let found = 0;
      for (let i = 0; i < RUNS; i++) {
        port.runMs = 0;
        const started = performance.now();
        found = (await detect(image, port, { threshold: 0.5 })).length;
        walls.push(performance.now() - started);
        runs.push(port.runMs);
      }
      rows.push({ detector: c.detector, runtime: c.runtime, image: name, size: `${image.width}×${image.height}`, found, wallMs: median(walls), runMs: median(runs) });
    }
  }
  return rows;
}
