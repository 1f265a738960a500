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
  ort: () => Promise<{ ort: Ort; backend: Backend }>;
  listModels(): Promise<ModelInfo[]>;
  reader(info: ModelInfo): FolderReader;
}

export const NO_CHECKPOINT =
  'no checkpoint is registered: import one in the Models view (an SD-Turbo or SD 1.5 ONNX export in float16)';

export class OrtDiffusionProvider implements DiffusionProvider {
  private current: { name: string; loaded: Promise<LoadedDiffusionModel> } | null = null;

  constructor(private readonly deps: DiffusionProviderDeps) {}

  async load(model: string | undefined): Promise<DiffusionModelHandle> {
    const all = await this.deps.listModels();
    const info = model ? all.find((m) => m.name === model) : all.find((m) => m.model_type === 'checkpoint' && m.status === 'verified');
    if (!info) throw new Error(model ? `no model named '${model}' is registered` : NO_CHECKPOINT);
    if (info.model_type !== 'checkpoint') throw new Error(`'${info.name}' is a ${info.model_type}, not a checkpoint`);
    if (info.status !== 'verified') throw new Error(`'${info.name}' did not pass verification: ${info.status_message ?? info.status}`);
    if (this.current?.name !== info.name) {
      await this.release();
      const { ort, backend } = await this.deps.ort();
      const loaded = loadDiffusionModel(ort, this.deps.reader(info), backend);
      this.current = { name: info.name, loaded };
      loaded.catch(() => {
        if (this.current?.loaded === loaded) this.current = null;
      });
    }
    const models = await this.current!.loaded;
    const family = info.family;
    return {
      name: info.name,
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
