/**
 * The registered checkpoints (and the upscaler models), listed once for every view that offers
 * them (Generate's model and refiner pickers, Enhance's refiner). Listed when a view first asks,
 * and listed again each time a view asks again (a model may have been imported meanwhile).
 */
import { createEffect, createMemo, createResource, createRoot, createSignal, untrack } from 'solid-js';
import { connectStudio, studio } from '../../client/studio-client';
import type { ModelInfo } from '../../protocol/models';
import type { UpscalerModelInfo } from '../../protocol/schemas';
import { modelsApi } from '../lib/models';

function createModelLists() {
  const [asked, setAsked] = createSignal(0);
  const [checkpoints, { refetch }] = createResource(
    () => asked() || false,
    async (): Promise<ModelInfo[]> => {
      await connectStudio();
      return modelsApi().list('checkpoint');
    },
  );
  // LoRAs and embeddings, for the Generate view's picker (A1111's extra networks).
  const [extras] = createResource(
    () => asked() || false,
    async (): Promise<ModelInfo[]> => {
      await connectStudio();
      const [loras, embeddings] = await Promise.all([modelsApi().list('lora'), modelsApi().list('embedding')]);
      return [...loras, ...embeddings].filter((m) => m.status === 'verified');
    },
  );
  const [upscalers] = createResource(
    () => asked() > 0,
    async (): Promise<UpscalerModelInfo[]> => {
      await connectStudio();
      return studio().upscalers();
    },
  );
  /** Every registered checkpoint ([] while loading or after an error). */
  const all = createMemo<ModelInfo[]>(() => (checkpoints.error ? [] : (checkpoints.latest ?? [])));
  /** The verified ones: those a job can use. */
  const verified = createMemo(() => all().filter((m) => m.model_type === 'checkpoint' && m.status === 'verified'));
  /** Whether the list has arrived (or failed). */
  const loaded = createMemo(() => checkpoints.state === 'ready' || checkpoints.state === 'refreshing' || !!checkpoints.error);
  const upscalerList = createMemo<UpscalerModelInfo[]>(() => (upscalers.error ? [] : (upscalers.latest ?? [])));

  /** Resolves once the checkpoint list has arrived (or failed), asking for it if nobody has. */
  const ensure = (): Promise<void> => {
    if (loaded()) return Promise.resolve();
    if (untrack(asked) === 0) setAsked(1);
    return new Promise<void>((resolve) => {
      createRoot((dispose) => {
        createEffect(() => {
          if (!loaded()) return;
          queueMicrotask(dispose);
          resolve();
        });
      });
    });
  };

  /** Verified LoRAs and embeddings ([] while loading or after an error). */
  const extraNetworks = createMemo<ModelInfo[]>(() => (extras.error ? [] : (extras.latest ?? [])));

  /** Whether that list has arrived: before, nothing can be said to be missing. */
  const extraNetworksLoaded = () => extras.state === 'ready' || extras.state === 'refreshing';

  return {
    checkpoints,
    extraNetworks,
    extraNetworksLoaded,
    all,
    verified,
    loaded,
    upscalers,
    upscalerList,
    /** Lists the models (the first time) or lists them again. */
    want: () => setAsked((n) => n + 1),
    ensure,
    refetch,
  };
}

export type ModelLists = ReturnType<typeof createModelLists>;

let lists: ModelLists | undefined;

/** The one checkpoint and upscaler list of the page. */
export function modelLists(): ModelLists {
  lists ??= createRoot(() => createModelLists());
  return lists;
}
