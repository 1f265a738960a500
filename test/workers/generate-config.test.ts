// @vitest-environment node
/**
 * `npm run generate -- --config pipeline.json`: any pipeline config through the worker's
 * Workbench and stages in Node, on a tiny checkpoint; artifacts written as `<out>/<name>` with the
 * app's PNG text chunks; bad configs refused before any model loads, saying what is wrong.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { runGenerateCli } from '../../workers/ort/generate-cli';
import { writePreset } from '../fixtures/tiny-diffusion/factory';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-lab-generate-config-'));
  await writePreset(join(dir, 'tiny'), 'sd15-fp32-dynamic');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (name: string, value: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};
const png = (path: string) => decodePng(new Uint8Array(readFileSync(path)));
const chunks = (path: string) => readPngTextChunks(new Uint8Array(readFileSync(path)));

describe('npm run generate -- --config', () => {
  it('text_to_image → detailer (faces): no face on the tiny model’s output, so the image is unchanged and the message says so', async () => {
    const cfg = config('t2i-detail.json', {
      stages: [
        { stage_type: 'text_to_image', name: 'gen', parameters: { prompt: 'a portrait', width: 64, height: 72, steps: 2, seed: 5 } },
        { stage_type: 'detailer', name: 'faces', parameters: { targets: ['face'] } },
      ],
      parameters: {},
    });
    const lines: string[] = [];
    const out = join(dir, 'out1', 'nested');
    const { files, metadata } = await runGenerateCli(['--model', join(dir, 'tiny'), '--config', cfg, '--out', out], (l) => lines.push(l));
    expect(files).toEqual([join(out, 'generated.png'), join(out, 'generated_detailed.png')]);
    const [generated, detailed] = files.map(png);
    expect([detailed.width, detailed.height]).toEqual([64, 72]);
    expect(Buffer.from(detailed.data).equals(Buffer.from(generated.data))).toBe(true);
    expect(metadata!.faces).toMatchObject({ stage_type: 'detailer', mode: 'detect', regions: [], detectors: ['blazeface-back'], message: 'no face found' });
    expect(lines).toContain('faces: no face found');
    expect(lines.some((l) => l.startsWith('gen: step 1/2'))).toBe(true);
    // The app's chunks: A1111 parameters and our JSON with the stage and the whole job.
    const text = chunks(files[1]);
    expect(text.map((c) => c.keyword)).toEqual(['parameters', 'media-lab']);
    const ours = JSON.parse(text[1].text);
    expect(ours).toMatchObject({ stage: 'faces', stage_type: 'detailer', job: { pipeline_config: { stages: [{ stage_type: 'text_to_image' }, { stage_type: 'detailer' }] } } });
    expect(JSON.parse(chunks(files[0])[1].text)).toMatchObject({ stage: 'gen', model: 'tiny', seed: 5 });
  });

  it('detailer with --image and --mask (inpainting) writes generated_detailed.png at the image’s size; the command line overrides the seed', async () => {
    const image = createRgbaImage(80, 64);
    for (let i = 0; i < image.data.length; i += 4) image.data.set([(i / 4) % 256, 90, 160, 255], i);
    const mask = createRgbaImage(80, 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 80; x++) mask.data.set(x >= 16 && x < 48 && y >= 8 && y < 40 ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * 80 + x) * 4);
    writeFileSync(join(dir, 'in.png'), encodePng(image));
    writeFileSync(join(dir, 'mask.png'), encodePng(mask));
    const cfg = config('detail.json', { stages: [{ stage_type: 'detailer', parameters: { prompt: 'a red square', steps: 2, strength: 0.8 } }] });
    const out = join(dir, 'out2');
    const { files, metadata } = await runGenerateCli([
      '--model', join(dir, 'tiny'), '--config', cfg, '--image', join(dir, 'in.png'), '--mask', join(dir, 'mask.png'), '--seed', '11', '--out', out,
    ]);
    expect(files).toEqual([join(out, 'generated_detailed.png')]);
    const result = png(files[0]);
    expect([result.width, result.height]).toEqual([80, 64]);
    expect(metadata!.detailer).toMatchObject({ mode: 'inpainting', model: 'tiny', seed: 11, output_size: [80, 64] });
    expect((metadata!.detailer as { regions: unknown[] }).regions).toHaveLength(1);
    // Outside the mask (and its blur) the pixels are the input's.
    expect(Array.from(result.data.slice(0, 4))).toEqual(Array.from(image.data.slice(0, 4)));
    const job = JSON.parse(chunks(files[0]).find((c) => c.keyword === 'media-lab')!.text).job;
    expect(job.input_data).toMatchObject({ seed: 11, image_file: { name: 'in.png', type: 'image/png' }, mask_file: { name: 'mask.png' } });
  });

  it('a bad config, input or option is refused before any model loads, naming the problem', async () => {
    const tiny = join(dir, 'tiny');
    const run = (...args: string[]) => runGenerateCli(['--model', tiny, ...args]);
    const out = join(dir, 'never');
    await expect(run('--config', config('bad.json', '{"stages": ['), '--out', out)).rejects.toThrow(/--config '.*bad\.json' is not JSON/);
    await expect(run('--config', config('type.json', { stages: [{ stage_type: 'sharpen' }] }), '--out', out)).rejects.toThrow(
      /--config '.*type\.json': invalid pipeline config: stages\[0\]: .*sharpen/,
    );
    await expect(run('--config', config('value.json', { stages: [{ stage_type: 'detailer', name: 'fix', parameters: { confidence: 3 } }] }), '--out', out)).rejects.toThrow(
      /stages\[0\] \(fix\): .*confidence/,
    );
    await expect(run('--config', join(dir, 'missing.json'), '--out', out)).rejects.toThrow(/config '.*missing\.json' does not exist/);
    await expect(run('--config', config('ok.json', { stages: [{ stage_type: 'detailer' }] }))).rejects.toThrow(/--out <folder> is required/);
    await expect(run('--config', config('ok.json', { stages: [{ stage_type: 'detailer' }] }), '--image', join(dir, 'tiny', 'model_index.json'), '--out', out)).rejects.toThrow(
      /--image '.*model_index\.json': not an image/,
    );
    await expect(
      run('--config', config('named.json', { stages: [{ stage_type: 'detailer', parameters: { model: 'sd15' } }] }), '--image', join(dir, 'in.png'), '--mask', join(dir, 'mask.png'), '--out', out),
    ).rejects.toThrow(/names the checkpoint 'sd15', but the headless runner has only --model 'tiny'/);
    await expect(runGenerateCli(['--model', join(dir, 'in.png'), '--config', config('ok.json', { stages: [{ stage_type: 'detailer' }] }), '--out', out])).rejects.toThrow(
      /--model '.*in\.png' is a file: give a model folder or a single-file \.safetensors checkpoint/,
    );
    await expect(runGenerateCli(['--model', tiny, '--prompt', 'x', '--image', join(dir, 'in.png'), '--out', join(dir, 'x.png')])).rejects.toThrow(/--image and --mask need --config/);
    expect(existsSync(out)).toBe(false);
  });
});
