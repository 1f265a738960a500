import { INITIAL_FORM, initialDetailerText, type GenerateFormText } from '../../src/app/lib/generate-form';

/** The Generate form as typed, every field valid (prompt 'a cat', 512×512, 20 steps, CFG 7) unless `over` says otherwise. */
export const formText = (over: Partial<GenerateFormText> = {}): GenerateFormText => ({
  prompt: 'a cat',
  negativePrompt: '',
  scheduler: INITIAL_FORM.scheduler,
  karras: false,
  steps: '20',
  cfg: '7',
  seedText: '',
  seedLocked: false,
  variationSeed: '',
  variationStrength: '0',
  width: '512',
  height: '512',
  batchSize: '1',
  emphasis: 'original',
  hires: { on: false, scale: '2', upscaler: 'latent', strength: '0.5', steps: '' },
  refiner: { on: false, strength: '0.3', model: '', steps: '' },
  detailer: initialDetailerText(),
  upscale: { on: false, factor: 2, model: '' },
  ...over,
});
