/**
 * The Enhance view's optional Detailer (faces/hands found and redrawn, or a painted mask
 * inpainted): its settings, the checkpoint it would use, the boxes "Find" drew, the mask the
 * editor holds, and what stops it from running (src/app/lib/enhance-detail.ts decides).
 */
import { batch, createMemo, createSignal, type Accessor } from 'solid-js';
import { detectRegions, studio } from '../../client/studio-client';
import type { DetectOutcome } from '../../protocol/api';
import type { DetailerTarget } from '../../protocol/pipeline-config';
import { encodePng } from '../../media/png';
import { asRecord, plainError } from '../format';
import { detailProblems, INITIAL_DETAIL, type DetailChoice, type DetailMode } from '../lib/enhance-detail';
import { canRefineWith, noCheckpointMessage } from '../lib/enhance-form';
import { maskFromPng } from '../lib/mask-editor';
import type { ModelLists } from './checkpoints';
import type { EnhanceSource } from './enhance-source';

/** The painted mask: one byte per image pixel, 255 = redraw (the mask editor's). */
export interface PaintedMask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The mask as the stage reads it: an opaque PNG at the image's size, white = redraw. */
function maskPng(mask: PaintedMask): Blob {
  const rgba = new Uint8ClampedArray(mask.width * mask.height * 4);
  for (let i = 0; i < mask.data.length; i++) {
    const v = mask.data[i]!;
    rgba[i * 4] = v;
    rgba[i * 4 + 1] = v;
    rgba[i * 4 + 2] = v;
    rgba[i * 4 + 3] = 255;
  }
  return new Blob([encodePng({ width: mask.width, height: mask.height, data: rgba }) as Uint8Array<ArrayBuffer>], { type: 'image/png' });
}

export function createDetailSettings(lists: ModelLists, source: Accessor<EnhanceSource | null>) {
  const [detail, setDetail] = createSignal(false);
  const [settings, setSettings] = createSignal<DetailChoice>({ ...INITIAL_DETAIL, targets: [...INITIAL_DETAIL.targets] });
  const [modelChoice, setDetailModel] = createSignal('');
  // Kept here, not in the editor, so the mask survives showing a result or another view.
  const [mask, setMask] = createSignal<PaintedMask | null>(null);
  const maskPainted = () => mask() !== null;

  // "Find": the boxes found on the current image, for the current targets and confidence.
  const [found, setFound] = createSignal<DetectOutcome | null>(null);
  const [finding, setFinding] = createSignal(false);
  const [findError, setFindError] = createSignal<string | null>(null);
  let findGeneration = 0;

  /** The user's pick if it can start from an image, else the first checkpoint that can ('' = none). */
  const detailModel = createMemo(() => {
    const usable = lists.verified().filter(canRefineWith);
    const choice = modelChoice();
    return usable.some((m) => m.name === choice) ? choice : (usable[0]?.name ?? '');
  });
  const choice = createMemo((): DetailChoice => ({ ...settings(), model: detailModel() }));

  const detailProblemList = createMemo(() =>
    !detail()
      ? []
      : detailProblems({
          choice: choice(),
          maskPainted: maskPainted(),
          checkpointsLoading: !lists.loaded(),
          checkpointsError: lists.checkpoints.error,
          noModelMessage: lists.checkpoints.error
            ? `Could not list the checkpoints: ${plainError(lists.checkpoints.error)}`
            : noCheckpointMessage(lists.all(), 'detail'),
        }),
  );

  const update = (patch: Partial<DetailChoice>) => setSettings((s) => ({ ...s, ...patch }));
  const toggleTarget = (target: DetailerTarget, on: boolean) =>
    setSettings((s) => {
      const targets = s.targets.filter((t) => t !== target);
      if (on) targets.push(target);
      // Faces before hands, as the stage runs them.
      targets.sort((a, b) => (a === b ? 0 : a === 'face' ? -1 : 1));
      return { ...s, targets };
    });

  /** Forgets the boxes (the image, the targets or the confidence changed). */
  const clearFound = () => {
    findGeneration++;
    batch(() => {
      setFound(null);
      setFinding(false);
      setFindError(null);
    });
  };

  /** Runs the detectors on the current image and keeps what they found, to draw over it. */
  const find = async () => {
    const input = source();
    if (!input || finding()) return;
    const gen = ++findGeneration;
    const { targets, confidence } = settings();
    batch(() => {
      setFinding(true);
      setFindError(null);
    });
    try {
      const file = input.kind === 'file' ? input.file : new File([input.blob], input.name, { type: input.blob.type });
      const outcome = await detectRegions(file, { targets, confidence });
      if (gen === findGeneration) setFound(outcome);
    } catch (err) {
      if (gen === findGeneration) setFindError(`Could not look for ${targets.join(' or ')}s: ${plainError(err)}`);
    } finally {
      if (gen === findGeneration) setFinding(false);
    }
  };

  /**
   * A gallery image made by inpainting a painted mask comes back with that mask (its job keeps
   * the mask's PNG), in mask mode: the usual next step is to inpaint the result again.
   */
  const restoreMaskOf = async (artifact: { job_id: string; width: number; height: number }): Promise<boolean> => {
    const job = await studio()
      .getJob(artifact.job_id)
      .catch(() => undefined);
    const png = asRecord(asRecord(asRecord(job?.request)?.input_data)?.mask_file)?.png;
    if (!(png instanceof ArrayBuffer)) return false;
    const restored = maskFromPng(new Uint8Array(png), artifact.width, artifact.height);
    batch(() => {
      setMask(restored.data.some((v) => v > 0) ? restored : null);
      setDetail(true);
      update({ mode: 'mask' });
    });
    return true;
  };

  /** The stage as chosen now, or null when it is off. */
  const detailChoice = (): DetailChoice | null => (detail() ? choice() : null);

  return {
    detail,
    setDetail,
    detailSettings: choice,
    detailModel,
    setDetailModel,
    setDetailMode: (mode: DetailMode) => update({ mode }),
    updateDetail: (patch: Partial<DetailChoice>) => {
      if ('targets' in patch || 'confidence' in patch) clearFound();
      update(patch);
    },
    toggleTarget: (target: DetailerTarget, on: boolean) => {
      clearFound();
      toggleTarget(target, on);
    },
    maskPainted,
    /** The painted mask to restore when the editor opens again (null = none). */
    mask,
    /** After every edit: the mask, or null when nothing is painted. */
    setMask,
    restoreMaskOf,
    /** Forgets the mask (another image was picked). */
    clearMask: () => setMask(null),
    /** The mask to send with the job (mask mode only). */
    maskForRun: async (): Promise<Blob | null> => {
      const painted = mask();
      return detail() && settings().mode === 'mask' && painted ? maskPng(painted) : null;
    },
    detailProblems: detailProblemList,
    detailProblem: createMemo(() => detailProblemList()[0] ?? null),
    detailChoice,
    found,
    finding,
    findError,
    find,
    clearFound,
  };
}
