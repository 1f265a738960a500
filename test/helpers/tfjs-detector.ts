/**
 * The human-models TF.js graph detectors (test/fixtures/human-models) as DetectorPorts, run by
 * @tensorflow/tfjs on its WASM backend in Node: the reference the ONNX detectors are held to.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { DetectorLayout, DetectorPort } from '../../src/pipeline/ports';
import type { Tensor } from '../../src/pipeline/tensor';

const MODELS = fileURLToPath(new URL('../fixtures/human-models/', import.meta.url));
const WASM_DIR = fileURLToPath(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url));

type Tf = typeof import('@tensorflow/tfjs');
let tfReady: Promise<Tf> | null = null;

/** tfjs with the WASM backend, initialised once per process. */
export function loadTf(): Promise<Tf> {
  tfReady ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(WASM_DIR);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
    await tf.ready();
    return tf;
  })();
  return tfReady;
}

const FIXTURES: Record<string, { layout: DetectorLayout; classes: string[] }> = {
  'blazeface-back': { layout: 'blazeface', classes: ['face'] },
  handdetect: { layout: 'palm', classes: ['hand'] },
};

/** A fixture model (`blazeface-back`, `handdetect`) as a port: NCHW in, outputs in the graph's order. */
export async function tfjsDetector(name: keyof typeof FIXTURES & string): Promise<DetectorPort> {
  const tf = await loadTf();
  const json = JSON.parse(await readFile(`${MODELS}${name}.json`, 'utf8'));
  const groups = json.weightsManifest as Array<{ paths: string[]; weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }>;
  const shards = await Promise.all(groups.flatMap((g) => g.paths).map((p) => readFile(`${MODELS}${p}`)));
  const model = await tf.loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: groups.flatMap((g) => g.weights),
      weightData: new Uint8Array(Buffer.concat(shards)).buffer,
    }),
  });
  const inputSize = model.inputs[0].shape![1];
  return {
    id: name,
    ...FIXTURES[name],
    inputSize,
    valueRange: [-1, 1],
    async run(input: Tensor): Promise<Tensor[]> {
      // The graph takes NHWC; the port speaks NCHW.
      const nchw = tf.tensor(input.data, [...input.dims]);
      const nhwc = tf.transpose(nchw, [0, 2, 3, 1]);
      const out = model.execute(nhwc);
      const list = Array.isArray(out) ? out : [out as import('@tensorflow/tfjs').Tensor];
      try {
        return await Promise.all(list.map(async (t) => ({ data: new Float32Array(await t.data()), dims: [...t.shape] })));
      } finally {
        tf.dispose([nchw, nhwc, ...list]);
      }
    },
  };
}
