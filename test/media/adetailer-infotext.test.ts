// @vitest-environment node
/** ADetailer's keys in A1111 infotext: written for detailed images, read back from any. */
import { describe, expect, it } from 'vitest';
import { textChunks } from '../../src/media/artifact-png';
import { adetailerParams, adetailerSuffix, formatInfotext, parseInfotext, readAdetailerTabs } from '../../src/media/infotext';
import type { ArtifactMetadata, DetailerMetadata } from '../../src/protocol/stage-results';

/** A detailer artifact as the stage saves it (metadata, stage, the parameters it ran with) plus the job the sink adds. */
function detailerArtifact(over: Partial<DetailerMetadata> & { parameters?: Record<string, unknown>; job?: unknown } = {}): ArtifactMetadata {
  const { parameters, job, ...meta } = over;
  return {
    stage_type: 'detailer',
    stage: 'detailer',
    model: 'tiny-sd15',
    model_hash: '0123456789',
    mode: 'detect',
    strength: 0.4,
    regions: [],
    detectors: ['blazeface-back', 'mediapipe-palm'],
    inpaint_area: 'only_masked',
    masked_content: 'original',
    mask_blur: 4,
    inpaint_padding: 32,
    unet_channels: 4,
    steps_run: 6,
    scheduler: 'dpmpp_2m karras',
    seed: 1234,
    output_size: [512, 768],
    ms: 10,
    ...meta,
    parameters: {
      targets: ['face', 'hand'],
      face_strength: 0.35,
      hand_strength: 0.5,
      confidence: 0.3,
      dilate: 4,
      mask_blur: 4,
      inpaint_padding: 32,
      guidance_scale: 6.5,
      steps: 12,
      ...parameters,
    },
    ...(job !== undefined ? { job } : {}),
  } as ArtifactMetadata;
}

/** The job a Generate pipeline stores with its images (buildPipelineConfig's shape; the drawn seed in input_data). */
const generateJob = {
  pipeline_config: {
    stages: [
      {
        stage_type: 'text_to_image',
        parameters: { prompt: 'portrait of a sailor, (freckles:1.1)', negative_prompt: 'blurry', model: 'tiny-sd15', steps: 12, guidance_scale: 6.5, scheduler: 'dpmpp_2m', karras: true, width: 512, height: 768 },
      },
      { stage_type: 'detailer', name: 'detailer', parameters: { targets: ['face', 'hand'], face_strength: 0.35, hand_strength: 0.5 } },
    ],
    parameters: {},
  },
  input_data: { seed: 1234 },
};

describe('adetailerSuffix (ADetailer numbers its tabs "", " 2nd", " 3rd", …)', () => {
  it('ordinals as English writes them', () => {
    expect([0, 1, 2, 3, 9, 10, 11, 12, 20, 21, 22].map(adetailerSuffix)).toEqual(['', ' 2nd', ' 3rd', ' 4th', ' 10th', ' 11th', ' 12th', ' 13th', ' 21st', ' 22nd', ' 23rd']);
  });
});

describe('adetailerParams / readAdetailerTabs', () => {
  it('round-trips two tabs through an infotext', () => {
    const tabs = [
      { index: 0, model: 'blazeface-back', confidence: 0.3, dilate_erode: 4, mask_blur: 4, denoising_strength: 0.35, inpaint_only_masked: true, inpaint_padding: 32, prompt: 'sharp eyes' },
      { index: 1, model: 'mediapipe-palm', confidence: 0.3, dilate_erode: -2, mask_blur: 8, denoising_strength: 0.5, inpaint_only_masked: false, inpaint_padding: 32, steps: 30, cfg_scale: 5 },
    ];
    const text = formatInfotext({ prompt: 'a', steps: 12, sampler: 'euler', cfg_scale: 7, seed: 1, width: 64, height: 64, extra: adetailerParams(tabs) });
    expect(text).toContain('ADetailer model: blazeface-back, ADetailer prompt: sharp eyes, ADetailer confidence: 0.3, ADetailer dilate erode: 4,');
    expect(text).toContain('ADetailer inpaint only masked: True, ADetailer inpaint padding: 32, ADetailer model 2nd: mediapipe-palm');
    // ADetailer leaves the padding out when not inpainting only the masked area.
    expect(text).toContain('ADetailer inpaint only masked 2nd: False, ADetailer use separate steps 2nd: True, ADetailer steps 2nd: 30');
    expect(text).not.toContain('ADetailer inpaint padding 2nd');
    const read = readAdetailerTabs(parseInfotext(text).params);
    expect(read.warnings).toEqual([]);
    expect(read.tabs).toEqual([tabs[0], { ...tabs[1], inpaint_padding: undefined }].map((t) => JSON.parse(JSON.stringify(t))));
  });

  it('a tab without a model, or with "None", is not a tab; a value that does not parse is a warning', () => {
    const read = readAdetailerTabs({
      'ADetailer model': 'face_yolov8n.pt',
      'ADetailer confidence': 'high',
      'ADetailer inpaint only masked': 'yes',
      'ADetailer model 2nd': 'None',
      'ADetailer denoising strength 2nd': '0.4',
      'ADetailer mask blur 3rd': '4',
      'ADetailer version': '24.11.1',
    });
    expect(read.tabs).toEqual([{ index: 0, model: 'face_yolov8n.pt' }]);
    expect(read.used).toEqual(['ADetailer model', 'ADetailer confidence', 'ADetailer inpaint only masked']);
    expect(read.warnings).toEqual(['ADetailer confidence "high" is not a number', 'ADetailer inpaint only masked "yes" is not True or False']);
  });
});

describe('textChunks for a detailed image', () => {
  it('from a Generate job: the generation’s infotext plus ADetailer keys, faces first, hands as the 2nd tab', () => {
    const chunks = textChunks(detailerArtifact({ job: generateJob }));
    expect(chunks.map((c) => c.keyword)).toEqual(['parameters', 'media-lab']);
    const parsed = parseInfotext(chunks[0].text);
    expect(parsed.prompt).toBe('portrait of a sailor, (freckles:1.1)');
    expect(parsed.negative_prompt).toBe('blurry');
    expect(parsed.params).toEqual({
      Steps: '12',
      Sampler: 'DPM++ 2M',
      'Schedule type': 'Karras',
      'CFG scale': '6.5',
      Seed: '1234',
      Size: '512x768',
      'Model hash': '0123456789',
      Model: 'tiny-sd15',
      'ADetailer model': 'blazeface-back',
      'ADetailer confidence': '0.3',
      'ADetailer dilate erode': '4',
      'ADetailer mask blur': '4',
      'ADetailer denoising strength': '0.35',
      'ADetailer inpaint only masked': 'True',
      'ADetailer inpaint padding': '32',
      'ADetailer model 2nd': 'mediapipe-palm',
      'ADetailer confidence 2nd': '0.3',
      'ADetailer dilate erode 2nd': '4',
      'ADetailer mask blur 2nd': '4',
      'ADetailer denoising strength 2nd': '0.5',
      'ADetailer inpaint only masked 2nd': 'True',
      'ADetailer inpaint padding 2nd': '32',
    });
  });

  it('hands only: the 2nd tab, the face tab absent; the detailer’s own prompt and max regions are written', () => {
    const chunks = textChunks(
      detailerArtifact({ job: generateJob, detectors: ['mediapipe-palm'], parameters: { targets: ['hand'], prompt: 'detailed hands', max_regions: 2 } }),
    );
    const { params } = parseInfotext(chunks[0].text);
    expect(params['ADetailer model']).toBeUndefined();
    expect(params).toMatchObject({ 'ADetailer model 2nd': 'mediapipe-palm', 'ADetailer prompt 2nd': 'detailed hands', 'ADetailer mask only top k largest 2nd': '2' });
  });

  it('a detector whose id does not say what it finds is named by place; with none run, the target stands in', () => {
    const byPlace = parseInfotext(textChunks(detailerArtifact({ job: generateJob, detectors: ['yolo-a', 'yolo-b'] }))[0].text).params;
    expect([byPlace['ADetailer model'], byPlace['ADetailer model 2nd']]).toEqual(['yolo-a', 'yolo-b']);
    const none = parseInfotext(textChunks(detailerArtifact({ job: generateJob, detectors: [] }))[0].text).params;
    expect([none['ADetailer model'], none['ADetailer model 2nd']]).toEqual(['face', 'hand']);
  });

  it('a painted mask is A1111 inpainting, not ADetailer: denoising strength and mask blur; without a generation the detailer’s prompt is the prompt', () => {
    const chunks = textChunks(
      detailerArtifact({ mode: 'inpainting', strength: 0.75, inpaint_area: 'whole_picture', detectors: undefined, scheduler: 'euler', parameters: { prompt: 'a red door', steps: 20, guidance_scale: 7.5 } }),
    );
    const parsed = parseInfotext(chunks[0].text);
    expect(parsed.prompt).toBe('a red door');
    expect(parsed.params).toMatchObject({ Steps: '20', Sampler: 'Euler', 'CFG scale': '7.5', 'Denoising strength': '0.75', 'Mask blur': '4' });
    expect(Object.keys(parsed.params).some((k) => k.startsWith('ADetailer'))).toBe(false);
  });

  it('nothing redrawn and no scheduler run: the sampler and steps are left out rather than made up', () => {
    const chunks = textChunks(detailerArtifact({ scheduler: '', model_hash: undefined, parameters: { steps: undefined } }));
    const parsed = parseInfotext(chunks[0].text);
    expect(parsed.params.Sampler).toBeUndefined();
    expect(parsed.params.Steps).toBeUndefined();
    expect(parsed.params['ADetailer model']).toBe('blazeface-back');
  });
});
