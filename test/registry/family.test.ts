// @vitest-environment node
/** A checkpoint's family and defaults from its text encoder's width, configs and name. */
import { describe, expect, it } from 'vitest';
import { FamilySettings } from '../../src/protocol/models';
import { classifyOnnx } from '../../src/registry/classify';
import { inferFamily } from '../../src/registry/family';
import { inspectOnnx } from '../../src/registry/onnx-inspect';
import { presetFiles } from '../fixtures/tiny-diffusion/factory';

const inspectBytes = (bytes: Uint8Array) => inspectOnnx(new Blob([bytes as Uint8Array<ArrayBuffer>]));

describe('inferFamily', () => {
  it('768 without configs → SD 1.x with A1111-like defaults', () => {
    const f = inferFamily({ textEncoderHidden: 768, name: 'dreamshaper-8' });
    expect(f).toMatchObject({ family: 'sd1', prediction_type: 'epsilon', pad_token_id: 49407, default_scheduler: 'dpmpp_2m', default_steps: 25, default_cfg: 7, timestep_spacing: 'leading' });
    expect(f.sources.family).toMatch(/768/);
    expect(f.sources.default_steps).toMatch(/A1111-like/);
    expect(() => FamilySettings.parse(f)).not.toThrow();
  });

  it('1024 → SD 2.x: v-prediction for 768 px models, epsilon for base/512/inpainting', () => {
    const v = inferFamily({ textEncoderHidden: 1024, name: 'stable-diffusion-2-1' });
    expect(v).toMatchObject({ family: 'sd2', pad_token_id: 0, prediction_type: 'v_prediction' });
    expect(v.sources.prediction_type).toMatch(/SD 2\.x default/);
    expect(inferFamily({ textEncoderHidden: 1024, name: 'sd2-768-v-ema' }).sources.prediction_type).toMatch(/the name/);
    expect(inferFamily({ textEncoderHidden: 1024, name: 'stable-diffusion-2-1-base' }).prediction_type).toBe('epsilon');
    expect(inferFamily({ textEncoderHidden: 1024, name: 'sd-2-inpainting' }).prediction_type).toBe('epsilon');
  });

  it("scheduler_config.json's prediction_type, timestep_spacing and class win over guesses", () => {
    const f = inferFamily({
      textEncoderHidden: 1024,
      name: 'my-768-v-model',
      schedulerConfig: { _class_name: 'EulerAncestralDiscreteScheduler', prediction_type: 'epsilon', timestep_spacing: 'trailing' },
    });
    expect(f).toMatchObject({ family: 'sd2', prediction_type: 'epsilon', timestep_spacing: 'trailing', default_scheduler: 'euler_a' });
    expect(f.sources).toMatchObject({ prediction_type: 'scheduler_config.json', timestep_spacing: 'scheduler_config.json', default_scheduler: 'scheduler_config.json (EulerAncestralDiscreteScheduler)' });
    // PNDM (SD 1.5's shipped default) has no counterpart: the family default stays.
    expect(inferFamily({ textEncoderHidden: 768, name: 'sd15', schedulerConfig: { _class_name: 'PNDMScheduler', prediction_type: 'epsilon' } }).default_scheduler).toBe('dpmpp_2m');
    // The UNet config counts when the scheduler config says nothing.
    expect(inferFamily({ textEncoderHidden: 1024, name: 'x', unetPredictionType: 'epsilon' })).toMatchObject({ prediction_type: 'epsilon', sources: { prediction_type: 'the UNet config' } });
  });

  it('"turbo" in the name → SD-Turbo: 1 step, CFG 0, euler, trailing, pad 0', () => {
    const f = inferFamily({ textEncoderHidden: 1024, name: 'sd-turbo-onnx' });
    expect(f).toMatchObject({ family: 'sd-turbo', default_steps: 1, default_cfg: 0, default_scheduler: 'euler', timestep_spacing: 'trailing', pad_token_id: 0, prediction_type: 'epsilon' });
    expect(f.sources.family).toMatch(/the name/);
  });

  it('"lcm" in the name or an LCMScheduler → LCM: 4 steps, CFG 1, lcm sampler', () => {
    const byName = inferFamily({ textEncoderHidden: 768, name: 'LCM_Dreamshaper_v7' });
    expect(byName).toMatchObject({ family: 'lcm', default_steps: 4, default_cfg: 1, default_scheduler: 'lcm', pad_token_id: 49407 });
    const byConfig = inferFamily({ textEncoderHidden: 768, name: 'my-model', schedulerConfig: { _class_name: 'LCMScheduler' } });
    expect(byConfig).toMatchObject({ family: 'lcm', default_scheduler: 'lcm', sources: { family: 'scheduler_config.json (LCMScheduler)' } });
    const byIndex = inferFamily({ textEncoderHidden: 768, name: 'x', modelIndex: { _class_name: 'ORTLatentConsistencyModelPipeline', scheduler: ['diffusers', 'LCMScheduler'] } });
    expect(byIndex.family).toBe('lcm');
  });

  it('an unknown width falls back to SD 1.x and says so', () => {
    const f = inferFamily({ textEncoderHidden: null, name: 'mystery' });
    expect(f).toMatchObject({ family: 'sd1', pad_token_id: 49407 });
    expect(f.sources.family).toMatch(/assumed/);
  });

  it('the tiny presets: text encoder width and scheduler config from the files', async () => {
    const files = presetFiles('sd15-fp32-dynamic');
    const te = classifyOnnx(await inspectBytes(files.get('text_encoder/model.onnx')!));
    const hidden = te.role === 'text_encoder' ? te.details.hidden : null;
    const schedulerConfig = JSON.parse(new TextDecoder().decode(files.get('scheduler/scheduler_config.json')!));
    expect(inferFamily({ textEncoderHidden: hidden, schedulerConfig, name: 'tiny' })).toMatchObject({ family: 'sd1', prediction_type: 'epsilon', timestep_spacing: 'leading' });
    const turbo = presetFiles('sd-turbo');
    const turboTe = classifyOnnx(await inspectBytes(turbo.get('text_encoder/model.onnx')!));
    expect(inferFamily({ textEncoderHidden: turboTe.role === 'text_encoder' ? turboTe.details.hidden : null, name: 'sd-turbo' })).toMatchObject({ family: 'sd-turbo', pad_token_id: 0 });
  });
});
