/**
 * The worker's DiffusionProvider: opens a registered checkpoint from storage (one at a time:
 * switching models releases the previous sessions) and supplies its family defaults.
 */
import type { DiffusionModelHandle, DiffusionProvider } from '../../src/pipeline/ports';
import type { ModelInfo } from '../../src/protocol/models';
import type { Backend } from '../../src/protocol/schemas';
import { loadDiffusionModel, type FolderReader, type LoadedDiffusionModel } from './diffusion-model';
import type { Ort } from './types';

export interface DiffusionProviderDeps {
  /** `shaderF16`: whether the WebGPU adapter has the `shader-f16` feature (undefined = unknown). */
  ort: () => Promise<{ ort: Ort; backend: Backend; shaderF16?: boolean }>;
  listModels(): Promise<ModelInfo[]>;
  /** `onStatus`: what reading is doing when it takes a while (building a single-file checkpoint). */
  reader(info: ModelInfo, options?: { onStatus?: (message: string) => void }): FolderReader;
}

export const NO_CHECKPOINT =
  'no checkpoint is registered: import one in the Models view (an SD-Turbo or SD 1.5 ONNX export in float16)';

const DIFFUSION_ROLES = new Set(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);

/**
 * True when a diffusion component computes in float16: its weights are float16 (the registry's
 * dominant weight dtype) or it takes or returns float16 tensors. `mixed` weights alone say too
 * little to refuse a model; if one fails, session creation reports it (prefixed with the component).
 */
export function isFloat16Model(info: ModelInfo): boolean {
  return info.components.some(
    (c) =>
      DIFFUSION_ROLES.has(c.role) &&
      (c.dtype === 'float16' || [...(c.inputs ?? []), ...(c.outputs ?? [])].some((t) => t.type === 'float16')),
  );
}

/**
 * SHA-256 by component role. A single-file checkpoint's components all come from its one file, so
 * each carries the file's hash (and A1111's "Model hash" is then the real AutoV2 hash of the file).
 */
function componentHashes(info: ModelInfo): Record<string, string> {
  const file = info.source ? info.components.find((c) => c.role === 'checkpoint_weights') : undefined;
  if (file && info.source) return Object.fromEntries(info.source.built.map((role) => [role, file.sha256]));
  return Object.fromEntries(info.components.filter((c) => c.sha256).map((c) => [c.role, c.sha256]));
}

/** What a loaded model's sessions depend on: its name, and a checkpoint's weights choice (changing it in the Models view loads it again). */
function loadKey(info: ModelInfo): string {
  return JSON.stringify([info.name, info.source?.weights ?? null]);
}

export class OrtDiffusionProvider implements DiffusionProvider {
  /** The loaded model, keyed by what its sessions were made from (loadKey). */
  private current: { key: string; loaded: Promise<LoadedDiffusionModel> } | null = null;

  constructor(private readonly deps: DiffusionProviderDeps) {}

  async load(model: string | undefined, options: { onStatus?: (message: string) => void } = {}): Promise<DiffusionModelHandle> {
    const all = await this.deps.listModels();
    const info = model ? all.find((m) => m.name === model) : all.find((m) => m.model_type === 'checkpoint' && m.status === 'verified');
    if (!info) throw new Error(model ? `no model named '${model}' is registered` : NO_CHECKPOINT);
    if (info.model_type !== 'checkpoint') {
      const article = /^[aeiou]/.test(info.model_type) ? 'an' : 'a';
      throw new Error(`'${info.name}' is ${article} ${info.model_type}, not a checkpoint: pick a Stable Diffusion model`);
    }
    if (info.status !== 'verified') throw new Error(`'${info.name}' did not pass verification: ${info.status_message ?? info.status}`);
    const { ort, backend, shaderF16 } = await this.deps.ort();
    // WebGPU runs float16 kernels only with shader-f16; without it session creation fails obscurely.
    if (backend === 'webgpu' && shaderF16 === false && isFloat16Model(info)) {
      throw new Error(
        `'${info.name}' is a float16 model and this GPU has no shader-f16 support: use a float32 export of it, or the WASM backend (?backend=wasm)`,
      );
    }
    if (this.current?.key !== loadKey(info)) {
      await this.release();
      const loaded = loadDiffusionModel(ort, this.deps.reader(info, { onStatus: options.onStatus }), backend);
      this.current = { key: loadKey(info), loaded };
      loaded.catch(() => {
        if (this.current?.loaded === loaded) this.current = null;
      });
    }
    const models = await this.current!.loaded;
    const family = info.family;
    return {
      name: info.name,
      hashes: componentHashes(info),
      models: {
        ...models,
        family: {
          ...models.family,
          ...(family ? { padTokenId: family.pad_token_id } : {}),
          schedulerConfig: {
            ...(family?.timestep_spacing ? { timestep_spacing: family.timestep_spacing } : {}),
            ...(family ? { prediction_type: family.prediction_type } : {}),
          },
        },
      },
      defaults: {
        steps: family?.default_steps ?? 20,
        guidance_scale: family?.default_cfg ?? 7,
        scheduler: family?.default_scheduler ?? 'euler',
        ...(models.unet.latentSize ? { width: models.unet.latentSize[1] * 8, height: models.unet.latentSize[0] * 8 } : {}),
      },
    };
  }

  async release(): Promise<void> {
    const previous = this.current;
    this.current = null;
    if (previous) await (await previous.loaded.catch(() => null))?.release();
  }
}
