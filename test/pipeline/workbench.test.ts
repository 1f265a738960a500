import { describe, expect, it } from 'vitest';
import { ConfigError, validatePipelineConfig, Workbench } from '../../src/pipeline/workbench';
import type { StageServices, UpscalerProvider } from '../../src/pipeline/ports';
import { UpscalerStage } from '../../src/pipeline/stages/upscaler';
import { createBoxUpscaler, patternImage } from '../helpers/test-upscaler';
import { createMemorySink } from '../helpers/memory-sink';

const seedJson = { stages: [{ stage_type: 'upscaler', name: 'up', parameters: { upscale_factor: 4 } }], parameters: {} };

function services(): StageServices & { sink: ReturnType<typeof createMemorySink> } {
  const sink = createMemorySink();
  const upscalers: UpscalerProvider = {
    async load(model, factor) {
      if (model && model !== `box-r2-x${factor}`) throw new Error(`unknown upscaler model '${model}'`);
      return createBoxUpscaler(factor);
    },
    async available() {
      return [2, 3, 4, 8].map((scale) => ({ name: `box-r2-x${scale}`, scale }));
    },
  };
  return { artifacts: sink, upscalers, sink };
}

describe('PipelineConfig validation', () => {
  it("accepts the seed's JSON and fills defaults", () => {
    const config = validatePipelineConfig({ stages: [{ stage_type: 'upscaler' }] });
    expect(config.stages[0].parameters).toEqual({});
    expect(config.parameters).toEqual({});
    expect(validatePipelineConfig(seedJson).stages[0].name).toBe('up');
  });

  it('names an unknown stage type', () => {
    expect(() => validatePipelineConfig({ stages: [{ stage_type: 'teleporter' }] })).toThrow(
      /stages\[0\]: unknown stage_type 'teleporter' \(known: text_to_image, refiner, detailer, upscaler\)/,
    );
  });

  it('names a bad parameter and its stage', () => {
    expect(() =>
      validatePipelineConfig({ stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: 7 } }] }),
    ).toThrow(/stages\[0\] \(upscaler\): parameters\.upscale_factor: upscale_factor must be one of 2, 3, 4, 8/);
    expect(() =>
      validatePipelineConfig({ stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: 0 } }] }),
    ).toThrow(ConfigError);
  });

  it('refuses an unknown stage parameter', () => {
    expect(() =>
      validatePipelineConfig({ stages: [{ stage_type: 'upscaler', parameters: { upscale_facter: 2 } }] }),
    ).toThrow(/upscale_facter/);
  });

  it('refuses an empty pipeline and a malformed config', () => {
    expect(() => validatePipelineConfig({ stages: [] })).toThrow(/at least one stage/);
    expect(() => validatePipelineConfig({ stages: 'upscaler' })).toThrow(/invalid pipeline config: stages/);
  });
});

describe('Workbench', () => {
  it('builds stages from the config with their parameters', () => {
    const stages = new Workbench(seedJson).setup();
    expect(stages).toHaveLength(1);
    expect(stages[0]).toBeInstanceOf(UpscalerStage);
    expect((stages[0] as UpscalerStage).parameters.upscale_factor).toBe(4);
    expect(stages[0].name).toBe('up');
  });

  it('defaults upscale_factor to 2', () => {
    const stages = new Workbench({ stages: [{ stage_type: 'upscaler' }] }).setup();
    expect((stages[0] as UpscalerStage).parameters.upscale_factor).toBe(2);
  });

  it('merges stage < config.parameters < input_data', () => {
    const wb = new Workbench({
      stages: [{ stage_type: 'upscaler', parameters: { upscale_factor: 2, tile_size: 32 } }],
      parameters: { upscale_factor: 3 },
    });
    expect((wb.setup()[0] as UpscalerStage).parameters).toMatchObject({ upscale_factor: 3, tile_size: 32 });
    expect((wb.setup({ upscale_factor: 4 })[0] as UpscalerStage).parameters.upscale_factor).toBe(4);
  });

  it('executes, collecting artifacts and metadata, and threads the job id into names', async () => {
    const svc = services();
    const result = await new Workbench(seedJson).execute({ image: patternImage(20, 12) }, 'job-1', svc);
    expect(result.error).toBeNull();
    expect(result.success).toBe(true);
    expect(result.artifacts).toEqual(['artifact-1']);
    expect(svc.sink.saved[0].name).toBe('job-1/generated_upscaled.png');
    expect(result.metadata.up).toMatchObject({ upscale_factor: 4, input_size: [20, 12], output_size: [80, 48] });
    expect(result.data.job_id).toBe('job-1');
    expect(result.data.upscaled_artifact).toBe('artifact-1');
  });

  it('uses job id "unknown" by default', async () => {
    const svc = services();
    await new Workbench(seedJson).execute({ image: patternImage(8, 8) }, undefined, svc);
    expect(svc.sink.saved[0].name).toBe('unknown/generated_upscaled.png');
  });

  it('returns an error naming the stage when input is missing', async () => {
    const result = await new Workbench(seedJson).execute({}, 'j', services());
    expect(result.success).toBe(false);
    expect(result.error).toBe("Stage 'up': no input image to upscale");
    expect(result.artifacts).toEqual([]);
  });

  it('returns a bad per-job parameter as an error, before anything runs', async () => {
    const svc = services();
    const result = await new Workbench(seedJson).execute({ image: patternImage(8, 8), upscale_factor: 7 }, 'j', svc);
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/stages\[0\] \(up\): upscale_factor: upscale_factor must be one of 2, 3, 4, 8/);
    expect(svc.sink.saved).toHaveLength(0);
  });

  it('reports an unknown model by name', async () => {
    const result = await new Workbench({
      stages: [{ stage_type: 'upscaler', parameters: { model: 'nope' } }],
    }).execute({ image: patternImage(8, 8) }, 'j', services());
    expect(result.error).toBe("Stage 'upscaler' failed: unknown upscaler model 'nope'");
  });

  it('runs two upscalers in sequence with unique metadata keys', async () => {
    const svc = services();
    const result = await new Workbench({
      stages: [{ stage_type: 'upscaler' }, { stage_type: 'upscaler', parameters: { upscale_factor: 3 } }],
    }).execute({ image: patternImage(6, 5) }, 'j', svc);
    expect(result.success).toBe(true);
    expect(Object.keys(result.metadata)).toEqual(['upscaler', 'upscaler_2']);
    expect(result.metadata.upscaler_2.output_size).toEqual([36, 30]);
    expect(result.artifacts).toHaveLength(2);
  });
});
