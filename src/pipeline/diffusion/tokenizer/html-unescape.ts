/**
 * Python's `html.unescape`, which CLIP applies to every prompt (twice, after ftfy). Numeric
 * references follow the HTML5 rules exactly; named references use a table of the common names
 * (every legacy name that may appear without `;`, plus frequent typographic ones) instead of
 * HTML5's 2,231, so a rare name such as `&bigotimes;` stays as written.
 */

/** windows-1252 for bytes 0x80–0x9f; the five undefined bytes map to themselves ("sloppy"). */
export const CP1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Names of U+00A0…U+00FF in order; HTML5 accepts each with or without the `;`. */
const LATIN1 = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr ' +
  'deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest ' +
  'Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ' +
  'ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig ' +
  'agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml ' +
  'eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml'
).split(' ');

/** The other legacy names (no `;` needed). */
const LEGACY: Record<string, string> = {
  amp: '&', AMP: '&', lt: '<', LT: '<', gt: '>', GT: '>', quot: '"', QUOT: '"', COPY: '\u00a9', REG: '\u00ae',
};

/** Common names that need the `;`. */
const WITH_SEMICOLON: Record<string, string> = {
  apos: "'", hellip: '\u2026', ndash: '\u2013', mdash: '\u2014', lsquo: '\u2018', rsquo: '\u2019',
  sbquo: '\u201a', ldquo: '\u201c', rdquo: '\u201d', bdquo: '\u201e', lsaquo: '\u2039', rsaquo: '\u203a',
  bull: '\u2022', trade: '\u2122', euro: '\u20ac', dagger: '\u2020', Dagger: '\u2021', permil: '\u2030',
  prime: '\u2032', Prime: '\u2033', minus: '\u2212', le: '\u2264', ge: '\u2265', ne: '\u2260',
  infin: '\u221e', larr: '\u2190', uarr: '\u2191', rarr: '\u2192', darr: '\u2193', harr: '\u2194',
  hearts: '\u2665', spades: '\u2660', clubs: '\u2663', diams: '\u2666', star: '\u2606', starf: '\u2605',
  ensp: '\u2002', emsp: '\u2003', thinsp: '\u2009', zwnj: '\u200c', zwj: '\u200d', lrm: '\u200e',
  rlm: '\u200f', OElig: '\u0152', oelig: '\u0153', Scaron: '\u0160', scaron: '\u0161', Yuml: '\u0178',
  fnof: '\u0192', circ: '\u02c6', tilde: '\u02dc',
};

const NAMED = new Map<string, string>();
LATIN1.forEach((name, i) => {
  NAMED.set(name, String.fromCharCode(0xa0 + i));
  NAMED.set(`${name};`, String.fromCharCode(0xa0 + i));
});
for (const [name, value] of Object.entries(LEGACY)) NAMED.set(name, value).set(`${name};`, value);
for (const [name, value] of Object.entries(WITH_SEMICOLON)) NAMED.set(`${name};`, value);

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

function numeric(num: number): string {
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252_C1[num - 0x80];
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  // HTML5 "invalid" code points vanish: C0 controls but tab/newline/FF/CR, DEL, noncharacters.
  const invalid =
    (num >= 0x1 && num <= 0x8) || num === 0xb || (num >= 0xe && num <= 0x1f) || num === 0x7f ||
    (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe;
  return invalid ? '' : String.fromCodePoint(num);
}

function replace(match: string, ref: string): string {
  if (ref[0] === '#') {
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
    return numeric(parseInt(digits, hex ? 16 : 10));
  }
  const exact = NAMED.get(ref);
  if (exact !== undefined) return exact;
  // Like browsers, a legacy name may be followed directly by other text: `&copy2024`.
  for (let end = ref.length - 1; end > 1; end--) {
    const prefix = NAMED.get(ref.slice(0, end));
    if (prefix !== undefined) return prefix + ref.slice(end);
  }
  return match;
}

export function htmlUnescape(text: string): string {
  return text.includes('&') ? text.replace(CHARREF, replace) : text;
}
