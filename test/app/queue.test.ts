// @vitest-environment node
/** The queue panel's one-line description of a stored job request. */
import { describe, expect, it } from 'vitest';
import { describeRequest } from '../../src/app/stores/queue';

describe('describeRequest', () => {
  it('a generate job shows its prompt (whitespace folded, long ones cut)', () => {
    const request = { pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { prompt: '  a  cat\non a mat ' } }] }, input_data: { seed: 1 } };
    expect(describeRequest(request)).toBe('a cat on a mat');
    const long = { pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { prompt: 'x'.repeat(200) } }] } };
    expect(describeRequest(long)).toBe(`${'x'.repeat(90)}…`);
    expect(describeRequest({ pipeline_config: { stages: [{ stage_type: 'text_to_image', parameters: { prompt: ' ' } }] } })).toBe('(empty prompt)');
  });

  it('an enhance job shows its stages and file', () => {
    const request = {
      pipeline_config: { stages: [{ stage_type: 'refiner', parameters: {} }, { stage_type: 'upscaler', parameters: { upscale_factor: 4 } }] },
      input_data: { image_file: { name: 'photo.png', type: 'image/png', bytes: 10 } },
    };
    expect(describeRequest(request)).toBe('refiner → upscale ×4 of photo.png');
  });

  it('anything else does not throw', () => {
    expect(describeRequest(null)).toBe('job');
    expect(describeRequest({ pipeline_config: { stages: 'no' } })).toBe('job');
  });
});
