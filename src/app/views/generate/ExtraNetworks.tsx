import { For, Show } from 'solid-js';
import type { ModelInfo } from '../../../protocol/models';
import { loraNamesIn, toggleEmbedding, toggleLoraTag } from '../../lib/extra-networks';

interface ExtraNetworksProps {
  /** Verified LoRAs and embeddings. */
  models: readonly ModelInfo[];
  prompt: string;
  negativePrompt: string;
  onPrompt: (value: string) => void;
  onNegativePrompt: (value: string) => void;
}

/** How much a LoRA or embedding changes, for its button's title. */
function describe(model: ModelInfo): string {
  const meta = model.metadata as { lora?: { rank?: number; family?: string }; embedding?: { tokens?: number; family?: string } };
  if (model.model_type === 'lora') return `LoRA${meta.lora?.rank ? `, rank ${meta.lora.rank}` : ''}${meta.lora?.family ? ` (${meta.lora.family})` : ''}`;
  return `Embedding${meta.embedding?.tokens ? `, ${meta.embedding.tokens} vector${meta.embedding.tokens === 1 ? '' : 's'}` : ''}`;
}

/**
 * A1111's extra networks, as a row of toggles under the prompts: a LoRA adds (or removes) its
 * `<lora:name:1>` tag in the prompt; an embedding adds its name to the prompt, or with Alt / the
 * "to negative" switch to the negative prompt (where embeddings such as `easynegative` belong).
 */
export function ExtraNetworks(props: ExtraNetworksProps) {
  const loras = () => props.models.filter((m) => m.model_type === 'lora');
  const embeddings = () => props.models.filter((m) => m.model_type === 'embedding');
  const usedLoras = () => new Set(loraNamesIn(props.prompt));
  const inText = (text: string, name: string) => toggleEmbedding(text, name).length < text.length;
  return (
    <Show when={props.models.length > 0}>
      <div class="extra-networks" data-testid="extra-networks">
        <Show when={loras().length > 0}>
          <div class="chip-row" role="group" aria-label="LoRAs">
            <span class="small muted">LoRA</span>
            <For each={loras()}>
              {(m) => (
                <button
                  type="button"
                  class="chip"
                  classList={{ 'chip-on': usedLoras().has(m.name) }}
                  aria-pressed={usedLoras().has(m.name)}
                  title={`${describe(m)}: adds <lora:${m.name}:1> to the prompt (edit the number for its weight)`}
                  data-testid="lora-chip"
                  onClick={() => props.onPrompt(toggleLoraTag(props.prompt, m.name))}
                >
                  {m.name}
                </button>
              )}
            </For>
          </div>
        </Show>
        <Show when={embeddings().length > 0}>
          <div class="chip-row" role="group" aria-label="Embeddings">
            <span class="small muted">Embedding</span>
            <For each={embeddings()}>
              {(m) => {
                const inNegative = () => inText(props.negativePrompt, m.name);
                const on = () => inText(props.prompt, m.name) || inNegative();
                return (
                  <button
                    type="button"
                    class="chip"
                    classList={{ 'chip-on': on() }}
                    aria-pressed={on()}
                    title={`${describe(m)}: adds the word ${m.name} to the prompt; Alt+click for the negative prompt`}
                    data-testid="embedding-chip"
                    onClick={(event) => {
                      if (inNegative() || event.altKey) props.onNegativePrompt(toggleEmbedding(props.negativePrompt, m.name));
                      else props.onPrompt(toggleEmbedding(props.prompt, m.name));
                    }}
                  >
                    {m.name}
                  </button>
                );
              }}
            </For>
          </div>
        </Show>
      </div>
    </Show>
  );
}
