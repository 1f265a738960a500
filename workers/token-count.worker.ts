/**
 * The prompt token counter's worker (created by src/client/generate.ts): builds the bundled CLIP
 * tokenizer once (lazily imported, ~570 KB of merges) and answers `{id, text, emphasis}` with
 * the tokens per 75-token chunk, exactly as the text_to_image stage will chunk the prompt.
 */
import { PromptSyntaxError } from '../src/pipeline/diffusion/prompt/attention';
import { chunkPrompt } from '../src/pipeline/diffusion/prompt/chunks';
import { ClipTokenizer } from '../src/pipeline/diffusion/tokenizer/clip';
import type { Emphasis } from '../src/protocol/pipeline-config';

interface Request {
  id: number;
  text: string;
  emphasis?: Emphasis;
}

const scope = self as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<Request>) => void): void;
};

scope.addEventListener('message', (event) => {
  const { id, text, emphasis } = event.data;
  void ClipTokenizer.default().then(
    (tokenizer) => {
      let chunks;
      let syntaxError: string | undefined;
      try {
        chunks = chunkPrompt(String(text), tokenizer, { emphasis: emphasis ?? 'original' });
      } catch (err) {
        if (!(err instanceof PromptSyntaxError)) throw err;
        // Counted literally; the view shows why the weights do not parse.
        syntaxError = err.message;
        chunks = chunkPrompt(String(text), tokenizer, { emphasis: 'none' });
      }
      const perChunk = chunks.map((c) => c.tokens.length);
      scope.postMessage({ id, perChunk, total: perChunk.reduce((a, b) => a + b, 0), syntaxError });
    },
    (err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }),
  ).catch((err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }));
});
