/**
 * Embedding names in prompts, the A1111 way, with the real CLIP tokenizer: the name's tokens become
 * the embedding's new ids (one per vector), inside attention weights, chunking and the counter.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { placeEmbeddings, type Embedding, type EmbeddingSet } from '../../../../src/pipeline/diffusion/embeddings/embedding';
import { EmbeddingTokenizer, withEmbeddings } from '../../../../src/pipeline/diffusion/embeddings/tokenizer';
import { chunkInput, chunkPrompt, countPromptTokens } from '../../../../src/pipeline/diffusion/prompt/chunks';
import { buildConditioning } from '../../../../src/pipeline/diffusion/prompt/conditioning';
import { ClipTokenizer } from '../../../../src/pipeline/diffusion/tokenizer/clip';
import type { TextEncoderPort } from '../../../../src/pipeline/ports';

// Real CLIP ids (test/fixtures/oracles/tokenizer.json): "a photo of a cat", and "," and "dog".
const A = 320;
const PHOTO = 1125;
const OF = 539;
const CAT = 2368;
const DOG = 1929;
const COMMA = 267;
const START = 49406;
const END = 49407;
const VOCAB = 49408;

const embedding = (name: string, count: number, width = 4): Embedding => ({
  name,
  count,
  width,
  vectors: Float32Array.from({ length: count * width }, (_, i) => i + 1),
});

let tok: ClipTokenizer;
beforeAll(async () => {
  tok = await ClipTokenizer.default();
  expect(tok.vocabSize).toBe(VOCAB);
  expect(tok.tokenize('a photo of a cat , dog')).toEqual([A, PHOTO, OF, A, CAT, COMMA, DOG]);
});

function tokenizerWith(...embeddings: Embedding[]): { set: EmbeddingSet; t: EmbeddingTokenizer } {
  const set = placeEmbeddings(embeddings, { firstId: tok.vocabSize, width: 4 });
  return { set, t: new EmbeddingTokenizer(tok, set) };
}

describe('EmbeddingTokenizer', () => {
  it('puts the embedding ids (one per vector, from 49408) where the name is; the words around keep their CLIP ids', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 2));
    expect(t.tokenize('a photo of MyStyle, cat')).toEqual([A, PHOTO, OF, VOCAB, VOCAB + 1, COMMA, CAT]);
    expect(t.startTokenId).toBe(START);
    expect(t.endTokenId).toBe(END);
    expect(t.tokenId(',</w>')).toBe(COMMA);
  });

  it('gives ids in load order; a second use of a name repeats its ids', () => {
    const { t } = tokenizerWith(embedding('first', 3), embedding('second', 1));
    expect(t.tokenize('second first cat first')).toEqual([VOCAB + 3, VOCAB, VOCAB + 1, VOCAB + 2, CAT, VOCAB, VOCAB + 1, VOCAB + 2]);
  });

  it('matches as CLIP sees words: any case, punctuation spaced or not, but not inside a longer word', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 2), embedding('bad-hands', 1));
    for (const prompt of ['mystyle', 'MYSTYLE', 'MyStyle']) expect(t.tokenize(prompt)).toEqual([VOCAB, VOCAB + 1]);
    expect(t.tokenize('bad-hands')).toEqual([VOCAB + 2]);
    expect(t.tokenize('bad - hands')).toEqual([VOCAB + 2]);
    // Another word (the end-of-word marker differs), left to the plain tokenizer.
    expect(t.tokenize('mystyles')).toEqual(tok.tokenize('mystyles'));
    expect(t.tokenize('mystyles').every((id) => id < VOCAB)).toBe(true);
    expect(t.tokenize('bad hands')).toEqual(tok.tokenize('bad hands'));
  });

  it('prefers the longest name where names overlap', () => {
    const { t } = tokenizerWith(embedding('style', 1), embedding('oil style', 2));
    expect(t.tokenize('oil style')).toEqual([VOCAB + 1, VOCAB + 2]);
    expect(t.tokenize('a style')).toEqual([A, VOCAB]);
  });

  it('refuses names the tokenizer cannot tell apart, and names without tokens', () => {
    expect(() => tokenizerWith(embedding('MyStyle', 1), embedding('mystyle', 1))).toThrow(/"MyStyle" and "mystyle" are the same word/);
    expect(() => tokenizerWith(embedding('   ', 1))).toThrow(/has no tokens/);
  });

  it('withEmbeddings returns the tokenizer itself for an empty set', () => {
    expect(withEmbeddings(tok, placeEmbeddings([], { firstId: VOCAB, width: 4 }))).toBe(tok);
    expect(withEmbeddings(tok, placeEmbeddings([embedding('x', 1)], { firstId: VOCAB, width: 4 }))).toBeInstanceOf(EmbeddingTokenizer);
  });

  it('names the embeddings a prompt uses and finds the embedding of an id', () => {
    const { t } = tokenizerWith(embedding('first', 2), embedding('second', 1), embedding('third', 1));
    expect(t.usedEmbeddings('cat, (third:1.2) and first, first')).toEqual(['third', 'first']);
    expect(t.usedEmbeddings('a cat')).toEqual([]);
    expect(t.embeddingOf(VOCAB + 1)?.name).toBe('first');
    expect(t.embeddingOf(VOCAB + 2)?.name).toBe('second');
    expect(t.embeddingOf(CAT)).toBeUndefined();
    expect(t.embeddingLength(VOCAB)).toBe(2);
    expect(t.embeddingLength(VOCAB + 1)).toBeUndefined();
  });
});

describe('embeddings in the prompt path', () => {
  it('attention weights apply to every vector of the embedding; a name cut by a bracket does not match', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 3));
    expect(chunkPrompt('a (MyStyle:1.2), [cat]', t)).toEqual([
      { tokens: [A, VOCAB, VOCAB + 1, VOCAB + 2, COMMA, CAT], weights: [1, 1.2, 1.2, 1.2, 1, 1 / 1.1] },
    ]);
    expect(chunkPrompt('My(Style)', t)[0].tokens.every((id) => id < VOCAB)).toBe(true);
  });

  it('the token counter counts vectors', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 5));
    expect(countPromptTokens('a photo of MyStyle', t)).toEqual({ perChunk: [8], total: 8 });
    expect(countPromptTokens('a photo of MyStyle', tok).total).toBeLessThan(8);
  });

  it('never splits an embedding across chunks: one that does not fit starts the next chunk', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 3));
    const cats = (n: number) => Array(n).fill('cat').join(' ');
    // 72 + 3 = 75 fits exactly.
    expect(chunkPrompt(`${cats(72)} MyStyle`, t).map((c) => c.tokens.length)).toEqual([75]);
    // 74 + 3 does not: chunk 1 keeps 74 tokens, the three vectors open chunk 2.
    const chunks = chunkPrompt(`${cats(74)} MyStyle dog`, t);
    expect(chunks.map((c) => c.tokens.length)).toEqual([74, 4]);
    expect(chunks[1].tokens).toEqual([VOCAB, VOCAB + 1, VOCAB + 2, DOG]);
    // Plain tokens still fill chunks to 75.
    expect(chunkPrompt(`${cats(74)} dog dog`, t).map((c) => c.tokens.length)).toEqual([75, 1]);
    // A full chunk with a comma 5 tokens back: the words after it move on, and the embedding follows them.
    const backtracked = chunkPrompt(`${cats(70)}, cat cat cat cat MyStyle`, t);
    expect(backtracked.map((c) => c.tokens.length)).toEqual([71, 7]);
    expect(backtracked[1].tokens).toEqual([CAT, CAT, CAT, CAT, VOCAB, VOCAB + 1, VOCAB + 2]);
    expect(chunkPrompt(`${cats(70)}, cat cat cat cat MyStyle`, t, { commaBacktrack: 0 }).map((c) => c.tokens.length)).toEqual([75, 3]);
  });

  it('changes nothing for prompts without embedding names', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 3));
    const prompt = `masterpiece, (best quality:1.3), ${Array(90).fill('dog').join(' ')} BREAK cat`;
    expect(chunkPrompt(prompt, t)).toEqual(chunkPrompt(prompt, tok));
  });

  it('chunk input keeps the ids and pads after the end token (SD 2.x pad 0)', () => {
    const { t } = tokenizerWith(embedding('MyStyle', 2));
    const [chunk] = chunkPrompt('a MyStyle', t);
    const { ids } = chunkInput(chunk, t, 0);
    expect([...ids.slice(0, 6)]).toEqual([START, A, VOCAB, VOCAB + 1, END, 0]);
    expect(ids.slice(5).every((id) => id === 0)).toBe(true);
  });

  it('buildConditioning sends the embedding ids to the text encoder and weights their positions', async () => {
    const { t } = tokenizerWith(embedding('MyStyle', 2));
    const seen: Int32Array[] = [];
    const hidden = 2;
    // Output row = [id, 1]: the weights show up per position (emphasis no-norm keeps them plain).
    const textEncoder: TextEncoderPort = {
      sequenceLength: 77,
      hiddenSize: hidden,
      run: async (ids) => {
        seen.push(ids.slice());
        return { data: Float32Array.from({ length: 77 * hidden }, (_, i) => (i % hidden === 0 ? ids[i / hidden] : 1)), dims: [1, 77, hidden] };
      },
    };
    const c = await buildConditioning('cat (MyStyle:1.5)', { tokenizer: t, textEncoder, emphasis: 'no-norm' });
    expect(c.tokenCount).toBe(3);
    expect([...seen[0].slice(0, 5)]).toEqual([START, CAT, VOCAB, VOCAB + 1, END]);
    expect(c.embeddings.data[2 * hidden + 1]).toBeCloseTo(1.5, 6);
    expect(c.embeddings.data[3 * hidden + 1]).toBeCloseTo(1.5, 6);
    expect(c.embeddings.data[1 * hidden + 1]).toBe(1);
  });
});
