import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfotext } from '../../src/media/infotext';
import { decodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import { createRng } from '../../src/pipeline/random';
import { runGenerateCli } from '../../workers/ort/generate-cli';
import { writePreset } from '../fixtures/tiny-diffusion/factory';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-lab-generate-'));
  await writePreset(join(dir, 'tiny'), 'sd15-fp32-dynamic');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (out: string) => ['--model', join(dir, 'tiny'), '--prompt', 'a lighthouse, at dusk', '--width', '64', '--height', '64', '--steps', '3', '--out', join(dir, out)];

describe('npm run generate (headless runner)', () => {
  it('writes a PNG carrying A1111 parameters and our JSON', async () => {
    const lines: string[] = [];
    const { files } = await runGenerateCli([...base('a.png'), '--seed', '42', '--scheduler', 'dpmpp_2m', '--karras', '--negative', 'fog'], (l) => lines.push(l));
    expect(lines.filter((l) => l.startsWith('step '))).toEqual(['step 1/3', 'step 2/3', 'step 3/3']);
    const bytes = new Uint8Array(readFileSync(files[0]));
    const image = decodePng(bytes);
    expect([image.width, image.height]).toEqual([64, 64]);
    const chunks = readPngTextChunks(bytes);
    const parsed = parseInfotext(chunks.find((c) => c.keyword === 'parameters')!.text);
    expect(parsed.prompt).toBe('a lighthouse, at dusk');
    expect(parsed.negative_prompt).toBe('fog');
    expect(parsed.params).toMatchObject({ Steps: '3', Sampler: 'DPM++ 2M', 'Schedule type': 'Karras', Seed: '42', Size: '64x64', Model: 'tiny' });
    const ours = JSON.parse(chunks.find((c) => c.keyword === 'media-lab')!.text);
    expect(ours.info.rng).toMatch(/xoshiro128/);
  });

  it('the same seed gives the same pixels; --latents reproduces them whatever the seed', async () => {
    const a = await runGenerateCli([...base('s1.png'), '--seed', '7']);
    const b = await runGenerateCli([...base('s2.png'), '--seed', '7']);
    const pixels = (f: string) => Buffer.from(decodePng(new Uint8Array(readFileSync(f))).data);
    expect(pixels(a.files[0]).equals(pixels(b.files[0]))).toBe(true);
    // The seed's noise written as raw float32 reproduces the image exactly.
    const noise = createRng(7).normalTensor([1, 4, 8, 8]);
    writeFileSync(join(dir, 'noise.f32'), Buffer.from(noise.data.buffer));
    const c = await runGenerateCli([...base('l.png'), '--latents', join(dir, 'noise.f32')]);
    expect(pixels(c.files[0]).equals(pixels(a.files[0]))).toBe(true);
    const d = await runGenerateCli([...base('s3.png'), '--seed', '8']);
    expect(pixels(d.files[0]).equals(pixels(a.files[0]))).toBe(false);
  });

  it('a batch writes -1, -2 files', async () => {
    const { files } = await runGenerateCli([...base('batch.png'), '--seed', '1', '--batch', '2']);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['batch-1.png', 'batch-2.png']);
  });

  it('refuses bad arguments with clear messages', async () => {
    await expect(runGenerateCli(['--prompt', 'x', '--out', 'o.png'])).rejects.toThrow('--model <folder | model.safetensors> is required');
    await expect(runGenerateCli([...base('x.png'), '--seed', '1', '--latents', 'n.f32'])).rejects.toThrow(/--seed or --latents, not both/);
    writeFileSync(join(dir, 'short.f32'), Buffer.alloc(12));
    await expect(runGenerateCli([...base('x.png'), '--latents', join(dir, 'short.f32')])).rejects.toThrow(/--latents has 12 bytes/);
    await expect(runGenerateCli([...base('x.png'), '--steps', 'many'])).rejects.toThrow(/--steps must be a number/);
    await expect(runGenerateCli([...base('x.png'), '--width', '60'])).rejects.toThrow(/width must be a multiple of 8/);
    await expect(runGenerateCli([...base('x.png'), '--bogus'])).rejects.toThrow(/bogus/);
  });
});
