/**
 * One set of limits (issue 9): the Generate form, the stage (through the Workbench), the
 * denoising loop's schema and the PNG/config loader accept and refuse the same values at the
 * edges, because they all use the protocol's schemas.
 */
import { describe, expect, it } from 'vitest';
import { checkGenerateForm, type GenerateFormText } from '../../src/app/lib/generate-form';
import { formText } from '../helpers/generate-form-text';
import { fromA1111Infotext, fromComfyPrompt, fromPipelineConfig } from '../../src/app/lib/generation-parameters';
import { TextToImageParams } from '../../src/pipeline/diffusion/text-to-image';
import { Workbench } from '../../src/pipeline/workbench';
import { LIMITS, PipelineConfig, UPSCALE_FACTORS } from '../../src/protocol/pipeline-config';

/** [field, value, accepted] at each edge of the one set of limits. */
export const EDGES: Array<[string, number, boolean]> = [
  ['guidance_scale', 30, true],
  ['guidance_scale', 30.5, false],
  ['guidance_scale', 0, true],
  ['guidance_scale', -0.5, false],
  ['width', 4096, true],
  ['width', 4104, false],
  ['width', 64, true],
  ['width', 56, false],
  ['width', 1001, false],
  ['height', 4096, true],
  ['height', 4104, false],
  ['batch_size', 16, true],
  ['batch_size', 17, false],
  ['batch_size', 0, false],
  ['steps', 1000, true],
  ['steps', 1001, false],
  ['seed', Number.MAX_SAFE_INTEGER, true],
  ['seed', 851616030078638, true],
  ['seed', -1, false],
];

const t2i = (parameters: Record<string, unknown>) => ({ stages: [{ stage_type: 'text_to_image', parameters: { prompt: 'a fox', seed: 1, ...parameters } }] });

/** The stage's verdict: the Workbench builds the stage with the merged parameters, or names the problem. */
function stageAccepts(parameters: Record<string, unknown>): boolean {
  try {
    new Workbench(t2i(parameters)).setup();
    return true;
  } catch {
    return false;
  }
}

const checkForm = (over: Partial<GenerateFormText>) => checkGenerateForm(formText({ prompt: 'a fox', ...over }), { model: 'sd', registeredCount: 1, usableModels: ['sd'], fixedSize: null });

/** The form's verdict on one field typed as text. */
function formAccepts(field: string, value: number): boolean {
  const typed = String(value);
  const fields: Record<string, Partial<GenerateFormText>> = {
    guidance_scale: { cfg: typed },
    width: { width: typed },
    height: { height: typed },
    batch_size: { batchSize: typed },
    steps: { steps: typed },
    seed: { seedText: typed, seedLocked: true },
  };
  const { form } = checkForm(fields[field]);
  return form !== undefined && (form as unknown as Record<string, unknown>)[field] === value;
}

describe('one set of limits: stage, loop and loader agree at the edges', () => {
  it('the limits are the issue\'s', () => {
    expect(LIMITS.guidance_scale).toEqual({ min: 0, max: 30 });
    expect(LIMITS.side).toEqual({ min: 64, max: 4096, multiple: 8 });
    expect(LIMITS.batch_size).toEqual({ min: 1, max: 16 });
    expect(LIMITS.steps).toEqual({ min: 1, max: 1000 });
    expect(LIMITS.seed).toEqual({ min: 0, max: 2 ** 53 - 1 });
    expect(UPSCALE_FACTORS).toEqual([2, 3, 4, 8]);
  });

  it.each(EDGES)('%s = %s: accepted %s', (field, value, accepted) => {
    expect(formAccepts(field, value)).toBe(accepted);
    expect(stageAccepts({ [field]: value })).toBe(accepted);
    expect(PipelineConfig.safeParse(t2i({ [field]: value })).success).toBe(accepted);
    expect(TextToImageParams.safeParse({ prompt: 'a fox', [field]: value }).success).toBe(accepted);
    const loaded = fromPipelineConfig(t2i({ [field]: value }));
    if (accepted) {
      expect((loaded.parameters as Record<string, unknown>)[field]).toBe(value);
      expect(loaded.unmapped).toEqual([]);
    } else {
      // Refused values become a note; the rest of the file still loads.
      expect((loaded.parameters as Record<string, unknown>)[field]).toBeUndefined();
      expect(loaded.parameters.prompt).toBe('a fox');
      expect(loaded.unmapped).toEqual([expect.stringMatching(new RegExp(`^${field} ${value} is not`))]);
    }
  });

  it('upscale factor 7 is refused by the form and the stage, and becomes a note in the loader', () => {
    expect(checkForm({ upscale: { on: true, factor: 7, model: '' } }).errors.upscaler).toMatch(/×2, ×3, ×4, ×8/);
    expect(checkForm({ upscale: { on: true, factor: 8, model: '' } }).errors.upscaler).toBeUndefined();
    const config = (factor: number) => ({ stages: [...t2i({}).stages, { stage_type: 'upscaler', parameters: { upscale_factor: factor } }] });
    expect(() => new Workbench(config(7))).toThrow(/upscale_factor must be one of 2, 3, 4, 8/);
    expect(() => new Workbench(config(8))).not.toThrow();
    const loaded = fromPipelineConfig(config(7));
    expect(loaded.parameters.upscaler).toBeNull();
    expect(loaded.unmapped).toEqual(['upscale factor 7 is not one of 2, 3, 4, 8']);
    expect(fromPipelineConfig(config(8)).parameters.upscaler).toEqual({ factor: 8 });
  });

  it('an A1111 PNG with CFG 40 loads the rest and notes the CFG; width 3000 now loads as the stage takes it', () => {
    const loaded = fromA1111Infotext('a fox\nSteps: 20, Sampler: Euler a, CFG scale: 40, Seed: 5, Size: 3000x512');
    expect(loaded.parameters).toMatchObject({ prompt: 'a fox', steps: 20, seed: 5, width: 3000, height: 512 });
    expect(loaded.parameters.guidance_scale).toBeUndefined();
    expect(loaded.unmapped).toEqual(['guidance_scale 40 is not a CFG scale from 0 to 30']);
    expect(stageAccepts({ width: 3000, height: 512 })).toBe(true);
  });

  it('a ComfyUI seed beyond 2^32 (851616030078638) loads', () => {
    const graph = {
      '3': { class_type: 'KSampler', inputs: { seed: 851616030078638, steps: 20, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5.safetensors' } },
      '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a fox', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: '', clip: ['4', 1] } },
    };
    const loaded = fromComfyPrompt(JSON.stringify(graph));
    expect(loaded.parameters.seed).toBe(851616030078638);
    expect(stageAccepts({ seed: 851616030078638 })).toBe(true);
  });
});
