/**
 * A prompt tokenizer that knows a set of embeddings: where the tokens of an embedding's name occur,
 * they become the embedding's ids, so the prompt path (attention weights, chunking, the token
 * counter, the text encoder) sees one token position per vector.
 *
 * The match is A1111's: the name is tokenized with the model's tokenizer, and that token sequence
 * is looked for in the prompt's tokens, longest names first, inside each run of equal weight
 * (`(name:1.2)` weights all its vectors; a name cut by a bracket does not match). CLIP lower-cases
 * and splits on punctuation, so the match is case-insensitive and works on whole words: `MyStyle`
 * matches `mystyle`, `my-style` matches `my - style`, and `mystyles` is not `mystyle` (the word-end
 * marker differs).
 */
import { chunkPrompt, type ChunkOptions, type PromptTokenizer } from '../prompt/chunks';
import { EmbeddingError, type EmbeddingSet, type PlacedEmbedding } from './embedding';

interface Candidate {
  pattern: number[];
  embedding: PlacedEmbedding;
  ids: number[];
}

export class EmbeddingTokenizer implements PromptTokenizer {
  readonly startTokenId: number;
  readonly endTokenId: number;
  /** By the first token of the name: the candidates, longest pattern first. */
  private readonly byFirst = new Map<number, Candidate[]>();
  /** By an embedding's first id. */
  private readonly byId = new Map<number, PlacedEmbedding>();

  constructor(
    private readonly base: PromptTokenizer,
    readonly set: EmbeddingSet,
  ) {
    this.startTokenId = base.startTokenId;
    this.endTokenId = base.endTokenId;
    const seen = new Map<string, string>();
    for (const embedding of set.embeddings) {
      const pattern = base.tokenize(embedding.name);
      if (pattern.length === 0) throw new EmbeddingError(`embedding name "${embedding.name}" has no tokens; it cannot be used in a prompt`);
      const key = pattern.join(' ');
      const other = seen.get(key);
      if (other !== undefined) {
        throw new EmbeddingError(`embeddings "${other}" and "${embedding.name}" are the same word to the tokenizer (it ignores case); rename one`);
      }
      seen.set(key, embedding.name);
      const ids = Array.from({ length: embedding.count }, (_, i) => embedding.firstId + i);
      const list = this.byFirst.get(pattern[0]) ?? [];
      list.push({ pattern, embedding, ids });
      list.sort((a, b) => b.pattern.length - a.pattern.length);
      this.byFirst.set(pattern[0], list);
      this.byId.set(embedding.firstId, embedding);
    }
  }

  tokenId(token: string): number | undefined {
    return this.base.tokenId(token);
  }

  /** The base tokenizer's ids with each embedding name's tokens replaced by the embedding's ids. */
  tokenize(text: string): number[] {
    const tokens = this.base.tokenize(text);
    if (this.byFirst.size === 0) return tokens;
    const out: number[] = [];
    for (let i = 0; i < tokens.length; ) {
      const match = this.byFirst.get(tokens[i])?.find((c) => c.pattern.every((t, k) => tokens[i + k] === t));
      if (match) {
        out.push(...match.ids);
        i += match.pattern.length;
      } else out.push(tokens[i++]);
    }
    return out;
  }

  /** Vectors of the embedding whose first id is `id` (chunking keeps them in one chunk). */
  embeddingLength(id: number): number | undefined {
    return this.byId.get(id)?.count;
  }

  /** The embedding an id belongs to, if any. */
  embeddingOf(id: number): PlacedEmbedding | undefined {
    if (id < this.set.firstId || id >= this.set.firstId + this.set.rows) return undefined;
    return this.set.embeddings.find((e) => id >= e.firstId && id < e.firstId + e.count);
  }

  /** Names of the embeddings a prompt uses, in order of first use (for infotext `TI hashes`). */
  usedEmbeddings(prompt: string, options: ChunkOptions = {}): string[] {
    const used = new Set<string>();
    for (const chunk of chunkPrompt(prompt, this, options)) {
      for (const id of chunk.tokens) {
        const e = this.byId.get(id);
        if (e) used.add(e.name);
      }
    }
    return [...used];
  }
}

/** `base` itself when the set is empty (nothing changes), else a tokenizer that knows the set. */
export function withEmbeddings(base: PromptTokenizer, set: EmbeddingSet): PromptTokenizer {
  return set.embeddings.length === 0 ? base : new EmbeddingTokenizer(base, set);
}
