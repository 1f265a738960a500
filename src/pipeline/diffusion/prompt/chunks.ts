/**
 * A prompt → chunks of at most 75 weighted tokens, as AUTOMATIC1111 splits long prompts: each
 * chunk is later wrapped to CLIP's 77 (start, tokens, end, padding) and encoded on its own.
 */
import { PROMPT_CHUNK_TOKENS, type Emphasis } from '../../../protocol/pipeline-config';
import { parsePromptAttention, type WeightedText } from './attention';

/**
 * How `(x:1.2)` weights act (A1111's "Emphasis mode" setting):
 * - `original`: scale each token's embedding by its weight, then restore the chunk's mean (A1111's default);
 * - `no-norm`: scale, without restoring the mean;
 * - `ignore`: brackets are parsed away but weights are not applied;
 * - `none`: the prompt is taken literally: brackets and BREAK are plain text.
 */
export type { Emphasis } from '../../../protocol/pipeline-config';

/** Prompt tokens per chunk; with the start and end tokens a chunk is CLIP's 77. */
export const CHUNK_TOKENS = PROMPT_CHUNK_TOKENS;
export const CHUNK_LENGTH = CHUNK_TOKENS + 2;
/** A1111's `comma_padding_backtrack` default. */
export const COMMA_BACKTRACK = 20;

/** The tokenizer calls chunking needs (ClipTokenizer has them). */
export interface PromptTokenizer {
  readonly startTokenId: number;
  readonly endTokenId: number;
  /** Ids without start and end tokens. */
  tokenize(text: string): number[];
  tokenId(token: string): number | undefined;
  /**
   * Vectors of the textual-inversion embedding whose first id is `id`, else undefined (the
   * embeddings' tokenizer has it; see diffusion/embeddings/). Chunking keeps those ids together.
   */
  embeddingLength?(id: number): number | undefined;
}

export interface ChunkOptions {
  emphasis?: Emphasis;
  /**
   * When a chunk fills up and its last comma is at most this many tokens back, the words after
   * that comma move to the next chunk so a phrase is not cut in two. 0 turns this off.
   */
  commaBacktrack?: number;
}

/** Up to 75 prompt tokens with their weights (no start, end or padding). */
export interface PromptChunk {
  tokens: number[];
  weights: number[];
}

export function chunkPrompt(prompt: string, tokenizer: PromptTokenizer, options: ChunkOptions = {}): PromptChunk[] {
  const backtrack = options.commaBacktrack ?? COMMA_BACKTRACK;
  const parsed: WeightedText[] = options.emphasis === 'none' ? [[prompt, 1.0]] : parsePromptAttention(prompt);
  const comma = tokenizer.tokenId(',</w>');
  const chunks: PromptChunk[] = [];
  let chunk: PromptChunk = { tokens: [], weights: [] };
  let lastComma = -1; // index in `chunk` of its last comma
  const close = () => {
    chunks.push(chunk);
    chunk = { tokens: [], weights: [] };
    lastComma = -1;
  };

  for (const [text, weight] of parsed) {
    if (text === 'BREAK' && weight === -1) {
      close();
      continue;
    }
    const tokens = tokenizer.tokenize(text);
    for (let i = 0; i < tokens.length; ) {
      const token = tokens[i];
      if (token === comma) {
        lastComma = chunk.tokens.length;
      } else if (backtrack > 0 && chunk.tokens.length === CHUNK_TOKENS && lastComma >= 0 && CHUNK_TOKENS - lastComma <= backtrack) {
        const moved: PromptChunk = { tokens: chunk.tokens.splice(lastComma + 1), weights: chunk.weights.splice(lastComma + 1) };
        close();
        chunk = moved;
      }
      if (chunk.tokens.length === CHUNK_TOKENS) close();
      // An embedding's vectors are never split: one that does not fit starts the next chunk (A1111).
      const span = Math.min(tokenizer.embeddingLength?.(token) ?? 1, tokens.length - i);
      if (span > 1 && chunk.tokens.length + span > CHUNK_TOKENS) close();
      for (const end = i + span; i < end; i++) {
        chunk.tokens.push(tokens[i]);
        chunk.weights.push(weight);
      }
    }
  }
  // An empty prompt is still one (empty) chunk: the unconditional embedding.
  if (chunk.tokens.length > 0 || chunks.length === 0) chunks.push(chunk);
  return chunks;
}

/** Tokens in each chunk, for the prompt box's counter ("12/75", "80/150"). */
export function countPromptTokens(
  prompt: string,
  tokenizer: PromptTokenizer,
  options: ChunkOptions = {},
): { perChunk: number[]; total: number } {
  const perChunk = chunkPrompt(prompt, tokenizer, options).map((c) => c.tokens.length);
  return { perChunk, total: perChunk.reduce((a, b) => a + b, 0) };
}

/**
 * A chunk as the text encoder takes it: `[start, tokens…, end, end…]` (77 ids) and one weight
 * per id (1 for start, end and padding). With a pad id other than the end token (SD 2.x's 0),
 * everything after the first end token becomes padding, as A1111 does.
 */
export function chunkInput(chunk: PromptChunk, tokenizer: PromptTokenizer, padTokenId = tokenizer.endTokenId) {
  const ids = new Int32Array(CHUNK_LENGTH).fill(tokenizer.endTokenId);
  const weights = new Float32Array(CHUNK_LENGTH).fill(1);
  ids[0] = tokenizer.startTokenId;
  ids.set(chunk.tokens, 1);
  weights.set(chunk.weights, 1);
  ids.fill(padTokenId, ids.indexOf(tokenizer.endTokenId) + 1);
  return { ids, weights };
}
