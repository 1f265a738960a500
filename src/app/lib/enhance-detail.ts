/**
 * The Enhance view's Detailer: what the user chose (find faces/hands, or a painted mask), the
 * `detailer` stage it becomes, what stops it from running, and where found boxes are drawn.
 * Validity is the stage's own schema (DetailerParameters in src/protocol/pipeline-config.ts).
 *
 * Pure (no DOM, no solid, no worker): unit-tested in Node.
 */
import {
  DEFAULTS,
  DetailerParameters,
  DETAILER_TARGETS,
  INPAINT_AREAS,
  LIMITS,
  MASKED_CONTENTS,
  type DetailerTarget,
  type InpaintAreaName,
  type MaskedContent,
  type StageConfigInput,
} from '../../protocol/pipeline-config';
import type { FormProblem } from './form-problem';

/** Find faces/hands and redraw each, or redraw what the user painted. */
export const DETAIL_MODES = ['detect', 'mask'] as const;
export type DetailMode = (typeof DETAIL_MODES)[number];

export const TARGET_LABELS: Record<DetailerTarget, string> = { face: 'Faces', hand: 'Hands' };

export const MASKED_CONTENT_LABELS: Record<MaskedContent, string> = {
  original: 'Original',
  fill: 'Fill',
  latent_noise: 'Latent noise',
  latent_nothing: 'Latent nothing',
};

export const INPAINT_AREA_LABELS: Record<InpaintAreaName, string> = {
  whole_picture: 'Whole picture',
  only_masked: 'Only masked',
};

/** The inputs' ranges (min / max / step attributes): the protocol's limits. */
export const DETAIL_RANGES = {
  strength: { min: LIMITS.strength.min, max: LIMITS.strength.max, step: 0.05 },
  confidence: { min: LIMITS.confidence.min, max: LIMITS.confidence.max, step: 0.05 },
  mask_blur: { min: LIMITS.mask_blur.min, max: LIMITS.mask_blur.max, step: 1 },
  inpaint_padding: { min: LIMITS.inpaint_padding.min, max: LIMITS.inpaint_padding.max, step: 1 },
} as const;

export { DETAILER_TARGETS, INPAINT_AREAS, MASKED_CONTENTS };

/** Everything the Detailer section holds. */
export interface DetailChoice {
  mode: DetailMode;
  /** A verified checkpoint with a VAE encoder ('' = none can). */
  model: string;
  targets: DetailerTarget[];
  face_strength: number;
  hand_strength: number;
  confidence: number;
  /** Empty = none (an enhanced image has no generation prompt to inherit). */
  prompt: string;
  /** The painted mask's denoising strength. */
  strength: number;
  masked_content: MaskedContent;
  inpaint_area: InpaintAreaName;
  mask_blur: number;
  inpaint_padding: number;
}

export const INITIAL_DETAIL: DetailChoice = {
  mode: 'detect',
  model: '',
  targets: [...DEFAULTS.detailer_targets],
  face_strength: DEFAULTS.face_strength,
  hand_strength: DEFAULTS.hand_strength,
  confidence: DEFAULTS.confidence,
  prompt: '',
  strength: DEFAULTS.detailer_strength,
  masked_content: DEFAULTS.masked_content,
  // A1111's inpaint default for a painted mask; detected regions always work on a crop.
  inpaint_area: 'whole_picture',
  mask_blur: DEFAULTS.mask_blur,
  inpaint_padding: DEFAULTS.inpaint_padding,
};

/** The stage's parameters for a choice: only what the mode reads, so the stage's defaults stay one definition. */
export function detailParameters(choice: DetailChoice): Record<string, unknown> {
  const prompt = choice.prompt.trim();
  const common = { ...(choice.model ? { model: choice.model } : {}), ...(prompt ? { prompt } : {}), mask_blur: choice.mask_blur };
  if (choice.mode === 'detect') {
    return {
      ...common,
      targets: [...choice.targets],
      face_strength: choice.face_strength,
      hand_strength: choice.hand_strength,
      confidence: choice.confidence,
    };
  }
  return {
    ...common,
    strength: choice.strength,
    masked_content: choice.masked_content,
    inpaint_area: choice.inpaint_area,
    inpaint_padding: choice.inpaint_padding,
  };
}

export function detailStage(choice: DetailChoice): StageConfigInput {
  return { stage_type: 'detailer', parameters: detailParameters(choice) } as StageConfigInput;
}

export interface DetailState {
  choice: DetailChoice;
  /** Whether the mask editor holds any painted pixel (mask mode). */
  maskPainted: boolean;
  /** The checkpoint list: undefined while loading. */
  checkpointsLoading: boolean;
  checkpointsError?: unknown;
  /** What the refiner would say about the checkpoints ('' = fine); reused so both say the same. */
  noModelMessage: string;
}

/** Everything that stops the detailer from running now. */
export function detailProblems(state: DetailState): FormProblem[] {
  const problems: FormProblem[] = [];
  const { choice } = state;
  if (state.checkpointsError || (!state.checkpointsLoading && !choice.model)) {
    problems.push({ kind: 'model', message: state.noModelMessage });
  } else if (state.checkpointsLoading && !choice.model) {
    problems.push({ kind: 'loading', message: 'Looking for checkpoints…' });
  }
  if (choice.mode === 'detect' && choice.targets.length === 0) {
    problems.push({ kind: 'value', message: 'Tick faces, hands or both: the detailer redraws what it finds.' });
  }
  if (choice.mode === 'mask' && !state.maskPainted) {
    problems.push({ kind: 'value', message: 'Paint over what to redraw (white = redraw): nothing is painted yet.' });
  }
  // The stage's own rules, in its words (a range input cannot go out of range; a typed number can).
  const checked = DetailerParameters.partial().safeParse(detailParameters(choice));
  if (!checked.success) {
    for (const issue of checked.error.issues) problems.push({ kind: 'value', message: `${asLabel(issue.message)}.` });
  }
  return problems;
}

/** "face_strength must be …" → "Face strength must be …": the key as the form labels it. */
const asLabel = (message: string) => {
  const text = message.replace(/^\w+/, (key) => key.replace(/_/g, ' '));
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/** A found region as drawn over the shown image: its box as percentages of the image's sides. */
export interface BoxOverlay {
  left: number;
  top: number;
  width: number;
  height: number;
  label: string;
  /** The box in the image's pixels, as found. */
  box: readonly [number, number, number, number];
}

/** Boxes `[x0, y0, x1, y1]` in image pixels → CSS percentages over the image, clamped to it. */
export function boxOverlays(
  regions: ReadonlyArray<{ target: string; score: number; box: readonly [number, number, number, number] }>,
  size: { width: number; height: number },
): BoxOverlay[] {
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));
  return regions.map((r) => {
    const x0 = clamp(r.box[0], size.width);
    const y0 = clamp(r.box[1], size.height);
    const x1 = clamp(r.box[2], size.width);
    const y1 = clamp(r.box[3], size.height);
    return {
      left: (x0 / size.width) * 100,
      top: (y0 / size.height) * 100,
      width: ((x1 - x0) / size.width) * 100,
      height: ((y1 - y0) / size.height) * 100,
      label: `${r.target} ${r.score.toFixed(2)}`,
      box: r.box,
    };
  });
}

/** "1 face", "2 faces and 1 hand", "no face found": what Find found, in words. */
export function foundText(regions: ReadonlyArray<{ target: DetailerTarget }>, targets: readonly DetailerTarget[]): string {
  if (regions.length === 0) return `No ${targets.join(' or ')} found.`;
  const parts = DETAILER_TARGETS.map((t) => {
    const n = regions.filter((r) => r.target === t).length;
    return n ? `${n} ${t}${n > 1 ? 's' : ''}` : '';
  }).filter(Boolean);
  return `Found ${parts.join(' and ')}.`;
}
