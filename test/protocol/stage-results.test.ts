import { describe, expect, it } from 'vitest';
import { readArtifactMetadata, StageMetadata } from '../../src/protocol/stage-results';
import { refinerArtifact, textToImageArtifact, upscalerArtifact } from '../helpers/stage-metadata';

describe('typed stage metadata', () => {
  it('reads what each stage writes, told apart by stage_type', () => {
    for (const written of [textToImageArtifact(), refinerArtifact(), upscalerArtifact()]) {
      const read = readArtifactMetadata(JSON.parse(JSON.stringify(written)));
      expect(read).toEqual(JSON.parse(JSON.stringify(written)));
    }
    expect(readArtifactMetadata(upscalerArtifact({ output_size: [256, 96] }))?.output_size).toEqual([256, 96]);
  });

  it("reads a refiner record from before sizes had one naming (output_shape [h, w, 4] → output_size [w, h])", () => {
    const old: Record<string, unknown> = { ...refinerArtifact(), output_shape: [128, 96, 4] };
    delete old.output_size;
    expect(readArtifactMetadata(old)?.output_size).toEqual([96, 128]);
  });

  it('a record no stage of this build wrote is undefined, not a guess', () => {
    expect(readArtifactMetadata(null)).toBeUndefined();
    expect(readArtifactMetadata({ stage_type: 'detailer', output_size: [64, 64] })).toBeUndefined();
    expect(readArtifactMetadata({ ...upscalerArtifact(), upscale_factor: 7 })).toBeUndefined();
    expect(StageMetadata.safeParse({ ...textToImageArtifact(), output_size: [64] }).success).toBe(false);
  });

  it('keeps keys a newer build adds', () => {
    expect(readArtifactMetadata({ ...upscalerArtifact(), future_key: 1 })).toMatchObject({ future_key: 1 });
  });
});
