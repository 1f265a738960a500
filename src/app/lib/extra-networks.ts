/**
 * The Generate view's LoRA and embedding picker, as A1111's extra-networks cards behave: picking
 * a LoRA adds `<lora:name:1>` to the end of the prompt (one space before it), picking it again
 * removes its tag; an embedding is a word of the prompt, added or removed the same way. Pure.
 */
import { parseLoraTags } from '../../protocol/lora-tags';

/** `<lora:name:weight>` tags, matched as A1111 matches extra-network tags. */
const LORA_TAG = /<(lora|lyco):([^>:]+)(?::[^>]*)?>/gi;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Appends `addition` with one space, or removes what `matches` finds (tidying the spaces). */
function toggle(prompt: string, matches: RegExp, addition: string): string {
  if (prompt.search(matches) >= 0) {
    return prompt
      .replace(matches, '')
      .replace(/[ \t]{2,}/g, ' ')
      .replace(/[ \t]+([,.;)])/g, '$1')
      .replace(/,([ \t]*,)+/g, ',')
      .replace(/[ \t]*,[ \t]*([)\]])/g, '$1')
      .replace(/^[\s,]+|[\s,]+$/g, '');
  }
  const trimmed = prompt.replace(/[ \t]+$/, '');
  return trimmed ? `${trimmed} ${addition}` : addition;
}

/** The prompt with `name`'s LoRA tag added (weight 1), or removed when it has one. */
export function toggleLoraTag(prompt: string, name: string): string {
  const own = new RegExp(`<(?:lora|lyco):${escapeRegExp(name)}(?::[^>]*)?>`, 'gi');
  return toggle(prompt, own, `<lora:${name}:1>`);
}

/** The prompt with the embedding's name added as a word, or removed when it is one. */
export function toggleEmbedding(prompt: string, name: string): string {
  const n = escapeRegExp(name);
  // A whole word (`easynegative` is not in `easynegative2`), or a weighted group holding only it: `(name:1.2)`.
  return toggle(prompt, new RegExp(`\\(${n}(?::[-\\d.]+)?\\)|(?<=^|[\\s,(\\[])${n}(?=$|[\\s,:)\\]])`, 'gi'), name);
}

/** The LoRA names a prompt's tags use (what the picker shows as chosen). */
export function loraNamesIn(prompt: string): string[] {
  try {
    return parseLoraTags(prompt).loras.map((l) => l.name);
  } catch {
    // A malformed tag is the job's to report; the picker shows the names it can read.
    return [...prompt.matchAll(LORA_TAG)].map((m) => m[2].trim());
  }
}

/** The text the text encoder sees: without LoRA tags (a malformed tag is counted as text; the job says what is wrong with it). */
export function countedText(text: string, loraTags: boolean): string {
  if (!loraTags) return text;
  try {
    return parseLoraTags(text).text;
  } catch {
    return text;
  }
}
