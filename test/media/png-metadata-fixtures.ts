/** Loads the text chunks of test/fixtures/png-metadata (see its README for sources and licences). */
import { readFileSync } from 'node:fs';
import type { PngTextChunk } from '../../src/media/png-text';


export function fixtureChunks(path: string): PngTextChunk[] {
  const list = JSON.parse(readFileSync(new URL(`../fixtures/png-metadata/${path}`, import.meta.url), 'utf8')) as Array<{ keyword: string; text: string }>;
  return list.map(({ keyword, text }) => ({ keyword, text, kind: 'tEXt' as const }));
}

export function fixtureText(path: string, keyword: string): string {
  const chunk = fixtureChunks(path).find((c) => c.keyword === keyword);
  if (!chunk) throw new Error(`${path} has no ${keyword} chunk`);
  return chunk.text;
}
