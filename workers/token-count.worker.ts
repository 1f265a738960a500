/**
 * The prompt token counter's worker (created by src/client/generate.ts): builds the bundled CLIP
 * tokenizer once (lazily imported, ~570 KB of merges) and answers `{id, text, emphasis}` with
 * the tokens per 75-token chunk, exactly as the text_to_image stage will chunk the prompt.
 *
 * Optional, for LoRAs and embeddings (issue 12):
 * - `loraTags: true` (the positive prompt): `<lora:…>` tags are cut before counting, as the stage
 *   cuts them; the negative prompt keeps them as text (A1111), so leave it unset there.
 * - `embeddings: [{name, vectors}]` (the imported embeddings, `vectors` from the registry's
 *   `metadata.embedding.tokens`): an embedding's name counts as its vectors, as the stage's
 *   tokenizer places them; the reply's `embeddings` lists the names the prompt uses.
 */
import { placeEmbeddings } from '../src/pipeline/diffusion/embeddings/embedding';
import { EmbeddingTokenizer } from '../src/pipeline/diffusion/embeddings/tokenizer';
import { PromptSyntaxError } from '../src/pipeline/diffusion/prompt/attention';
import { chunkPrompt, type PromptTokenizer } from '../src/pipeline/diffusion/prompt/chunks';
import { ClipTokenizer } from '../src/pipeline/diffusion/tokenizer/clip';
import { parseLoraTags } from '../src/protocol/lora-tags';
import type { Emphasis } from '../src/protocol/pipeline-config';

interface Request {
  id: number;
  text: string;
  emphasis?: Emphasis;
  loraTags?: boolean;
  embeddings?: Array<{ name: string; vectors: number }>;
}

const scope = self as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<Request>) => void): void;
};

/** The embeddings' tokenizer for a list of names (kept while the list stays the same). */
let withNames: { key: string; tokenizer: EmbeddingTokenizer | null } | null = null;

function tokenizerFor(base: ClipTokenizer, embeddings: Request['embeddings']): EmbeddingTokenizer | null {
  const list = (embeddings ?? []).filter((e) => typeof e?.name === 'string' && e.name.trim() !== '');
  const key = JSON.stringify(list.map((e) => [e.name, e.vectors]));
  if (withNames?.key === key) return withNames.tokenizer;
  // One placeholder value per vector: counting needs the names and sizes, not the vectors. Names
  // the tokenizer cannot tell apart keep the first (the worker refuses such a pair when used).
  const seen = new Set<string>();
  const unique = list.filter((e) => {
    const word = base.tokenize(e.name).join(' ');
    if (!word || seen.has(word)) return false;
    seen.add(word);
    return true;
  });
  const vectors = (e: { vectors: number }) => Math.max(1, Math.min(75, Math.floor(e.vectors) || 1));
  const set = placeEmbeddings(
    unique.map((e) => ({ name: e.name, count: vectors(e), width: 1, vectors: new Float32Array(vectors(e)) })),
    { firstId: base.vocabSize, width: 1 },
  );
  withNames = { key, tokenizer: unique.length ? new EmbeddingTokenizer(base, set) : null };
  return withNames.tokenizer;
}

scope.addEventListener('message', (event) => {
  const { id, text, emphasis, loraTags, embeddings } = event.data;
  void ClipTokenizer.default().then(
    (base) => {
      let prompt = String(text);
      if (loraTags) {
        try {
          prompt = parseLoraTags(prompt).text;
        } catch {
          // A malformed tag is counted as text; the stage reports it when the job runs.
        }
      }
      const named = tokenizerFor(base, embeddings);
      const tokenizer: PromptTokenizer = named ?? base;
      let chunks;
      let syntaxError: string | undefined;
      let mode: Emphasis = emphasis ?? 'original';
      try {
        chunks = chunkPrompt(prompt, tokenizer, { emphasis: mode });
      } catch (err) {
        if (!(err instanceof PromptSyntaxError)) throw err;
        // Counted literally; the view shows why the weights do not parse.
        syntaxError = err.message;
        mode = 'none';
        chunks = chunkPrompt(prompt, tokenizer, { emphasis: mode });
      }
      const perChunk = chunks.map((c) => c.tokens.length);
      const used = named ? named.usedEmbeddings(prompt, { emphasis: mode }) : [];
      scope.postMessage({ id, perChunk, total: perChunk.reduce((a, b) => a + b, 0), syntaxError, embeddings: used });
    },
    (err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }),
  ).catch((err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }));
});
