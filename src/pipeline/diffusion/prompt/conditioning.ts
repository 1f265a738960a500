/**
 * Prompt → text-encoder conditioning, the AUTOMATIC1111 way: weighted tokens in chunks of 75,
 * each chunk encoded as its own 77-token sequence (one text-encoder call per chunk: exports
 * with a fixed batch of 1 are common), the weights applied to that chunk's output, and the
 * chunks joined along the sequence axis: `[1, 77·k, hidden]`.
 */
import type { TextEncoderPort } from '../../ports';
import type { Tensor } from '../../tensor';
import { CHUNK_LENGTH, chunkInput, chunkPrompt, type ChunkOptions, type Emphasis, type PromptChunk, type PromptTokenizer } from './chunks';

export interface ConditioningOptions extends ChunkOptions {
  tokenizer: PromptTokenizer;
  textEncoder: TextEncoderPort;
  /** Id after the end token: 49407 for SD 1.x (the default), 0 for SD 2.x. */
  padTokenId?: number;
  /** Most chunks the UNet can take: 1 when its sequence length is fixed at 77. Default: no limit. */
  maxChunks?: number;
}

export interface Conditioning {
  /** `[1, 77·chunks, hidden]`. */
  embeddings: Tensor;
  chunks: number;
  /** Prompt tokens, counting any dropped ones. */
  tokenCount: number;
  /** Whether chunks beyond `maxChunks` were dropped. */
  truncated: boolean;
  droppedTokens: number;
  /** Empty-prompt chunks appended to match the other prompt of a pair. */
  paddingChunks: number;
}

/** One prompt's conditioning. An empty prompt is valid: it gives the unconditional embedding. */
export async function buildConditioning(prompt: string, options: ConditioningOptions): Promise<Conditioning> {
  const { maxChunks = Infinity } = options;
  if (maxChunks !== Infinity && !(Number.isInteger(maxChunks) && maxChunks >= 1)) {
    throw new Error(`maxChunks must be a positive integer, got ${maxChunks}`);
  }
  const { sequenceLength } = options.textEncoder;
  if (sequenceLength !== null && sequenceLength !== CHUNK_LENGTH) {
    throw new Error(`the text encoder takes ${sequenceLength} tokens; CLIP prompt chunks are ${CHUNK_LENGTH}`);
  }
  const all = chunkPrompt(prompt, options.tokenizer, options);
  const kept = all.slice(0, maxChunks);
  const count = (chunks: PromptChunk[]) => chunks.reduce((n, c) => n + c.tokens.length, 0);
  const encoded: Float32Array[] = [];
  for (const chunk of kept) encoded.push(await encodeChunk(chunk, encoded.length, options));
  return {
    embeddings: concatChunks(encoded, options.textEncoder.hiddenSize),
    chunks: kept.length,
    tokenCount: count(all),
    truncated: kept.length < all.length,
    droppedTokens: count(all.slice(kept.length)),
    paddingChunks: 0,
  };
}

/**
 * Positive and negative conditioning with the same number of chunks, so classifier-free
 * guidance can batch them: the shorter one is extended with the empty prompt's chunk (A1111's
 * "pad prompt/negative prompt to be same length").
 */
export async function buildConditioningPair(
  positive: string,
  negative: string,
  options: ConditioningOptions,
): Promise<{ positive: Conditioning; negative: Conditioning }> {
  const pos = await buildConditioning(positive, options);
  const neg = await buildConditioning(negative, options);
  if (pos.chunks === neg.chunks) return { positive: pos, negative: neg };
  const empty = await encodeChunk({ tokens: [], weights: [] }, 0, options);
  const hidden = options.textEncoder.hiddenSize;
  const pad = (c: Conditioning, to: number): Conditioning => ({
    ...c,
    embeddings: concatChunks([c.embeddings.data, ...Array<Float32Array>(to - c.chunks).fill(empty)], hidden),
    chunks: to,
    paddingChunks: to - c.chunks,
  });
  const k = Math.max(pos.chunks, neg.chunks);
  return { positive: pad(pos, k), negative: pad(neg, k) };
}

async function encodeChunk(chunk: PromptChunk, index: number, options: ConditioningOptions): Promise<Float32Array> {
  const { textEncoder, tokenizer, emphasis = 'original' } = options;
  const { ids, weights } = chunkInput(chunk, tokenizer, options.padTokenId);
  const out = await textEncoder.run(ids, [1, CHUNK_LENGTH]);
  const hidden = textEncoder.hiddenSize;
  const expected = [1, CHUNK_LENGTH, hidden];
  if (out.dims.length !== 3 || out.dims.some((d, i) => d !== expected[i]) || out.data.length !== CHUNK_LENGTH * hidden) {
    throw new Error(`text encoder returned dims [${out.dims.join(', ')}], expected [${expected.join(', ')}]`);
  }
  const bad = out.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(
      `text encoder output for prompt chunk ${index + 1} holds ${out.data[bad]} (token position ${Math.floor(bad / hidden)}); ` +
        'the model may be broken or need float32 on this backend',
    );
  }
  return applyEmphasis(out.data, weights, hidden, emphasis);
}

/** A1111's emphasis on one chunk's `z` (`[77, hidden]`): `z·w`, then (original) `z·(mean before / mean after)`. */
export function applyEmphasis(z: Float32Array, weights: Float32Array, hidden: number, emphasis: Emphasis): Float32Array {
  if (emphasis === 'ignore' || emphasis === 'none' || weights.every((w) => w === 1)) return z;
  const out = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) out[i] = z[i] * weights[Math.floor(i / hidden)];
  if (emphasis === 'no-norm') return out;
  const ratio = mean(z) / mean(out);
  if (!Number.isFinite(ratio)) {
    throw new Error('prompt weights cancel the text embedding out (its mean became 0); use weights closer to 1');
  }
  for (let i = 0; i < out.length; i++) out[i] *= ratio;
  return out;
}

function mean(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function concatChunks(parts: Float32Array[], hidden: number): Tensor {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const data = new Float32Array(length);
  let offset = 0;
  for (const p of parts) data.set(p, offset), (offset += p.length);
  return { data, dims: [1, length / hidden, hidden] };
}
