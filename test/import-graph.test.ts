/**
 * No import circles in src/ or workers/. A circle makes module order matter (a class used before
 * its module has run) and ties modules that should change apart; type-only circles count too,
 * because they still say two modules define each other.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, importsOf, root } from './helpers/imports';

/** Relative module specifiers of a file (`import type` and `export … from` included). */
const relativeImportsOf = (file: string): string[] => importsOf(file).map((r) => r.spec).filter((spec) => spec.startsWith('.'));

/** The project file a relative specifier names, as the bundler resolves it; undefined for non-TS files (JSON, assets). */
function resolveSpec(from: string, spec: string): string | undefined {
  const base = resolve(dirname(join(root, from)), spec.replace(/\?.*$/, ''));
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')]) {
    if (/\.(ts|tsx)$/.test(candidate) && existsSync(candidate) && statSync(candidate).isFile()) return relative(root, candidate);
  }
  return undefined;
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = relativeImportsOf(file)
      .map((spec) => resolveSpec(file, spec))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * One cycle per strongly connected component (Tarjan), each written `a → b → a`: enough to
 * name every tangle without listing the many cycles one tangle can hold.
 */
function findCycles(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;

  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);

  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    // Shortest path back to the start inside the component: a readable cycle through it.
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift()!;
      for (const to of graph.get(node) ?? []) {
        if (!members.has(to)) continue;
        if (to === start) {
          const path = [node];
          while (path[0] !== start) path.unshift(previous.get(path[0])!);
          return [...path, start].join(' → ');
        }
        if (!previous.has(to)) {
          previous.set(to, node);
          queue.push(to);
        }
      }
    }
    return component.join(' → ');
  });
}

describe('import graph', () => {
  const graph = importGraph([...filesUnder('src'), ...filesUnder('workers')]);

  it('has no cycles in src/ or workers/', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('sees every kind of import (so the check above cannot pass vacuously)', () => {
    // `import type` from a sibling, and an `index.ts` folder import.
    expect(graph.get('src/pipeline/ports.ts')).toContain('src/pipeline/tensor.ts');
    expect(graph.get('src/pipeline/diffusion/text-to-image.ts')).toContain('src/pipeline/diffusion/schedulers/index.ts');
    // `export … from` (classify.ts only re-exports family.ts).
    expect(graph.get('src/registry/classify.ts')).toContain('src/registry/family.ts');
    // Dynamic import('…').
    expect(graph.get('src/pipeline/diffusion/tokenizer/clip.ts')).toContain('src/pipeline/diffusion/tokenizer/clip-merges-data.ts');
    // A cycle is found when there is one.
    const circle = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(circle)).toEqual(['a.ts → b.ts → c.ts → a.ts']);
  });
});
