/**
 * OpenAI CLIP's byte-level BPE tokenizer (the `SimpleTokenizer` Stable Diffusion's text encoders
 * were trained with), built from a model folder's Hugging Face files or the bundled vocabulary.
 */
import { z } from 'zod';
import { cleanClipText, PY_REGEX_WHITESPACE } from './clean';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';

/**
 * CLIP's pre-tokenizer: special tokens, English contractions, letter runs, single digits
 * ("2024" is four words), runs of other symbols. `\s` is spelled out as Python's.
 */
const WORD_RE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${PY_REGEX_WHITESPACE}\\p{L}\\p{N}]+`,
  'giu',
);

/**
 * GPT-2's byte → symbol table: printable bytes stand for themselves, the other 68 get U+0100
 * onwards, so any UTF-8 byte string is a string of symbols BPE can merge. Its order (printable
 * bytes first) is also the order of the vocabulary's first 256 entries.
 */
const isPrintable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
const BYTE_TO_SYMBOL: string[] = [];
for (let b = 0, extra = 0; b < 256; b++) BYTE_TO_SYMBOL.push(String.fromCharCode(isPrintable(b) ? b : 256 + extra++));
const SYMBOL_TO_BYTE = new Map(BYTE_TO_SYMBOL.map((s, b) => [s, b]));
const BYTES_IN_VOCAB_ORDER = [...Array(256).keys()].sort((a, b) => Number(isPrintable(b)) - Number(isPrintable(a)) || a - b);

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export interface ClipTokenizerOptions {
  /** Words whose BPE result is remembered (prompts repeat words a lot); default 20,000. */
  cacheSize?: number;
}

export interface EncodeForModelOptions {
  /** Sequence length the text encoder takes; default 77. */
  maxLength?: number;
  /** Id after the end token: 49407 (`<|endoftext|>`) for SD 1.x, 0 (`!`) for SD 2.x. Default 49407. */
  padTokenId?: number;
}

let defaultTokenizer: Promise<ClipTokenizer> | undefined;

const vocabSchema = z.record(z.string(), z.number().int().nonnegative());

export class ClipTokenizer {
  readonly startTokenId: number;
  readonly endTokenId: number;
  private readonly cache = new Map<string, number[]>();
  private readonly cacheSize: number;
  private inverse?: Map<number, string>;

  private constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    /** `"a b"` → merge rank (lower merges first); symbols never hold a space, so the key is unambiguous. */
    private readonly ranks: ReadonlyMap<string, number>,
    options: ClipTokenizerOptions = {},
  ) {
    const start = vocab.get(START_OF_TEXT);
    const end = vocab.get(END_OF_TEXT);
    if (start === undefined || end === undefined) {
      throw new Error(`CLIP vocabulary lacks ${start === undefined ? START_OF_TEXT : END_OF_TEXT}`);
    }
    this.startTokenId = start;
    this.endTokenId = end;
    this.cacheSize = options.cacheSize ?? 20_000;
  }

  /** From a model folder's `tokenizer/vocab.json` and `tokenizer/merges.txt` (Hugging Face format). */
  static fromFiles(vocabJsonText: string, mergesTxtText: string, options?: ClipTokenizerOptions): ClipTokenizer {
    let json: unknown;
    try {
      json = JSON.parse(vocabJsonText);
    } catch (e) {
      throw new Error(`tokenizer vocab.json is not valid JSON: ${(e as Error).message}`);
    }
    const parsed = vocabSchema.safeParse(json);
    if (!parsed.success) throw new Error('tokenizer vocab.json must map token strings to non-negative integer ids');
    const ranks = new Map<string, number>();
    const lines = mergesTxtText.split(/\r?\n/);
    lines.forEach((line, i) => {
      if ((i === 0 && line.startsWith('#version')) || line === '') return;
      const parts = line.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) {
        throw new Error(`tokenizer merges.txt line ${i + 1} is not two symbols separated by one space: ${JSON.stringify(line)}`);
      }
      ranks.set(line, ranks.size);
    });
    return new ClipTokenizer(new Map(Object.entries(parsed.data)), ranks, options);
  }

  /**
   * From a merges list the way CLIP builds its vocabulary: the 256 byte symbols, the same with
   * `</w>`, one entry per merge (the pair joined), then `<|startoftext|>` and `<|endoftext|>`.
   */
  static fromMerges(merges: readonly string[], options?: ClipTokenizerOptions): ClipTokenizer {
    const vocab = new Map<string, number>();
    const ranks = new Map<string, number>();
    for (const b of BYTES_IN_VOCAB_ORDER) vocab.set(BYTE_TO_SYMBOL[b], vocab.size);
    for (const b of BYTES_IN_VOCAB_ORDER) vocab.set(BYTE_TO_SYMBOL[b] + END_OF_WORD, vocab.size);
    for (const merge of merges) {
      ranks.set(merge, ranks.size);
      vocab.set(merge.replace(' ', ''), vocab.size);
    }
    vocab.set(START_OF_TEXT, vocab.size);
    vocab.set(END_OF_TEXT, vocab.size);
    return new ClipTokenizer(vocab, ranks, options);
  }

  /** CLIP ViT-L/14's vocabulary (SD 1.x and 2.x), loaded on first use so it stays out of the first page load. */
  static default(): Promise<ClipTokenizer> {
    defaultTokenizer ??= import('./clip-merges-data').then(
      (data) => ClipTokenizer.fromMerges(data.default.split('\n')),
      (e: unknown) => {
        defaultTokenizer = undefined; // let a later call retry
        throw e;
      },
    );
    return defaultTokenizer;
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /**
   * The vocabulary as Hugging Face's `vocab.json` and `merges.txt` (what `fromFiles` reads), so
   * a model folder the studio writes carries the tokenizer it was run with.
   */
  toFiles(): { vocabJson: string; mergesTxt: string } {
    const merges = [...this.ranks].sort((a, b) => a[1] - b[1]).map(([merge]) => merge);
    return { vocabJson: JSON.stringify(Object.fromEntries(this.vocab)), mergesTxt: `#version: 0.2\n${merges.join('\n')}\n` };
  }

  /** Id of a vocabulary entry such as `',</w>'`, or undefined. */
  tokenId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** Rank of the merge `a b` (0 merges first), or undefined. */
  mergeRank(a: string, b: string): number | undefined {
    return this.ranks.get(`${a} ${b}`);
  }

  /** Token ids of `text` without start and end tokens (what prompt chunking needs). */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const [word] of cleanClipText(text).matchAll(WORD_RE)) {
      for (const id of this.bpe(word)) ids.push(id);
    }
    return ids;
  }

  /** `<|startoftext|>`, the prompt's tokens, `<|endoftext|>`: no padding, no truncation. */
  encode(text: string): number[] {
    return [this.startTokenId, ...this.tokenize(text), this.endTokenId];
  }

  /** Exactly `maxLength` ids: truncated so the end token stays last, then padded. */
  encodeForModel(text: string, options: EncodeForModelOptions = {}): Int32Array {
    const maxLength = options.maxLength ?? 77;
    const pad = options.padTokenId ?? this.endTokenId;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`maxLength must be an integer ≥ 2, got ${maxLength}`);
    const body = this.tokenize(text).slice(0, maxLength - 2);
    const ids = new Int32Array(maxLength).fill(pad);
    ids[0] = this.startTokenId;
    ids.set(body, 1);
    ids[body.length + 1] = this.endTokenId;
    return ids;
  }

  /** Text of token ids (special tokens included), words separated by spaces. */
  decode(ids: Iterable<number>): string {
    const idToToken = (this.inverse ??= new Map([...this.vocab].map(([token, id]) => [id, token])));
    const text = [...ids].map((id) => idToToken.get(id) ?? '').join('');
    const bytes = Uint8Array.from([...text].map((ch) => SYMBOL_TO_BYTE.get(ch) ?? 0x3f));
    // `</w>` is plain ASCII, so it survives the byte round trip and marks word ends.
    return utf8Decoder.decode(bytes).replaceAll(END_OF_WORD, ' ').trimEnd();
  }

  /** BPE ids of one pre-tokenized word (lower-cased, cleaned). */
  private bpe(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let ids: number[];
    const special = word === START_OF_TEXT || word === END_OF_TEXT ? this.vocab.get(word) : undefined;
    if (special !== undefined) {
      ids = [special];
    } else {
      let symbols = Array.from(utf8.encode(word), (b) => BYTE_TO_SYMBOL[b]);
      symbols[symbols.length - 1] += END_OF_WORD;
      symbols = this.merge(symbols);
      // Unknown symbols (only with a foreign vocabulary) become `<|endoftext|>`, CLIP's unk token.
      ids = symbols.map((s) => this.vocab.get(s) ?? this.endTokenId);
    }
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  /** Repeatedly merge every occurrence of the lowest-ranked adjacent pair, as CLIP does. */
  private merge(symbols: string[]): string[] {
    while (symbols.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < best) (best = rank), (at = i);
      }
      if (at < 0) break;
      const [first, second] = [symbols[at], symbols[at + 1]];
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === first && symbols[i + 1] === second) merged.push(first + second), i++;
        else merged.push(symbols[i]);
      }
      symbols = merged;
    }
    return symbols;
  }
}
