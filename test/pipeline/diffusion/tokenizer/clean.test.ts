/**
 * CLIP's text cleaning. Expected values are what Python's `html.unescape` and ftfy 6.3.1's
 * `fix_text` return for the same input.
 */
import { describe, expect, it } from 'vitest';
import { cleanClipText, fixText } from '../../../../src/pipeline/diffusion/tokenizer/clean';
import { htmlUnescape } from '../../../../src/pipeline/diffusion/tokenizer/html-unescape';

describe('htmlUnescape (Python html.unescape)', () => {
  it.each([
    ['salt &amp; pepper', 'salt & pepper'],
    ['&lt;b&gt; &quot;x&quot; &apos;y&apos;', '<b> "x" \'y\''],
    ['&amp;amp;', '&amp;'],
    ['caf&eacute; caf&eacute', 'café café'],
    ['&copy2024 &ampx', '©2024 &x'],
    ['&hellip;&mdash;&rsquo;', '…—’'],
    ['&#233;&#xE9;&#XE9; &#x1F431;', 'ééé 🐱'],
    ['&#65&#66', 'AB'],
    ['&#0; &#128; &#150; &#x81;', '\ufffd € – \x81'],
    ['&#xD800; &#x110000; &#99999999999999999999;', '\ufffd \ufffd \ufffd'],
    ['a&#1;b&#11;c&#x7f;d&#xFFFF;e', 'abcde'],
    ['&#13;', '\r'],
    ['AT&T &; &#; &unknownname; & x', 'AT&T &; &#; &unknownname; & x'],
  ])('%j → %j', (input, expected) => {
    expect(htmlUnescape(input)).toBe(expected);
  });
});

describe('fixText (the ftfy subset)', () => {
  it.each([
    ['cafe\u0301', 'café'], // NFC
    ['it\u2019s \u201cquoted\u201d \u2018x\u2019', 'it\'s "quoted" \'x\''],
    ['\ufb01ne \ufb02ower \u0133', 'fine flower ij'],
    ['\uff21\uff22\uff23\uff11\u3000x', 'ABC1 x'],
    ['a\x85b \x92', 'a…b \''], // C1 controls read as windows-1252
    ['a\x00b\x07c\x0bd\ufeffe', 'abcde'],
    ['tab\tand\nnewline\fkept', 'tab\tand\nnewline\fkept'],
    ['&amp;amp;amp; x', '& x'], // unescaped until nothing changes…
    ['x<y &amp; z', 'x<y &amp; z'], // …unless the line may be HTML
    ['&amp;\n<b>\n&amp;', '&\n<b>\n&amp;'], // and from that line on
  ])('%j → %j', (input, expected) => {
    expect(fixText(input)).toBe(expected);
  });
});

describe('cleanClipText', () => {
  it('collapses whitespace the way Python does, trims and lower-cases', () => {
    expect(cleanClipText('  A   Photo\n\n\tOF\u00a0a\u2003CAT  ')).toBe('a photo of a cat');
    expect(cleanClipText('x<y &amp; z')).toBe('x<y & z'); // CLIP's own two html.unescape calls
    expect(cleanClipText('')).toBe('');
    expect(cleanClipText(' \n ')).toBe('');
  });
});
