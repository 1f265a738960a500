// @vitest-environment node
/**
 * The token counter's worker, run in Node with a stand-in `self`: counts as the stage chunks,
 * LoRA tags cut when asked (the positive prompt), embeddings counted as their vectors.
 */
import { beforeAll, describe, expect, it } from 'vitest';

type Reply = { id: number; perChunk: number[]; total: number; embeddings?: string[]; syntaxError?: string };
let listener: (event: { data: unknown }) => void;
const replies = new Map<number, (r: Reply) => void>();

beforeAll(async () => {
  (globalThis as unknown as { self: unknown }).self = {
    addEventListener: (_type: string, l: typeof listener) => (listener = l),
    postMessage: (m: Reply) => replies.get(m.id)?.(m),
  };
  await import('../../workers/token-count.worker');
});

let next = 0;
function count(data: Record<string, unknown>): Promise<Reply> {
  const id = ++next;
  return new Promise((resolve) => {
    replies.set(id, resolve);
    listener({ data: { id, ...data } });
  });
}

describe('token-count worker', () => {
  it('counts as before without the new fields', async () => {
    expect((await count({ text: 'a red boat' })).total).toBe(3);
  });

  it('cuts LoRA tags when asked, and counts an embedding as its vectors', async () => {
    expect((await count({ text: 'a red boat <lora:x:0.5>' })).total).toBeGreaterThan(3);
    expect((await count({ text: 'a red boat <lora:x:0.5>', loraTags: true })).total).toBe(3);
    const reply = await count({ text: 'a (mystyle:1.2) boat', embeddings: [{ name: 'mystyle', vectors: 8 }, { name: 'other', vectors: 2 }] });
    expect(reply.total).toBe(10);
    expect(reply.embeddings).toEqual(['mystyle']);
  });
});
