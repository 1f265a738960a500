/**
 * DESIGN.md §3's boundaries, enforced: this test fails when an import crosses one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, importsOf, root } from './helpers/imports';

const under = (target: string | undefined, dir: string) => target !== undefined && (target === dir || target.startsWith(`${dir}/`));

describe('layout boundaries (DESIGN.md §3)', () => {
  it('src/pipeline imports only itself, zod and src/protocol (which owns the stage schemas and limits)', () => {
    const bad: string[] = [];
    for (const file of filesUnder('src/pipeline')) {
      for (const ref of importsOf(file)) {
        const ok = under(ref.target, 'src/pipeline') || under(ref.target, 'src/protocol') || ref.spec === 'zod';
        if (!ok) bad.push(`${file} → ${ref.spec}`);
      }
      const text = readFileSync(join(root, file), 'utf8');
      for (const banned of ['import.meta.env', '?raw', 'document.', 'window.', 'navigator.', 'indexedDB']) {
        if (text.includes(banned)) bad.push(`${file} uses ${banned}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('src/protocol imports only zod and itself', () => {
    const bad = filesUnder('src/protocol').flatMap((file) =>
      importsOf(file)
        .filter((r) => !(r.spec === 'zod' || under(r.target, 'src/protocol')))
        .map((r) => `${file} → ${r.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('src/app reaches the worker only through src/client', () => {
    const bad: string[] = [];
    for (const file of filesUnder('src/app')) {
      for (const ref of importsOf(file)) {
        if (under(ref.target, 'workers') || ['comlink', 'onnxruntime-web', 'idb'].some((p) => ref.spec.startsWith(p))) {
          bad.push(`${file} → ${ref.spec}`);
        }
        if (under(ref.target, 'src/storage') || under(ref.target, 'src/registry')) bad.push(`${file} → ${ref.spec}`);
      }
      if (/new\s+Worker\s*\(/.test(readFileSync(join(root, file), 'utf8'))) bad.push(`${file} creates a Worker`);
    }
    expect(bad).toEqual([]);
  });

  it('neither src/app nor src/client imports src/pipeline: the contract they share is src/protocol', () => {
    const bad = [...filesUnder('src/app'), ...filesUnder('src/client')].flatMap((file) =>
      importsOf(file)
        .filter((r) => under(r.target, 'src/pipeline'))
        .map((r) => `${file} → ${r.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('only src/client creates the Worker', () => {
    const creators = [...filesUnder('src'), ...filesUnder('workers')].filter((f) =>
      /new\s+Worker\s*\(/.test(readFileSync(join(root, f), 'utf8')),
    );
    expect(creators.every((f) => f.startsWith('src/client/'))).toBe(true);
  });

  it('only workers/ort imports onnxruntime-web, only src/storage imports idb', () => {
    const bad: string[] = [];
    for (const file of [...filesUnder('src'), ...filesUnder('workers')]) {
      for (const ref of importsOf(file)) {
        if (ref.spec.startsWith('onnxruntime-web') && !file.startsWith('workers/ort/')) bad.push(`${file} → ${ref.spec}`);
        if (ref.spec === 'idb' && !file.startsWith('src/storage/')) bad.push(`${file} → ${ref.spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the import scanner sees real imports (so the rules above cannot pass vacuously)', () => {
    const refs = importsOf('workers/ort/runtime.ts');
    expect(refs.some((r) => r.spec === 'onnxruntime-web/webgpu')).toBe(true);
    expect(importsOf('src/pipeline/workbench.ts').some((r) => r.spec === 'zod')).toBe(true);
    expect(importsOf('src/pipeline/ports.ts').every((r) => r.typeOnly)).toBe(true);
    expect(importsOf('src/pipeline/stages/upscaler.ts').some((r) => r.target === 'src/protocol/pipeline-config')).toBe(true);
  });
});
