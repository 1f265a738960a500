/**
 * CLIP tokenizer against golden ids. tokenizer.json is the shared oracle (OpenAI's CLIP
 * `SimpleTokenizer`); EXTRA's ids were produced by the same algorithm in Python with ftfy 6.3.1
 * and `regex`, so they cover the text cleaning (entities, ftfy's fixes, Unicode) as well.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../../src/pipeline/diffusion/tokenizer/clip';

const fixture = (path: string) => readFileSync(new URL(`../../../fixtures/${path}`, import.meta.url), 'utf8');
const golden: { cases: Array<{ prompt: string; ids: number[] }> } = JSON.parse(fixture('oracles/tokenizer.json'));

const EXTRA: Array<[string, number[]]> = [
  ["salt &amp; pepper", [49406, 6611, 261, 8253, 49407]],
  ["Tom &amp;amp; Jerry", [49406, 2435, 261, 9164, 49407]],
  ["&lt;lora:foo:1&gt;", [49406, 283, 2179, 320, 281, 23435, 281, 272, 285, 49407]],
  ["caf&eacute; &#233; &#x1F431; &copy2024", [49406, 15304, 4166, 22979, 5811, 273, 271, 273, 275, 49407]],
  ["x<y &amp; z", [49406, 343, 283, 344, 261, 345, 49407]],
  ["a   photo\n\nof\t\ta  cat  ", [49406, 320, 1125, 539, 320, 2368, 49407]],
  ["\u3000full\u3000width ＡＢＣ１２３", [49406, 1476, 23571, 5334, 272, 273, 274, 49407]],
  ["café", [49406, 15304, 49407]],
  ["cafe\u0301", [49406, 15304, 49407]],
  ["🐱 cat emoji 😀👍🏽", [49406, 22979, 2368, 16327, 12832, 43722, 49407]],
  ["日本語のプロンプト", [49406, 39121, 44353, 34002, 252, 21575, 2429, 245, 35827, 25914, 245, 2429, 486, 49407]],
  ["naïve façade", [49406, 1097, 35689, 563, 778, 10067, 1928, 49407]],
  ["Ĳssel ﬁne ﬂowers", [49406, 7337, 19373, 3797, 4023, 49407]],
  ["Straße İstanbul ΟΔΟΣ", [49406, 1894, 127, 253, 324, 328, 16384, 11231, 138, 123, 138, 112, 138, 123, 139, 480, 49407]],
  ["it's", [49406, 585, 568, 49407]],
  ["IT'S", [49406, 585, 568, 49407]],
  ["it’s “quoted”", [49406, 585, 568, 257, 27706, 257, 49407]],
  ["we're they've I'm you'll he'd", [49406, 649, 982, 889, 1200, 328, 880, 592, 1342, 797, 1896, 49407]],
  ["rock'n'roll", [49406, 2172, 262, 333, 262, 3341, 49407]],
  ["1girl 2024", [49406, 272, 1611, 273, 271, 273, 275, 49407]],
  ["8k uhd, 4k, 3.14, 1,000,000", [49406, 279, 330, 84, 4414, 267, 275, 330, 267, 274, 269, 272, 275, 267, 272, 267, 271, 271, 271, 267, 271, 271, 271, 49407]],
  ["hello!!!???", [49406, 3306, 11194, 3824, 49407]],
  ["a---b @user #tag $5 %", [49406, 320, 11079, 321, 287, 7031, 258, 3640, 259, 276, 260, 49407]],
  ["a\u0000b\u0007c a\u0085b \ufeffbom", [49406, 5334, 320, 959, 321, 19469, 49407]],
  ["supercalifragilisticexpialidocious", [49406, 1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 38466, 49407]],
  ["<|ENDOFTEXT|> inside", [49406, 49407, 2912, 49407]],
  ["“I’m” «» — …", [49406, 257, 328, 880, 257, 126, 104, 7599, 2005, 959, 49407]],
  ["&#128;uro &#150; &#0;", [49406, 6309, 5925, 1224, 39802, 49407]],
];

const LONG_PROMPT = Array.from({ length: 200 }, (_, i) => ['portrait', 'of', 'a', 'knight', 'castle', 'sunset'][i % 6]).join(' ');

let bundled: ClipTokenizer;
let fromFiles: ClipTokenizer;
beforeAll(async () => {
  bundled = await ClipTokenizer.default();
  fromFiles = ClipTokenizer.fromFiles(fixture('clip/vocab.json'), fixture('clip/merges.txt'));
});

describe.each([
  ['bundled default', () => bundled],
  ['fromFiles(vocab.json, merges.txt)', () => fromFiles],
])('ClipTokenizer (%s)', (_name, tokenizer) => {
  it.each(golden.cases.map((c) => [c.prompt, c.ids] as const))('encodes the oracle prompt %j', (prompt, ids) => {
    expect(tokenizer().encode(prompt)).toEqual(ids);
  });

  it.each(EXTRA)('cleans and encodes %j like CLIP with ftfy', (prompt, ids) => {
    expect(tokenizer().encode(prompt)).toEqual(ids);
  });
});

describe('ClipTokenizer', () => {
  it("has CLIP's special tokens and sizes", () => {
    expect(bundled.startTokenId).toBe(49406);
    expect(bundled.endTokenId).toBe(49407);
    expect(bundled.vocabSize).toBe(49408);
    expect(bundled.tokenId(',</w>')).toBe(267);
  });

  it("toFiles: the bundled vocabulary written out is CLIP's own vocab.json and merges.txt", () => {
    const { vocabJson, mergesTxt } = bundled.toFiles();
    expect(JSON.parse(vocabJson)).toEqual(JSON.parse(fixture('clip/vocab.json')));
    const lines = (text: string) => text.split(/\r?\n/).filter((line, i) => line !== '' && !(i === 0 && line.startsWith('#version')));
    expect(lines(mergesTxt)).toEqual(lines(fixture('clip/merges.txt')).slice(0, 48894));
    const again = ClipTokenizer.fromFiles(vocabJson, mergesTxt);
    for (const [prompt, ids] of EXTRA) expect(again.encode(prompt)).toEqual(ids);
  });

  it('returns the same promise for the default every time', () => {
    expect(ClipTokenizer.default()).toBe(ClipTokenizer.default());
  });

  it('tokenize() is encode() without start and end tokens', () => {
    const text = 'masterpiece, best quality';
    expect(bundled.tokenize(text)).toEqual(bundled.encode(text).slice(1, -1));
    expect(bundled.tokenize('')).toEqual([]);
  });

  it('splits numbers into single digits and keeps contractions apart', () => {
    expect(bundled.tokenize('2024')).toHaveLength(4);
    expect(bundled.decode(bundled.tokenize("It's 1girl"))).toBe("it 's 1 girl");
  });

  it('decodes ids back to cleaned text, multi-byte characters included', () => {
    expect(bundled.decode(bundled.tokenize('Café au lait 🐱 日本'))).toBe('café au lait 🐱 日本');
  });

  it('does not grow or go wrong past its word cache size', () => {
    const small = ClipTokenizer.fromFiles(fixture('clip/vocab.json'), fixture('clip/merges.txt'), { cacheSize: 3 });
    for (const [prompt, ids] of EXTRA) expect(small.encode(prompt)).toEqual(ids);
    for (const [prompt, ids] of EXTRA) expect(small.encode(prompt)).toEqual(ids);
  });

  describe('encodeForModel', () => {
    it('pads to 77 with 49407 by default (SD 1.x)', () => {
      const ids = bundled.encodeForModel('a photo of a cat');
      expect(ids).toBeInstanceOf(Int32Array);
      expect(ids).toHaveLength(77);
      expect([...ids.slice(0, 7)]).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
      expect([...ids.slice(7)]).toEqual(new Array(70).fill(49407));
    });

    it('pads with 0 when asked (SD 2.x), keeping the end token', () => {
      const ids = bundled.encodeForModel('a photo of a cat', { padTokenId: 0 });
      expect([...ids.slice(0, 7)]).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
      expect([...ids.slice(7)]).toEqual(new Array(70).fill(0));
    });

    it('encodes the empty prompt as start, end, padding', () => {
      expect([...bundled.encodeForModel('', { padTokenId: 0 }).slice(0, 3)]).toEqual([49406, 49407, 0]);
    });

    it('truncates a 200-word prompt to 75 tokens and keeps the end token last', () => {
      const full = bundled.encode(LONG_PROMPT);
      expect(full.length).toBeGreaterThan(200);
      for (const padTokenId of [49407, 0]) {
        const ids = bundled.encodeForModel(LONG_PROMPT, { padTokenId });
        expect(ids).toHaveLength(77);
        expect([...ids.slice(0, 76)]).toEqual(full.slice(0, 76));
        expect(ids[76]).toBe(49407);
      }
    });

    it('takes another length and rejects impossible ones', () => {
      expect([...bundled.encodeForModel('a photo of a cat', { maxLength: 4 })]).toEqual([49406, 320, 1125, 49407]);
      expect(() => bundled.encodeForModel('x', { maxLength: 1 })).toThrow(/maxLength/);
      expect(() => bundled.encodeForModel('x', { maxLength: 7.5 })).toThrow(/maxLength/);
    });
  });

  describe('fromFiles with broken files', () => {
    const merges = '#version: 0.2\ni n\n';
    it('rejects vocab.json that is not JSON or not a token → id map', () => {
      expect(() => ClipTokenizer.fromFiles('{', merges)).toThrow(/vocab.json is not valid JSON/);
      expect(() => ClipTokenizer.fromFiles('{"a": "b"}', merges)).toThrow(/vocab.json must map/);
      expect(() => ClipTokenizer.fromFiles('[1, 2]', merges)).toThrow(/vocab.json must map/);
    });

    it('rejects a vocabulary without the special tokens', () => {
      expect(() => ClipTokenizer.fromFiles('{"a</w>": 0}', merges)).toThrow(/<\|startoftext\|>/);
    });

    it('rejects merges.txt lines that are not two symbols', () => {
      const vocab = JSON.stringify({ '<|startoftext|>': 0, '<|endoftext|>': 1 });
      expect(() => ClipTokenizer.fromFiles(vocab, '#version: 0.2\ni n\nabc\n')).toThrow(/line 3/);
    });

    it('accepts CRLF files and maps unknown symbols to <|endoftext|>', () => {
      const vocab = JSON.stringify({ 'a</w>': 0, '<|startoftext|>': 1, '<|endoftext|>': 2, 'i': 3, 'n</w>': 4, 'in</w>': 5 });
      const tok = ClipTokenizer.fromFiles(vocab, '#version: 0.2\r\ni n</w>\r\n');
      expect(tok.encode('a in b')).toEqual([1, 0, 5, 2, 2]);
    });
  });
});
