/** A1111's prompt chunking (`tokenize_line`) with the real CLIP tokenizer. */
import { beforeAll, describe, expect, it } from 'vitest';
import { chunkInput, chunkPrompt, countPromptTokens } from '../../../../src/pipeline/diffusion/prompt/chunks';
import { ClipTokenizer } from '../../../../src/pipeline/diffusion/tokenizer/clip';

const CAT = 2368; // "cat</w>"
const DOG = 1929; // "dog</w>"
const COMMA = 267; // ",</w>"
const words = (word: string, n: number) => Array(n).fill(word).join(' ');

let tok: ClipTokenizer;
beforeAll(async () => {
  tok = await ClipTokenizer.default();
  expect(tok.tokenize('cat dog ,')).toEqual([CAT, DOG, COMMA]);
});

describe('chunkPrompt', () => {
  it('keeps a short prompt in one chunk with its weights', () => {
    expect(chunkPrompt('a (cat:1.5), [dog]', tok)).toEqual([
      { tokens: [320, CAT, COMMA, DOG], weights: [1, 1.5, 1, 1 / 1.1] },
    ]);
  });

  it('gives the empty prompt one empty chunk', () => {
    expect(chunkPrompt('', tok)).toEqual([{ tokens: [], weights: [] }]);
    expect(chunkPrompt('   ', tok)).toEqual([{ tokens: [], weights: [] }]);
  });

  it('cuts every 75 tokens', () => {
    const chunks = chunkPrompt(words('cat', 160), tok);
    expect(chunks.map((c) => c.tokens.length)).toEqual([75, 75, 10]);
    expect(chunks.every((c) => c.tokens.every((t) => t === CAT))).toBe(true);
  });

  it('exactly 75 tokens is one chunk', () => {
    expect(chunkPrompt(words('cat', 75), tok).map((c) => c.tokens.length)).toEqual([75]);
  });

  it('starts a new chunk at BREAK, also at the very start; a trailing BREAK adds nothing', () => {
    expect(chunkPrompt('cat BREAK dog', tok)).toEqual([
      { tokens: [CAT], weights: [1] },
      { tokens: [DOG], weights: [1] },
    ]);
    expect(chunkPrompt('BREAK cat', tok).map((c) => c.tokens)).toEqual([[], [CAT]]);
    expect(chunkPrompt('cat BREAK', tok).map((c) => c.tokens)).toEqual([[CAT]]);
    expect(chunkPrompt('cat BREAK BREAK dog', tok).map((c) => c.tokens)).toEqual([[CAT], [], [DOG]]);
  });

  it('moves the words after a comma within the last 20 tokens into the next chunk', () => {
    const prompt = `${words('cat', 70)}, ${words('dog', 10)}`;
    const chunks = chunkPrompt(prompt, tok);
    expect(chunks.map((c) => c.tokens.length)).toEqual([71, 10]);
    expect(chunks[0].tokens.at(-1)).toBe(COMMA);
    expect(chunks[1].tokens).toEqual(Array(10).fill(DOG));
    // Off: a plain cut at 75.
    expect(chunkPrompt(prompt, tok, { commaBacktrack: 0 }).map((c) => c.tokens.length)).toEqual([75, 6]);
  });

  it('leaves a comma further back than 20 tokens alone', () => {
    // Comma at index 54: 75 − 54 = 21 > 20.
    const prompt = `${words('cat', 54)}, ${words('dog', 30)}`;
    expect(chunkPrompt(prompt, tok).map((c) => c.tokens.length)).toEqual([75, 10]);
    // At index 55 (75 − 55 = 20) it moves.
    const closer = `${words('cat', 55)}, ${words('dog', 30)}`;
    expect(chunkPrompt(closer, tok).map((c) => c.tokens.length)).toEqual([56, 30]);
  });

  it('moves weights together with their tokens', () => {
    const chunks = chunkPrompt(`${words('cat', 72)}, (dog dog dog dog:1.4)`, tok);
    expect(chunks.map((c) => c.tokens.length)).toEqual([73, 4]);
    expect(chunks[1].weights).toEqual([1.4, 1.4, 1.4, 1.4]);
  });

  it('with emphasis "none" takes brackets and BREAK literally', () => {
    const [chunk, ...rest] = chunkPrompt('(cat:1.5) BREAK dog', tok, { emphasis: 'none' });
    expect(rest).toEqual([]);
    expect(chunk.tokens).toEqual(tok.tokenize('(cat:1.5) BREAK dog'));
    expect(chunk.weights.every((w) => w === 1)).toBe(true);
  });

  it('with emphasis "ignore" still parses brackets away (weights are dropped later)', () => {
    expect(chunkPrompt('(cat:1.5)', tok, { emphasis: 'ignore' })[0].tokens).toEqual([CAT]);
  });
});

describe('countPromptTokens', () => {
  it('counts tokens per chunk', () => {
    expect(countPromptTokens('a photo of a cat', tok)).toEqual({ perChunk: [5], total: 5 });
    expect(countPromptTokens(words('cat', 80), tok)).toEqual({ perChunk: [75, 5], total: 80 });
    expect(countPromptTokens('', tok)).toEqual({ perChunk: [0], total: 0 });
    expect(countPromptTokens('cat BREAK dog dog', tok)).toEqual({ perChunk: [1, 2], total: 3 });
  });
});

describe('chunkInput', () => {
  it('wraps a chunk to 77 ids with start, end and padding, weight 1 outside the prompt', () => {
    const { ids, weights } = chunkInput({ tokens: [CAT, DOG], weights: [1.5, 0.5] }, tok);
    expect([...ids.slice(0, 4)]).toEqual([49406, CAT, DOG, 49407]);
    expect([...ids.slice(4)]).toEqual(Array(73).fill(49407));
    expect([...weights.slice(0, 4)]).toEqual([1, 1.5, 0.5, 1]);
    expect(weights.slice(4).every((w) => w === 1)).toBe(true);
  });

  it('pads with 0 after the end token for SD 2.x', () => {
    const { ids } = chunkInput({ tokens: [CAT], weights: [1] }, tok, 0);
    expect([...ids.slice(0, 4)]).toEqual([49406, CAT, 49407, 0]);
    expect(ids.slice(3).every((id) => id === 0)).toBe(true);
    const full = chunkInput({ tokens: Array(75).fill(CAT), weights: Array(75).fill(1) }, tok, 0).ids;
    expect(full[76]).toBe(49407);
  });
});
