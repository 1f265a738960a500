import { createEffect, createSignal, on, onCleanup, Show } from 'solid-js';
import { countTokens, type CountedEmbedding, type TokenCount } from '../../../client/generate';
import { countedText } from '../../lib/extra-networks';
import { PROMPT_CHUNK_TOKENS, type Emphasis } from '../../../protocol/pipeline-config';

export interface PromptFieldProps {
  label: string;
  testid: string;
  value: string;
  onInput: (value: string) => void;
  placeholder?: string;
  rows?: number;
  error?: string;
  emphasis: Emphasis;
  /** Ctrl/Cmd+Enter. */
  onSubmit?: () => void;
  /** The positive prompt: its `<lora:…>` tags are cut before tokenizing, so they are not counted. */
  loraTags?: boolean;
  /** Imported embeddings: a word naming one counts as its vectors. */
  embeddings?: readonly CountedEmbedding[];
}


/** Pause after typing before the tokens are counted (the count runs in its own worker). */
const COUNT_DELAY_MS = 200;

/** "12/75", "80/150 (2 chunks)": A1111's counter, one 75-token chunk per CLIP pass. */
export function formatTokenCount(count: TokenCount): string {
  const chunks = Math.max(1, count.perChunk.length);
  const text = `${count.total}/${chunks * PROMPT_CHUNK_TOKENS}`;
  return chunks > 1 ? `${text} (${chunks} chunks)` : text;
}

/** A prompt textarea with a live token counter per 75-token chunk. */
export function PromptField(props: PromptFieldProps) {
  const [count, setCount] = createSignal<TokenCount | null>(null);
  const [failed, setFailed] = createSignal(false);
  let sequence = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(timer));

  createEffect(
    on([() => props.value, () => props.emphasis, () => props.embeddings], ([text, emphasis, embeddings]) => {
      clearTimeout(timer);
      const mine = ++sequence;
      timer = setTimeout(
        () => {
          countTokens(countedText(text, props.loraTags === true), emphasis, embeddings ?? []).then(
            (result) => {
              if (mine === sequence) {
                setCount(result);
                setFailed(false);
              }
            },
            () => {
              if (mine === sequence) setFailed(true);
            },
          );
        },
        count() === null ? 0 : COUNT_DELAY_MS,
      );
    }),
  );

  const over = () => {
    const c = count();
    return !!c && c.perChunk.length > 1;
  };

  return (
    <label class="field prompt-field">
      <span class="field-label-row">
        <span class="field-label">{props.label}</span>
        <Show when={!failed()}>
          <span
            class="token-count num"
            classList={{ 'token-count-multi': over() }}
            data-testid={`${props.testid}-tokens`}
            title="CLIP tokens: each chunk of 75 is encoded separately and the results joined"
          >
            {count() ? formatTokenCount(count()!) : '…'}
          </span>
        </Show>
      </span>
      <textarea
        data-testid={props.testid}
        rows={props.rows ?? 3}
        value={props.value}
        placeholder={props.placeholder}
        spellcheck={false}
        aria-invalid={props.error ? true : undefined}
        onInput={(event) => props.onInput(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && props.onSubmit) {
            event.preventDefault();
            props.onSubmit();
          }
        }}
      />
      <Show when={count()?.syntaxError}>
        <span class="field-hint warning">Weights: {count()!.syntaxError} (counted as plain text)</span>
      </Show>
      <Show when={props.error}>
        <span class="field-error">{props.error}</span>
      </Show>
    </label>
  );
}
