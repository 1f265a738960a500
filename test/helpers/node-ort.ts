/**
 * The production ORT upscaler provider, wired for Node: onnxruntime-web's Node (WASM) build and
 * the committed public/models files read from disk.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { OrtUpscalerProvider } from '../../workers/ort/upscalers';
import type { Ort } from '../../workers/ort/types';

export const modelsDir = fileURLToPath(new URL('../../public/models/', import.meta.url));

let configured = false;
export function nodeOrt(): Ort {
  if (!configured) {
    ort.env.wasm.numThreads = 2;
    configured = true;
  }
  return ort as unknown as Ort;
}

export function createNodeUpscalers(): OrtUpscalerProvider {
  return new OrtUpscalerProvider({
    ort: nodeOrt(),
    backend: 'wasm',
    readModelFile: async (file) => new Uint8Array(await readFile(`${modelsDir}${file}`)),
  });
}
