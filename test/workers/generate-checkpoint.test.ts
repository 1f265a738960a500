// @vitest-environment node
/**
 * `npm run generate -- --model model.safetensors …`: a single-file checkpoint generates directly
 * (its graphs built in memory over the file) with the very pixels of the folder
 * convert-checkpoint writes from it, in the plain form and the --config form; what is not a
 * checkpoint is refused in the checkpoint reader's words.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInfotext } from '../../src/media/infotext';
import { decodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import { runConvertCheckpoint } from '../../src/registry/checkpoint/cli';
import { runGenerateCli } from '../../workers/ort/generate-cli';
import { ldmCheckpointBytes, ldmTensorSpecs, tinyLdmConfig } from '../fixtures/ldm-checkpoint';
import * as st from '../fixtures/safetensors-builder';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'media-lab-generate-checkpoint-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny checkpoint file and the folder convert-checkpoint makes of it. */
async function checkpoint(family: 'sd1' | 'sd2', dtype: 'F16' | 'F32') {
  const file = join(dir, `tiny-${family}-${dtype}.safetensors`);
  writeFileSync(file, ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig(family), dtype), 5));
  const folder = join(dir, `tiny-${family}-${dtype}`);
  await runConvertCheckpoint([file, '--out', folder], () => undefined);
  return { file, folder };
}

const pixels = (path: string) => decodePng(new Uint8Array(readFileSync(path)));
const plain = (model: string, out: string) => [
  '--model', model, '--prompt', 'a lighthouse, at dusk', '--width', '64', '--height', '64', '--steps', '2', '--seed', '9', '--out', join(dir, out),
];

describe('npm run generate -- --model model.safetensors', () => {
  for (const [family, dtype] of [
    ['sd1', 'F16'],
    ['sd2', 'F32'],
  ] as const) {
    it(`${family} ${dtype}: the file gives the pixels of its converted folder`, async () => {
      const { file, folder } = await checkpoint(family, dtype);
      const direct = await runGenerateCli(plain(file, `${family}-file.png`), () => undefined);
      const converted = await runGenerateCli(plain(folder, `${family}-folder.png`), () => undefined);
      const [a, b] = [pixels(direct.files[0]!), pixels(converted.files[0]!)];
      expect([a.width, a.height]).toEqual([16, 16]);
      expect(new Set(a.data).size).toBeGreaterThan(10);
      expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
      // The infotext names the model as A1111 does: the file name without its extension.
      const text = readPngTextChunks(new Uint8Array(readFileSync(direct.files[0]!)));
      expect(parseInfotext(text.find((c) => c.keyword === 'parameters')!.text).params.Model).toBe(`tiny-${family}-${dtype}`);
    });
  }

  it("--config: the file gives the pixels of its converted folder, with its family's defaults", async () => {
    const { file, folder } = await checkpoint('sd1', 'F16');
    const cfg = join(dir, 't2i.json');
    writeFileSync(cfg, JSON.stringify({ stages: [{ stage_type: 'text_to_image', name: 'gen', parameters: { prompt: 'a red fox', width: 64, height: 64, steps: 2, seed: 4 } }], parameters: {} }));
    const direct = await runGenerateCli(['--model', file, '--config', cfg, '--out', join(dir, 'cfg-file')], () => undefined);
    const converted = await runGenerateCli(['--model', folder, '--config', cfg, '--out', join(dir, 'cfg-folder')], () => undefined);
    expect(direct.files).toEqual([join(dir, 'cfg-file', 'generated.png')]);
    const [a, b] = [pixels(direct.files[0]!), pixels(converted.files[0]!)];
    expect(new Set(a.data).size).toBeGreaterThan(10);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    // The stage names no sampler: the family's default (SD 1.x: DPM++ 2M), as the registry gives it.
    expect(direct.metadata!.gen).toMatchObject({ model: 'tiny-sd1-F16', scheduler: 'dpmpp_2m' });
    expect(converted.metadata!.gen).toMatchObject({ scheduler: 'dpmpp_2m' });
  });

  it("refuses a LoRA, an embedding, SDXL, a truncated file and a pickle in the reader's words, writing nothing", async () => {
    const write = (name: string, bytes: Uint8Array) => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    };
    const run = (model: string) => runGenerateCli(plain(model, 'refused.png'), () => undefined);
    await expect(run(write('style.safetensors', st.kohyaLora()))).rejects.toThrow(/^style\.safetensors is a LoRA .*not a checkpoint/);
    await expect(run(write('emb.safetensors', st.a1111Embedding()))).rejects.toThrow(/^emb\.safetensors is a textual-inversion embedding/);
    await expect(run(write('xl.safetensors', st.sdxlCheckpoint()))).rejects.toThrow(/^xl\.safetensors is an SDXL checkpoint .*only SD 1\.x and SD 2\.x/);
    const whole = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig('sd1'), 'F16'), 1);
    await expect(run(write('cut.safetensors', whole.subarray(0, whole.byteLength - 1000)))).rejects.toThrow(/truncated|past the end|ends/i);
    await expect(run(write('old.ckpt', new Uint8Array(64)))).rejects.toThrow("--model '" + join(dir, 'old.ckpt') + "' is a file: give a model folder or a single-file .safetensors checkpoint");
    await expect(run(join(dir, 'missing.safetensors'))).rejects.toThrow(/--model '.*missing\.safetensors' does not exist/);
    // The --config form is refused the same way, before any model loads.
    const cfg = join(dir, 'any.json');
    writeFileSync(cfg, JSON.stringify({ stages: [{ stage_type: 'text_to_image', name: 'gen', parameters: { prompt: 'x', width: 64, height: 64, steps: 1 } }], parameters: {} }));
    await expect(runGenerateCli(['--model', join(dir, 'style.safetensors'), '--config', cfg, '--out', join(dir, 'cfg-refused')], () => undefined)).rejects.toThrow(/is a LoRA/);
    expect(readdirSync(dir).filter((f) => f.startsWith('refused') || f === 'cfg-refused')).toEqual([]);
  });
});
