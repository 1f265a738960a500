/** Tiny diffusion model folders (built in code) opened with onnxruntime-web's WASM build in Node. */
import { loadDiffusionModel, type LoadedDiffusionModel } from '../../workers/ort/diffusion-model';
import { presetFiles, type PresetName } from '../fixtures/tiny-diffusion/factory';
import type { DiffusersFolderOptions } from '../fixtures/tiny-diffusion/factory';
import { nodeOrt } from './node-ort';

export async function loadTinyModel(preset: PresetName, extra?: DiffusersFolderOptions): Promise<LoadedDiffusionModel> {
  const files = presetFiles(preset, extra);
  return loadDiffusionModel(nodeOrt(), async (path) => files.get(path), 'wasm');
}
