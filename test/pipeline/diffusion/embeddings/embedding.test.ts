/** Reading an embedding's vectors and placing a set of them as new token ids. */
import { describe, expect, it } from 'vitest';
import { embeddingRows, placeEmbeddings, readEmbedding, type Embedding, type EmbeddingTensor } from '../../../../src/pipeline/diffusion/embeddings/embedding';
import { float32ToFloat16Bits } from '../../../../src/pipeline/float16';

const values = [0.5, -1.25, 3, 0.375, -2, 1024, 0.0078125, -0.5];

/** One tensor's data section in a dtype, values chosen to be exact in all of them. */
function data(dtype: 'F16' | 'BF16' | 'F32' | 'F64', v = values): Uint8Array {
  const size = { F16: 2, BF16: 2, F32: 4, F64: 8 }[dtype];
  const out = new Uint8Array(v.length * size);
  const view = new DataView(out.buffer);
  v.forEach((x, i) => {
    if (dtype === 'F32') view.setFloat32(i * 4, x, true);
    else if (dtype === 'F64') view.setFloat64(i * 8, x, true);
    else if (dtype === 'F16') view.setUint16(i * 2, float32ToFloat16Bits(x), true);
    else view.setUint16(i * 2, new Uint32Array(new Float32Array([x]).buffer)[0] >>> 16, true);
  });
  return out;
}

const tensor = (name: string, dtype: string, shape: number[], begin = 0): EmbeddingTensor => {
  const size = { F16: 2, BF16: 2, F32: 4, F64: 8 }[dtype] ?? 4;
  return { name, dtype, shape, begin, end: begin + shape.reduce((a, b) => a * b, 1) * size };
};

describe('readEmbedding', () => {
  it.each(['F16', 'BF16', 'F32', 'F64'] as const)('decodes %s vectors to float32 rows', (dtype) => {
    const e = readEmbedding([tensor('emb_params', dtype, [2, 4])], data(dtype), { name: 'x' });
    expect(e).toEqual({ name: 'x', count: 2, width: 4, vectors: Float32Array.from(values) });
  });

  it('a one-dimensional tensor is one vector', () => {
    const e = readEmbedding([tensor('<cat-toy>', 'F32', [8])], data('F32'), { name: 'toy' });
    expect([e.count, e.width]).toEqual([1, 8]);
  });

  it('refuses a width other than the text encoder’s, naming both', () => {
    expect(() => readEmbedding([tensor('emb_params', 'F32', [2, 4])], data('F32'), { name: 'x', width: 768 })).toThrow(
      /"x" has 4-wide vectors but the text encoder is 768 \(SD 1\.x\) wide/,
    );
  });

  it('refuses broken tensors: NaN values, byte ranges that do not fit the shape, integer dtypes', () => {
    expect(() => readEmbedding([tensor('emb_params', 'F32', [2, 4])], data('F32', [...values.slice(0, 7), NaN]), { name: 'x' })).toThrow(/holds NaN \(vector 2\)/);
    expect(() => readEmbedding([{ ...tensor('emb_params', 'F32', [2, 4]), end: 16 }], data('F32'), { name: 'x' })).toThrow(/spans bytes 0–16/);
    expect(() => readEmbedding([tensor('emb_params', 'I32', [2, 4])], data('F32'), { name: 'x' })).toThrow(/I32/);
    expect(() => readEmbedding([tensor('emb_params', 'F32', [1, 2, 4])], data('F32'), { name: 'x' })).toThrow(/shape \[1, 2, 4\]/);
  });
});

describe('placeEmbeddings', () => {
  const e = (name: string, count: number, width = 2): Embedding => ({ name, count, width, vectors: Float32Array.from({ length: count * width }, (_, i) => 10 * count + i) });

  it('gives ids after the vocabulary in load order and lays the rows out in that order', () => {
    const set = placeEmbeddings([e('a', 2), e('b', 1), e('c', 3)], { firstId: 49408, width: 2 });
    expect(set.embeddings.map((x) => [x.name, x.firstId])).toEqual([['a', 49408], ['b', 49410], ['c', 49411]]);
    expect(set.rows).toBe(6);
    expect([...embeddingRows(set)]).toEqual([20, 21, 22, 23, 10, 11, 30, 31, 32, 33, 34, 35]);
  });

  it('refuses a width mismatch (naming both), more than 75 vectors, and a repeated name', () => {
    expect(() => placeEmbeddings([e('sd2', 1, 1024)], { firstId: 49408, width: 768 })).toThrow(
      'embedding "sd2" has 1024 (SD 2.x)-wide vectors but the text encoder is 768 (SD 1.x) wide',
    );
    expect(() => placeEmbeddings([e('long', 76)], { firstId: 49408, width: 2 })).toThrow(/76 vectors; a prompt chunk holds 75/);
    expect(() => placeEmbeddings([e('a', 1), e('a', 2)], { firstId: 49408, width: 2 })).toThrow(/two embeddings are named "a"/);
  });
});
