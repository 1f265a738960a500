/**
 * The Enhance view's optional refiner (img2img before the upscale): its settings, the checkpoint
 * it would use (from the page's one checkpoint list) and everything that stops it from running
 * (src/app/lib/enhance-form.ts decides what is valid: the protocol's limits).
 */
import { createMemo, createSignal, type Accessor } from 'solid-js';
import { canRefineWith, refineProblems as problemsOf, REFINE_DEFAULT_STRENGTH, type RefineChoice } from '../lib/enhance-form';
import type { ModelLists } from './checkpoints';

export function createRefineSettings(lists: ModelLists, inputSize: Accessor<{ width: number; height: number } | null>) {
  const [refine, setRefine] = createSignal(false);
  const [modelChoice, setRefineModel] = createSignal('');
  const [refineStrength, setRefineStrength] = createSignal<number>(REFINE_DEFAULT_STRENGTH);
  const [refinePrompt, setRefinePrompt] = createSignal('');
  /** null = the checkpoint's default. */
  const [refineSteps, setRefineSteps] = createSignal<number | null>(null);
  const [alsoUpscale, setAlsoUpscale] = createSignal(true);

  /** The user's pick if it can refine, else the first checkpoint that can ('' = none). */
  const refineModel = createMemo(() => {
    const usable = lists.verified().filter(canRefineWith);
    const choice = modelChoice();
    return usable.some((m) => m.name === choice) ? choice : (usable[0]?.name ?? '');
  });
  /** Everything that stops the refiner from running now (all of it, so one fix is not followed by another surprise). */
  const refineProblems = createMemo(() =>
    !refine()
      ? []
      : problemsOf({
          checkpoints: lists.checkpoints.error ? [] : lists.checkpoints.latest,
          checkpointsError: lists.checkpoints.error,
          model: refineModel(),
          inputSize: inputSize(),
          strength: refineStrength(),
          steps: refineSteps(),
        }),
  );

  /** The refiner stage as chosen now, or null when it is off. */
  const refineChoice = (): RefineChoice | null => {
    if (!refine()) return null;
    const steps = refineSteps();
    return { model: refineModel(), strength: refineStrength(), prompt: refinePrompt(), ...(steps !== null ? { steps } : {}) };
  };

  return {
    refine,
    setRefine,
    refineModel,
    setRefineModel,
    refineStrength,
    setRefineStrength,
    refinePrompt,
    setRefinePrompt,
    refineSteps,
    setRefineSteps,
    alsoUpscale,
    setAlsoUpscale,
    refineProblems,
    refineProblem: createMemo(() => refineProblems()[0] ?? null),
    refineChoice,
    checkpointsLoading: () => lists.checkpoints.loading,
    verifiedCheckpoints: lists.verified,
    canRefineWith,
  };
}
