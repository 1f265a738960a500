import { describe, expect, it } from 'vitest';
import { nameCandidates, PICKLE_REASON, scanPickedFiles, type PickedFile } from '../../src/registry/scan';

const f = (path: string, size = 10): PickedFile => ({ path, file: new Blob([new Uint8Array(size)]) });

describe('scanPickedFiles', () => {
  it('finds nothing in an empty folder', () => {
    expect(scanPickedFiles([])).toEqual({ candidates: [], refused: [], ignored: [] });
  });

  it('finds a diffusers folder by model_index.json and keeps only the files it uses', () => {
    const r = scanPickedFiles([
      f('sd15/model_index.json'),
      f('sd15/text_encoder/model.onnx', 100),
      f('sd15/unet/model.onnx', 200),
      f('sd15/unet/model.onnx_data', 3000),
      f('sd15/vae_decoder/model.onnx'),
      f('sd15/vae_encoder/model.onnx'),
      f('sd15/tokenizer/vocab.json'),
      f('sd15/tokenizer/merges.txt'),
      f('sd15/scheduler/scheduler_config.json'),
      f('sd15/README.md'),
      f('sd15/.DS_Store'),
    ]);
    expect(r.candidates).toHaveLength(1);
    const c = r.candidates[0];
    expect(c).toMatchObject({ kind: 'diffusers-folder', name: 'sd15', path: 'sd15' });
    expect(c.files.map((x) => x.path).sort()).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/model.onnx',
      'tokenizer/merges.txt',
      'tokenizer/vocab.json',
      'unet/model.onnx',
      'unet/model.onnx_data',
      'vae_decoder/model.onnx',
      'vae_encoder/model.onnx',
    ]);
    expect(c.bytes).toBe(100 + 200 + 3000 + 10 * 6);
    expect(r.ignored.sort()).toEqual(['sd15/.DS_Store', 'sd15/README.md']);
  });

  it('finds the SD-Turbo layout (component folders, no model_index.json) at the picked root', () => {
    const r = scanPickedFiles([f('text_encoder/model.onnx'), f('unet/model.onnx'), f('vae_decoder/model.onnx')]);
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0]).toMatchObject({ kind: 'diffusers-folder', path: '.', name: 'model' });
  });

  it('finds flat ONNX files with their external data, and safetensors, recursively', () => {
    const r = scanPickedFiles([
      f('upscalers/4x-ultra.onnx', 50),
      f('upscalers/4x-ultra.onnx_data', 500),
      f('loras/deep/style.safetensors'),
      f('embeddings/bad-hands.safetensors'),
      f('notes.txt'),
      f('cover.jpg'),
    ]);
    expect(r.candidates.map((c) => [c.kind, c.name, c.path])).toEqual([
      ['onnx-file', '4x-ultra', 'upscalers/4x-ultra.onnx'],
      ['safetensors-file', 'style', 'loras/deep/style.safetensors'],
      ['safetensors-file', 'bad-hands', 'embeddings/bad-hands.safetensors'],
    ]);
    expect(r.candidates[0].files.map((x) => x.path)).toEqual(['4x-ultra.onnx', '4x-ultra.onnx_data']);
    expect(r.candidates[0].bytes).toBe(550);
    expect(r.ignored).toEqual(['notes.txt', 'cover.jpg']);
  });

  it('lists pickles as refused with the reason, inside and outside model folders', () => {
    const r = scanPickedFiles([f('v1-5.ckpt', 99), f('old/model.pt'), f('x/y.pth'), f('sd/model_index.json'), f('sd/unet/diffusion_pytorch_model.bin')]);
    expect(r.refused.map((x) => x.path).sort()).toEqual(['old/model.pt', 'sd/unet/diffusion_pytorch_model.bin', 'v1-5.ckpt', 'x/y.pth']);
    expect(r.refused.every((x) => x.reason === PICKLE_REASON)).toBe(true);
    expect(PICKLE_REASON).toMatch(/convert .*safetensors or ONNX/);
    expect(r.refused.find((x) => x.path === 'v1-5.ckpt')?.bytes).toBe(99);
  });

  it('ignores a folder of JPEGs', () => {
    const r = scanPickedFiles([f('photos/a.jpg'), f('photos/b.jpeg'), f('photos/c.png')]);
    expect(r.candidates).toEqual([]);
    expect(r.ignored).toHaveLength(3);
  });

  it('accepts Windows separators and leading slashes', () => {
    const r = scanPickedFiles([f('\\models\\x.safetensors')]);
    expect(r.candidates[0].path).toBe('models/x.safetensors');
  });
});

describe('naming', () => {
  it('gives a duplicate its parent folder as a prefix, then a number', () => {
    const r = scanPickedFiles([f('a/style.safetensors'), f('b/style.safetensors'), f('b/c/style.safetensors')]);
    expect(r.candidates.map((c) => c.name)).toEqual(['style', 'b-style', 'c-style']);
    const again = scanPickedFiles([f('a/style.safetensors'), f('a/style.onnx')]);
    expect(again.candidates.map((c) => c.name)).toEqual(['style', 'a-style']);
  });

  it('avoids names already in the registry', () => {
    const r = scanPickedFiles([f('x/up.onnx')]);
    nameCandidates(r.candidates, ['up', 'x-up']);
    expect(r.candidates[0].name).toBe('x-up-2');
  });
});
