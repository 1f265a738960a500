/**
 * Main-thread helpers for generate jobs: submitting a pipeline config to the studio worker, and
 * counting prompt tokens in a small worker of its own (building the CLIP tokenizer from its
 * 48,894 merges takes ~100 ms, too long for the page's thread; the studio worker may be busy
 * running a UNet). Like every Worker of the app, it is created here in src/client.
 */
import type { Emphasis, PipelineConfigInput } from '../protocol/pipeline-config';
import type { JobHandle } from './job-handle';
import { submitJob } from './studio-client';

/** Queues a generate job and returns its handle; `inputData.seed` (if given) wins over the stages' own seeds. */
export function submitGenerate(pipelineConfig: PipelineConfigInput, inputData: Record<string, unknown> = {}): Promise<JobHandle> {
  return submitJob({ pipeline_config: pipelineConfig, input_data: inputData }, 'generate');
}

export interface TokenCount {
  /** Tokens in each 75-token chunk (A1111's chunking, BREAK and comma backtrack included). */
  perChunk: number[];
  total: number;
  /** Why the prompt's `(text:weight)` syntax does not parse (then it was counted literally). */
  syntaxError?: string;
}

export type TokenEmphasis = Emphasis;

type Reply = ({ id: number } & TokenCount) | { id: number; error: string };

let counter: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve(count: TokenCount): void; reject(err: Error): void }>();

function tokenWorker(): Worker {
  if (!counter) {
    counter = new Worker(new URL('../../workers/token-count.worker.ts', import.meta.url), { type: 'module', name: 'token-count' });
    counter.addEventListener('message', (event: MessageEvent<Reply>) => {
      const reply = event.data;
      const waiting = pending.get(reply.id);
      if (!waiting) return;
      pending.delete(reply.id);
      if ('error' in reply) waiting.reject(new Error(reply.error));
      else waiting.resolve({ perChunk: reply.perChunk, total: reply.total, syntaxError: reply.syntaxError });
    });
    counter.addEventListener('error', (event) => {
      // A worker that cannot start fails every count (the counter is then hidden); a later call retries.
      const err = new Error(`the token counter failed: ${event.message || 'script error'}`);
      for (const waiting of pending.values()) waiting.reject(err);
      pending.clear();
      counter?.terminate();
      counter = null;
    });
  }
  return counter;
}

/** An imported embedding as the counter needs it: its prompt word and how many tokens it takes. */
export interface CountedEmbedding {
  name: string;
  vectors: number;
}

/**
 * Counts `text`'s CLIP tokens per chunk off the main thread (the vocabulary loads on first use);
 * a word naming one of `embeddings` counts as its vectors.
 */
export function countTokens(text: string, emphasis: TokenEmphasis = 'original', embeddings: readonly CountedEmbedding[] = []): Promise<TokenCount> {
  const id = nextId++;
  return new Promise<TokenCount>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    tokenWorker().postMessage({ id, text, emphasis, ...(embeddings.length ? { embeddings: [...embeddings] } : {}) });
  });
}
