/**
 * Prompt → conditioning with a fake text encoder whose output is a known function of token id
 * and position, so chunking, weights, mean rescaling and padding can be checked by hand.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { applyEmphasis, buildConditioning, buildConditioningPair, type ConditioningOptions } from '../../../../src/pipeline/diffusion/prompt/conditioning';
import type { TextEncoderPort } from '../../../../src/pipeline/ports';
import type { Tensor } from '../../../../src/pipeline/tensor';
import { ClipTokenizer } from '../../../../src/pipeline/diffusion/tokenizer/clip';

const CAT = 2368;
const cats = (n: number) => Array(n).fill('cat').join(' ');

type Value = (id: number, position: number, h: number) => number;
/** Test double: `last_hidden_state[0][p][h] = value(ids[p], p, h)`; records every call. */
function fakeEncoder(value: Value, hiddenSize = 3, sequenceLength: number | null = 77) {
  const calls: Array<{ ids: number[]; dims: readonly number[] }> = [];
  const port: TextEncoderPort = {
    sequenceLength,
    hiddenSize,
    async run(ids, dims): Promise<Tensor> {
      calls.push({ ids: [...ids], dims: [...dims] });
      const data = new Float32Array(dims[1] * hiddenSize);
      for (let p = 0; p < dims[1]; p++) for (let h = 0; h < hiddenSize; h++) data[p * hiddenSize + h] = value(ids[p], p, h);
      return { data, dims: [dims[0], dims[1], hiddenSize] };
    },
  };
  return { port, calls };
}

/** Distinct, exactly representable values: which token, where, which channel. */
const byToken: Value = (id, p, h) => (id % 1000) + p / 128 + h / 4;
const row = (t: Tensor, p: number) => [...t.data.slice(p * t.dims[2], (p + 1) * t.dims[2])];

let tokenizer: ClipTokenizer;
beforeAll(async () => {
  tokenizer = await ClipTokenizer.default();
});
const opts = (port: TextEncoderPort, more: Partial<ConditioningOptions> = {}): ConditioningOptions => ({ tokenizer, textEncoder: port, ...more });

describe('buildConditioning', () => {
  it('encodes a short prompt as one 77-token chunk, unchanged when unweighted', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const c = await buildConditioning('a photo of a cat', opts(port));
    expect(c).toMatchObject({ chunks: 1, tokenCount: 5, truncated: false, droppedTokens: 0, paddingChunks: 0 });
    expect(c.embeddings.dims).toEqual([1, 77, 3]);
    expect(calls).toHaveLength(1);
    expect(calls[0].dims).toEqual([1, 77]);
    expect(calls[0].ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, CAT, 49407]);
    expect(row(c.embeddings, 5)).toEqual([368 + 5 / 128, 368 + 5 / 128 + 0.25, 368 + 5 / 128 + 0.5]);
  });

  it('weights one token and restores the mean (hand-computed)', async () => {
    // z = 1 everywhere; "cat" ×2 → mean 78/77, so everything is scaled by 77/78.
    const { port } = fakeEncoder(() => 1);
    const c = await buildConditioning('(cat:2)', opts(port));
    expect(row(c.embeddings, 0)).toEqual(Array(3).fill(Math.fround(77 / 78)));
    expect(row(c.embeddings, 1)).toEqual(Array(3).fill(Math.fround((2 * 77) / 78)));
    expect(row(c.embeddings, 76)).toEqual(Array(3).fill(Math.fround(77 / 78)));
  });

  it('applies per-position weights then rescales to the original mean', async () => {
    const { port } = fakeEncoder(byToken);
    const prompt = 'a (cat:1.5) [dog]';
    const raw = await buildConditioning(prompt, opts(port, { emphasis: 'ignore' }));
    const weighted = await buildConditioning(prompt, opts(port));
    const w = [1, 1, 1.5, 1 / 1.1, ...Array(73).fill(1)];
    const scaled = [...raw.embeddings.data].map((v, i) => v * Math.fround(w[Math.floor(i / 3)]));
    const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(raw.embeddings.data) / mean(scaled);
    scaled.forEach((v, i) => expect(weighted.embeddings.data[i]).toBeCloseTo(v * ratio, 4));
    expect(mean(weighted.embeddings.data)).toBeCloseTo(mean(raw.embeddings.data), 4);
  });

  it('"no-norm" multiplies without rescaling', async () => {
    const { port } = fakeEncoder(() => 1);
    const c = await buildConditioning('(cat:2)', opts(port, { emphasis: 'no-norm' }));
    expect(row(c.embeddings, 1)).toEqual([2, 2, 2]);
    expect(row(c.embeddings, 2)).toEqual([1, 1, 1]);
  });

  it('"ignore" parses the brackets away but applies no weight', async () => {
    const { port, calls } = fakeEncoder(() => 1);
    const c = await buildConditioning('(cat:2)', opts(port, { emphasis: 'ignore' }));
    expect(calls[0].ids.slice(0, 3)).toEqual([49406, CAT, 49407]);
    expect(c.embeddings.data.every((v) => v === 1)).toBe(true);
  });

  it('"none" encodes the prompt literally', async () => {
    const { port, calls } = fakeEncoder(() => 1);
    const c = await buildConditioning('(cat:2)', opts(port, { emphasis: 'none' }));
    expect(calls[0].ids.slice(1, 6)).toEqual(tokenizer.tokenize('(cat:2)'));
    expect(c.tokenCount).toBe(5);
    expect(c.embeddings.data.every((v) => v === 1)).toBe(true);
  });

  it('encodes long prompts chunk by chunk and joins them along the sequence', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const c = await buildConditioning(cats(80), opts(port));
    expect(c).toMatchObject({ chunks: 2, tokenCount: 80, truncated: false });
    expect(c.embeddings.dims).toEqual([1, 154, 3]);
    expect(calls.map((call) => call.dims)).toEqual([[1, 77], [1, 77]]);
    expect(calls[1].ids.slice(0, 8)).toEqual([49406, CAT, CAT, CAT, CAT, CAT, 49407, 49407]);
    // Second chunk's start token sits at sequence position 77, its first "cat" at 78 (position 1 of its chunk).
    expect(row(c.embeddings, 77)).toEqual(row(c.embeddings, 0));
    expect(row(c.embeddings, 78)[0]).toBe(368 + 1 / 128);
  });

  it('starts a chunk at BREAK', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const c = await buildConditioning('cat BREAK cat', opts(port));
    expect(c.chunks).toBe(2);
    expect(calls.map((call) => call.ids.slice(0, 3))).toEqual([[49406, CAT, 49407], [49406, CAT, 49407]]);
  });

  it('pads with 0 after the end token when asked (SD 2.x)', async () => {
    const { port, calls } = fakeEncoder(byToken);
    await buildConditioning('a cat', opts(port, { padTokenId: 0 }));
    expect(calls[0].ids.slice(0, 5)).toEqual([49406, 320, CAT, 49407, 0]);
    expect(calls[0].ids.slice(4).every((id) => id === 0)).toBe(true);
  });

  it('keeps only the first chunk for a UNet fixed at 77 tokens and says what was dropped', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const c = await buildConditioning(cats(80), opts(port, { maxChunks: 1 }));
    expect(c).toMatchObject({ chunks: 1, tokenCount: 80, truncated: true, droppedTokens: 5 });
    expect(c.embeddings.dims).toEqual([1, 77, 3]);
    expect(calls).toHaveLength(1);
    const short = await buildConditioning('a cat', opts(port, { maxChunks: 1 }));
    expect(short).toMatchObject({ truncated: false, droppedTokens: 0 });
  });

  it('treats the empty prompt as the unconditional embedding', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const c = await buildConditioning('', opts(port));
    expect(c).toMatchObject({ chunks: 1, tokenCount: 0 });
    expect(calls[0].ids).toEqual([49406, ...Array(76).fill(49407)]);
  });

  it('rejects bad options and bad encoder output clearly', async () => {
    const { port } = fakeEncoder(byToken);
    await expect(buildConditioning('x', opts(port, { maxChunks: 0 }))).rejects.toThrow(/maxChunks/);
    await expect(buildConditioning('x', opts(port, { maxChunks: 1.5 }))).rejects.toThrow(/maxChunks/);
    await expect(buildConditioning('x', opts(fakeEncoder(byToken, 3, 64).port))).rejects.toThrow(/takes 64 tokens/);
    await expect(buildConditioning('x', opts(fakeEncoder(byToken, 3, null).port))).resolves.toMatchObject({ chunks: 1 });

    const nan = fakeEncoder((id, p) => (p === 2 ? NaN : 1)).port;
    await expect(buildConditioning('a cat', opts(nan))).rejects.toThrow(/NaN \(token position 2\)/);
    const wrong: TextEncoderPort = { ...port, run: async () => ({ data: new Float32Array(77 * 4), dims: [1, 77, 4] }) };
    await expect(buildConditioning('a cat', opts(wrong))).rejects.toThrow(/dims \[1, 77, 4\], expected \[1, 77, 3\]/);
  });

  it('refuses weights that make the mean 0 instead of returning Infinity', async () => {
    const { port } = fakeEncoder((id) => (id === CAT ? 1 : 0));
    await expect(buildConditioning('(cat:0)', opts(port))).rejects.toThrow(/mean became 0/);
  });
});

describe('buildConditioningPair', () => {
  it('pads the shorter prompt with empty-prompt chunks', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const { positive, negative } = await buildConditioningPair(cats(80), 'dog', opts(port));
    expect(positive.embeddings.dims).toEqual([1, 154, 3]);
    expect(negative.embeddings.dims).toEqual([1, 154, 3]);
    expect(negative).toMatchObject({ chunks: 2, paddingChunks: 1, tokenCount: 1 });
    expect(positive.paddingChunks).toBe(0);
    const empty = await buildConditioning('', opts(port));
    expect([...negative.embeddings.data.slice(77 * 3)]).toEqual([...empty.embeddings.data]);
    expect(calls.at(-2)!.ids).toEqual([49406, ...Array(76).fill(49407)]);
  });

  it('pads the positive side too, and leaves equal lengths alone', async () => {
    const { port, calls } = fakeEncoder(byToken);
    const padded = await buildConditioningPair('', cats(160), opts(port));
    expect(padded.positive).toMatchObject({ chunks: 3, paddingChunks: 2 });
    expect(padded.negative).toMatchObject({ chunks: 3, paddingChunks: 0 });
    calls.length = 0;
    const same = await buildConditioningPair('cat', 'dog', opts(port));
    expect(same.positive.chunks).toBe(1);
    expect(calls).toHaveLength(2);
  });
});

describe('applyEmphasis', () => {
  it('leaves the output untouched when every weight is 1', () => {
    const z = new Float32Array([1, 2, 3, 4]);
    expect(applyEmphasis(z, new Float32Array([1, 1]), 2, 'original')).toBe(z);
  });
});
