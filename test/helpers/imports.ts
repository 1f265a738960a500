/**
 * The project's imports as written, for the tests that check the layout (boundaries.test.ts)
 * and that no modules import each other in a circle (import-graph.test.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export const root = resolve(__dirname, '../..');

/** Every .ts/.tsx file under `dir` (relative to the project root). */
export function filesUnder(dir: string): string[] {
  const abs = join(root, dir);
  return readdirSync(abs).flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return filesUnder(relative(root, path));
    return /\.(ts|tsx)$/.test(name) ? [relative(root, path)] : [];
  });
}

export interface ImportRef {
  spec: string;
  typeOnly: boolean;
  /** Project path (without extension) of a relative import, else undefined. */
  target?: string;
}

/** `import`, `import type`, `export … from` and dynamic `import('…')` of a file. */
export function importsOf(file: string): ImportRef[] {
  const text = readFileSync(join(root, file), 'utf8');
  const refs: ImportRef[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4];
    const target = spec.startsWith('.') ? relative(root, resolve(dirname(join(root, file)), spec)) : undefined;
    refs.push({ spec, typeOnly: Boolean(m[2]), target });
  }
  return refs;
}
