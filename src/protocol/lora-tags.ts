/**
 * A1111's LoRA prompt syntax: `<lora:name>`, `<lora:name:weight>` or `<lora:name:te:unet>`
 * anywhere in the positive prompt. Facts followed (A1111 `extra_networks.py`,
 * `extra_networks_lora.py`):
 *
 * - A tag is `<type:args>` with args split on `:`; `lyco` is an alias of `lora`. The first arg is
 *   the name, the second the text-encoder multiplier (default 1), the third the UNet multiplier
 *   (default: the second). Named args `te=`, `unet=` are accepted in any position after the name.
 * - The tag is cut out of the prompt before it is tokenized; nothing else of the prompt changes.
 * - The same name twice loads the network twice and applies both deltas, which add: here the
 *   weights are summed into one entry (same result, one merge), at the first tag's position.
 * - Only the positive prompt is parsed: A1111 leaves tags in the negative prompt as plain text, so
 *   callers pass the negative prompt on unchanged.
 *
 * Whitespace around a removed tag is collapsed so no double spaces are left (CLIP's tokenizer
 * ignores whitespace runs anyway, so the tokens are those A1111 produces).
 */

export interface LoraTag {
  name: string;
  /** Multiplier for the text encoder and, unless `unet` is given, the UNet. */
  weight: number;
  /** Separate UNet multiplier (`<lora:name:te:unet>` or `unet=`), when given. */
  unet?: number;
}

export interface ParsedLoraPrompt {
  /** The prompt with every LoRA tag removed. */
  text: string;
  /** In order of first appearance; a repeated name's weights summed. */
  loras: LoraTag[];
}

export class LoraTagError extends Error {
  override name = 'LoraTagError';
}

/** Any `<type:args>` extra-network tag, as A1111 matches them (`<(\w+):([^>]+)>`). */
const EXTRA_NETWORK = /<(\w+):([^>]+)>/g;
const LORA_TYPES = new Set(['lora', 'lyco']);

export function parseLoraTags(prompt: string): ParsedLoraPrompt {
  const byName = new Map<string, LoraTag>();
  const pieces: string[] = [];
  let last = 0;
  for (const m of prompt.matchAll(EXTRA_NETWORK)) {
    if (!LORA_TYPES.has(m[1].toLowerCase())) continue; // hypernet and others: not ours, left as is
    const tag = parseArgs(m[0], m[2]);
    const known = byName.get(tag.name);
    if (known) {
      const unet = (known.unet ?? known.weight) + (tag.unet ?? tag.weight);
      known.weight += tag.weight;
      if (known.unet !== undefined || tag.unet !== undefined) known.unet = unet;
    } else byName.set(tag.name, tag);
    pieces.push(prompt.slice(last, m.index));
    last = m.index + m[0].length;
  }
  pieces.push(prompt.slice(last));
  return { text: joinTidy(pieces), loras: [...byName.values()] };
}

function parseArgs(tag: string, args: string): LoraTag {
  const [rawName, ...rest] = args.split(':');
  const name = rawName.trim();
  if (!name) throw new LoraTagError(`${tag}: the LoRA name is missing`);
  const positional: number[] = [];
  let te: number | undefined;
  let unet: number | undefined;
  for (const raw of rest) {
    const arg = raw.trim();
    const named = /^(te|unet)\s*=\s*(.*)$/.exec(arg);
    if (named) {
      const value = number(tag, named[2]);
      if (named[1] === 'te') te = value;
      else unet = value;
    } else if (/^dyn\s*=/.test(arg)) {
      // A1111's dynamic-rank option has no effect on a merged LoRA.
    } else positional.push(number(tag, arg));
  }
  if (positional.length > 2) throw new LoraTagError(`${tag}: at most two weights (text encoder, UNet) may follow the name`);
  const weight = te ?? positional[0] ?? 1;
  const unetWeight = unet ?? positional[1];
  return unetWeight === undefined || unetWeight === weight ? { name, weight } : { name, weight, unet: unetWeight };
}

function number(tag: string, text: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new LoraTagError(`${tag}: '${text}' is not a number (the weight is written <lora:name:0.8>)`);
  return value;
}

/**
 * Joins the text around removed tags: whitespace that touched a tag becomes one space between
 * words (none at either end, after an opening bracket or before punctuation); text that touched the tag directly on both
 * sides is joined directly, as A1111 leaves it.
 */
function joinTidy(pieces: string[]): string {
  let out = pieces[0];
  for (let i = 1; i < pieces.length; i++) {
    const hadSpace = /[ \t]$/.test(out) || /^[ \t]/.test(pieces[i]);
    out = out.replace(/[ \t]+$/, '');
    const rest = pieces[i].replace(/^[ \t]+/, '');
    const gap = hadSpace && out !== '' && rest !== '' && !/[([]$/.test(out) && !/^[,.;:)\]]/.test(rest) ? ' ' : '';
    out += gap + rest;
  }
  return out;
}
