/**
 * CLIP's text cleaning: `whitespace_clean(basic_clean(text)).lower()`, where basic_clean is
 * `html.unescape(html.unescape(ftfy.fix_text(text))).strip()`.
 *
 * ftfy is a large library; this keeps the parts of `fix_text` (default settings) that change
 * prompts people type or paste: HTML entities, C1 control characters read as windows-1252,
 * Latin ligatures, full-width forms, curly quotes, control characters, NFC. Not reproduced:
 * mojibake repair (`fix_encoding`: "cafÃ©" stays as is) and terminal escape removal.
 */
import { CP1252_C1, htmlUnescape } from './html-unescape';

/** The `\s` of Python's `regex` module (Unicode White_Space). JS `\s` differs: it has U+FEFF, lacks U+0085. */
export const PY_REGEX_WHITESPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e',
  '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj', '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj',
  '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz', '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl',
  '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
const C1_RE = /[\x80-\x9f]/g;
const WIDTH_RE = /[\u3000\uff01-\uffee]/g;
const SINGLE_QUOTES_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTES_RE = /[\u201c-\u201f]/g;
// ftfy's remove_control_chars set (tab, newline, form feed and CR survive).
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const WHITESPACE_RUN = new RegExp(`[${PY_REGEX_WHITESPACE}]+`, 'g');

function fixSegment(text: string, unescape: boolean): string {
  // ftfy repeats its fixes until the text stops changing.
  for (let i = 0; i < 16; i++) {
    let next = unescape ? htmlUnescape(text) : text;
    next = next
      .replace(C1_RE, (c) => CP1252_C1[c.charCodeAt(0) - 0x80])
      .replace(LIGATURE_RE, (c) => LIGATURES[c])
      .replace(WIDTH_RE, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')))
      .replace(SINGLE_QUOTES_RE, "'")
      .replace(DOUBLE_QUOTES_RE, '"')
      .replace(CONTROL_RE, '')
      .normalize('NFC');
    if (next === text) break;
    text = next;
  }
  return text;
}

/** The subset of `ftfy.fix_text` described above. */
export function fixText(text: string): string {
  // fix_text works line by line; its HTML unescaping ("auto") stops for good at the first line
  // holding a `<`, since such text may be real HTML.
  let unescape = true;
  const out: string[] = [];
  for (const line of text.split(/(?<=\n)/)) {
    if (line.includes('<')) unescape = false;
    out.push(fixSegment(line, unescape));
  }
  return out.join('');
}

/** Everything CLIP does to a prompt before splitting it into words. */
export function cleanClipText(text: string): string {
  const basic = htmlUnescape(htmlUnescape(fixText(text)));
  // After the collapse, leading or trailing whitespace is a single space.
  return basic.replace(WHITESPACE_RUN, ' ').replace(/^ | $/g, '').toLowerCase();
}
