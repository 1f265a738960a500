/**
 * A1111 prompt attention. prompt-weights.json is the shared oracle; EXTRA's expectations were
 * produced by running A1111's `parse_prompt_attention` (current regex, which allows spaces
 * around a weight) in Python on the same prompts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePromptAttention, PromptSyntaxError, type WeightedText } from '../../../../src/pipeline/diffusion/prompt/attention';

const golden: { cases: Array<{ prompt: string; parsed: WeightedText[] }> } = JSON.parse(
  readFileSync(new URL('../../../fixtures/oracles/prompt-weights.json', import.meta.url), 'utf8'),
);

const EXTRA: Array<[string, WeightedText[]]> = [
  ["", [["", 1.0]]],
  ["a BREAK b", [["a", 1.0], ["BREAK", -1], ["b", 1.0]]],
  ["BREAK", [["", 1.0], ["BREAK", -1], ["", 1.0]]],
  ["aBREAK b", [["aBREAK b", 1.0]]],
  ["a,BREAK,b", [["a,", 1.0], ["BREAK", -1], [",b", 1.0]]],
  ["a\nBREAK\nb", [["a", 1.0], ["BREAK", -1], ["b", 1.0]]],
  ["(BREAK)", [["", 1.1], ["BREAK", -1.1], ["", 1.1]]],
  ["a break b", [["a break b", 1.0]]],
  ["caféBREAK x", [["caféBREAK x", 1.0]]],
  ["((a))", [["a", 1.2100000000000002]]],
  ["[[a]]", [["a", 0.8264462809917354]]],
  ["(a [b] c)", [["a ", 1.1], ["b", 1.0], [" c", 1.1]]],
  ["((a:1.5) b:0.5)", [["a", 0.75], [" b", 0.5]]],
  ["(a:1.5) [b:2]", [["a", 1.5], [" ", 1.0], ["b:2", 0.9090909090909091]]],
  ["(x:bad)", [["x:bad", 1.1]]],
  ["(x: 1.3 )", [["x", 1.3]]],
  ["(x:-1)", [["x", -1.0]]],
  ["(x:+.5)", [["x", 0.5]]],
  ["(x:1.)", [["x", 1.0]]],
  ["a:1.2)", [["a:1.2)", 1.0]]],
  ["a\\b", [["ab", 1.0]]],
  ["\\\\", [["\\", 1.0]]],
  ["\\", [["", 1.0]]],
  ["[a", [["a", 0.9090909090909091]]],
  ["(a", [["a", 1.1]]],
  ["((a) [b", [["a", 1.2100000000000002], [" ", 1.1], ["b", 1.0]]],
  ["a) b] c", [["a) b] c", 1.0]]],
  ["\\(escaped\\) (real)", [["(escaped) ", 1.0], ["real", 1.1]]],
  ["(a)(b)[c][d]", [["ab", 1.1], ["cd", 0.9090909090909091]]],
  ["masterpiece, (best quality:1.2), [blurry], 1girl BREAK city at night", [["masterpiece, ", 1.0], ["best quality", 1.2], [", ", 1.0], ["blurry", 0.9090909090909091], [", 1girl", 1.0], ["BREAK", -1], ["city at night", 1.0]]],
  ["(((a)))[[[b]]]", [["a", 1.3310000000000004], ["b", 0.7513148009015777]]],
  ["(a:0)", [["a", 0.0]]],
  ["x (y:1.1) z (w)", [["x ", 1.0], ["y", 1.1], [" z ", 1.0], ["w", 1.1]]],
];

function expectParsed(prompt: string, expected: WeightedText[]) {
  const got = parsePromptAttention(prompt);
  expect(got.map(([text]) => text)).toEqual(expected.map(([text]) => text));
  got.forEach(([, weight], i) => expect(Math.abs(weight - expected[i][1])).toBeLessThanOrEqual(1e-9));
}

describe('parsePromptAttention', () => {
  it.each(golden.cases.map((c) => [c.prompt, c.parsed] as const))('oracle: %j', (prompt, parsed) => {
    expectParsed(prompt, parsed);
  });

  it.each(EXTRA)('%j', (prompt, parsed) => {
    expectParsed(prompt, parsed);
  });

  it.each(["(x:1.2.3)", "(x:.)"])('rejects the malformed weight in %j as A1111 does', (prompt) => {
    expect(() => parsePromptAttention(prompt)).toThrow(PromptSyntaxError);
    expect(() => parsePromptAttention(prompt)).toThrow(/not a number/);
  });

  it('multiplies in A1111\'s order, so weights match to the last bit', () => {
    expect(parsePromptAttention('(((sky)))')).toEqual([['sky', 1.1 * 1.1 * 1.1]]);
    expect(parsePromptAttention('a (((house:1.3)) b')[1]).toEqual(['house', 1.3 * 1.1 * 1.1]);
  });
});
