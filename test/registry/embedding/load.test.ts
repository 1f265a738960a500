/** Embedding files as the studio imports them (.safetensors built in code), read to float32 vectors. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { embeddingHash, embeddingNameOf, loadEmbedding } from '../../../src/registry/embedding/load';
import { a1111Embedding, buildSafetensors, diffusersEmbedding, kohyaLora, sdxlEmbedding } from '../../fixtures/safetensors-builder';
import { float32ToFloat16Bits } from '../../../src/pipeline/float16';

/** Distinct values per vector and element, exact in float16. */
const pattern = (count: number, width: number, base = 0) => Float32Array.from({ length: count * width }, (_, i) => base + Math.floor(i / width) + (i % 64) / 64);
const f32Bytes = (v: Float32Array) => new Uint8Array(v.buffer.slice(0));
const f16Bytes = (v: Float32Array) => new Uint8Array(Uint16Array.from(v, float32ToFloat16Bits).buffer);

describe('loadEmbedding', () => {
  it('reads A1111 emb_params, named by the file stem or the name given at import', () => {
    const v = pattern(2, 768);
    const file = buildSafetensors([{ name: 'emb_params', dtype: 'F32', shape: [2, 768], data: f32Bytes(v) }]);
    const e = loadEmbedding(file, 'some/folder/EasyStyle.safetensors');
    expect(e).toEqual({ name: 'EasyStyle', count: 2, width: 768, vectors: v });
    expect(loadEmbedding(file, 'x.safetensors', { name: 'renamed' }).name).toBe('renamed');
    expect(loadEmbedding(a1111Embedding(), 'zeros.safetensors').vectors.every((x) => x === 0)).toBe(true);
  });

  it('reads the .pt layout flattened (string_to_param.* beside string_to_token.*)', () => {
    const v = pattern(3, 768);
    const file = buildSafetensors([
      { name: 'string_to_param.*', dtype: 'F16', shape: [3, 768], data: f16Bytes(v) },
      { name: 'string_to_token.*', dtype: 'F32', shape: [] },
    ]);
    expect(loadEmbedding(file, 'pt-style.safetensors')).toEqual({ name: 'pt-style', count: 3, width: 768, vectors: v });
  });

  it('reads a diffusers learned_embeds file by its file name, not its <token> key (as A1111)', () => {
    const e = loadEmbedding(diffusersEmbedding(), 'learned_embeds.safetensors');
    expect([e.name, e.count, e.width]).toEqual(['learned_embeds', 1, 768]);
  });

  it('reads SD 2.x (1024-wide) embeddings and refuses them for a 768-wide text encoder, naming both widths', () => {
    const v = pattern(4, 1024);
    const file = buildSafetensors([{ name: 'emb_params', dtype: 'F32', shape: [4, 1024], data: f32Bytes(v) }]);
    expect(loadEmbedding(file, 'sd2.safetensors', { width: 1024 })).toEqual({ name: 'sd2', count: 4, width: 1024, vectors: v });
    expect(() => loadEmbedding(file, 'sd2.safetensors', { width: 768 })).toThrow('embedding "sd2" has 1024 (SD 2.x)-wide vectors but the text encoder is 768 (SD 1.x) wide');
  });

  it('takes clip_l from an SDXL file for a 768-wide text encoder and clip_g for a 1280-wide one; other widths name both', () => {
    const l = pattern(2, 768, 0);
    const g = pattern(2, 1280, -8);
    const file = buildSafetensors([
      { name: 'clip_g', dtype: 'F16', shape: [2, 1280], data: f16Bytes(g) },
      { name: 'clip_l', dtype: 'F16', shape: [2, 768], data: f16Bytes(l) },
    ]);
    expect(loadEmbedding(file, 'xl.safetensors', { width: 768 }).vectors).toEqual(l);
    expect(loadEmbedding(file, 'xl.safetensors', { width: 1280 }).vectors).toEqual(g);
    expect(loadEmbedding(file, 'xl.safetensors').width).toBe(768);
    expect(() => loadEmbedding(file, 'xl.safetensors', { width: 1024 })).toThrow(/SDXL embedding \(clip_l 768 wide, clip_g 1280 wide\); the text encoder is 1024 \(SD 2\.x\) wide/);
    expect(loadEmbedding(sdxlEmbedding(), 'xl.safetensors').count).toBe(3);
  });

  it('refuses files that are not embeddings, and broken ones', () => {
    expect(() => loadEmbedding(kohyaLora(), 'lora.safetensors')).toThrow(/lora\.safetensors is not a textual-inversion embedding: it is a lora/);
    expect(() => loadEmbedding(new Uint8Array(4), 'short.safetensors')).toThrow(/not a safetensors file/);
    const file = a1111Embedding();
    expect(() => loadEmbedding(file.subarray(0, file.length - 4), 'cut.safetensors')).toThrow();
  });

  it('hashes the whole file as A1111 does for TI hashes (sha256, 12 hex digits)', async () => {
    const file = a1111Embedding();
    expect(await embeddingHash(file)).toBe(createHash('sha256').update(file).digest('hex').slice(0, 12));
    expect(embeddingNameOf('C:\\emb\\Bad Hands.SAFETENSORS')).toBe('Bad Hands');
  });
});
