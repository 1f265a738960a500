/**
 * AUTOMATIC1111's prompt attention syntax → `[text, weight]` runs:
 *   (x) ×1.1   [x] ÷1.1   (x:1.3) ×1.3   \( \) \[ \] \\ literal characters
 * Brackets left open apply to the end; runs of equal weight merge; `BREAK` (as a whole word)
 * becomes `["BREAK", -1]`, which prompt chunking reads as "start a new chunk".
 */

export type WeightedText = [text: string, weight: number];

export class PromptSyntaxError extends Error {
  override name = 'PromptSyntaxError';
}

/** Python `re`'s `\s` (A1111 runs this with `re`): JS `\s` lacks U+001C–U+001F and U+0085, adds U+FEFF. */
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * One alternative per token kind, in A1111's order: escapes (a lone `\` is dropped), openers,
 * `:weight)` closers, plain closers, text, and a `:` that is not part of a weight.
 */
const TOKEN_RE = new RegExp(
  `\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\\\\\\\|\\\\|\\(|\\[|:[${WS}]*([+-]?[.0-9]+)[${WS}]*\\)|\\)|\\]|[^\\\\()[\\]:]+|:`,
  'g',
);
/** `BREAK` between Python word boundaries (`\w` is Unicode letters, digits and `_`), spaces around it eaten. */
const BREAK_RE = new RegExp(`[${WS}]*(?<![\\p{L}\\p{N}_])BREAK(?![\\p{L}\\p{N}_])[${WS}]*`, 'u');

const ROUND = 1.1;
const SQUARE = 1 / 1.1;

/** Python's `float()` of `[+-]?[.\d]+`: "1.", ".5" are fine; "." or "1.2.3" are not. */
function parseWeight(text: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) {
    throw new PromptSyntaxError(`"${text}" is not a number in a (text:weight) group`);
  }
  return Number(text);
}

export function parsePromptAttention(text: string): WeightedText[] {
  const res: WeightedText[] = [];
  const round: number[] = [];
  const square: number[] = [];
  const multiplyFrom = (start: number, factor: number) => {
    for (let i = start; i < res.length; i++) res[i][1] *= factor;
  };

  for (const [token, weight] of text.matchAll(TOKEN_RE)) {
    if (token[0] === '\\') res.push([token.slice(1), 1.0]);
    else if (token === '(') round.push(res.length);
    else if (token === '[') square.push(res.length);
    else if (weight !== undefined && round.length > 0) multiplyFrom(round.pop()!, parseWeight(weight));
    else if (token === ')' && round.length > 0) multiplyFrom(round.pop()!, ROUND);
    else if (token === ']' && square.length > 0) multiplyFrom(square.pop()!, SQUARE);
    else {
      // Unmatched closers and `:1.2)` without an opener stay as text.
      token.split(BREAK_RE).forEach((part, i) => {
        if (i > 0) res.push(['BREAK', -1]);
        res.push([part, 1.0]);
      });
    }
  }
  // Unclosed brackets weigh everything after them (outermost first, A1111's order of multiplying).
  for (const start of round) multiplyFrom(start, ROUND);
  for (const start of square) multiplyFrom(start, SQUARE);

  if (res.length === 0) return [['', 1.0]];
  const merged: WeightedText[] = [res[0]];
  for (const run of res.slice(1)) {
    const last = merged[merged.length - 1];
    if (last[1] === run[1]) last[0] += run[0];
    else merged.push(run);
  }
  return merged;
}
