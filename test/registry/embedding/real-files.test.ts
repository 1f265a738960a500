/**
 * A real textual-inversion file (test/fixtures/lora/real-files/, from InvokeAI's Apache-2.0 test
 * data; see the README there): it is read as the studio reads an import, and its vectors are placed
 * after CLIP's vocabulary in the full-size SD 1.5 text encoder the studio builds from a checkpoint.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { placeEmbeddings } from '../../../src/pipeline/diffusion/embeddings/embedding';
import { buildTextEncoder, fileLocation } from '../../../src/registry/checkpoint/build';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { encodeModel } from '../../../src/registry/convert/onnx-build';
import { embeddingHash, loadEmbedding } from '../../../src/registry/embedding/load';
import { extendedModel, findTokenTable } from '../../../src/registry/embedding/token-table';
import { classifySafetensorsHeader, readSafetensorsHeader } from '../../../src/registry/safetensors';
import { headerOf, ldmTensorSpecs, SD15 } from '../../fixtures/ldm-checkpoint';

const FILE = fileURLToPath(new URL('../../fixtures/lora/real-files/invokeai-test-embedding.safetensors', import.meta.url));

describe('a real SD 1.x embedding file (InvokeAI test data)', () => {
  const bytes = new Uint8Array(readFileSync(FILE));

  it('is classified as an embedding and reads as 5 vectors of 768 (A1111 emb_params)', async () => {
    expect(bytes.byteLength).toBe(15_440);
    const header = await readSafetensorsHeader(new Blob([bytes]));
    expect(classifySafetensorsHeader(header, 'test_embedding.safetensors').kind).toBe('embedding');
    const e = loadEmbedding(bytes, 'folder/test_embedding.safetensors', { width: 768 });
    expect([e.name, e.count, e.width, e.vectors.length]).toEqual(['test_embedding', 5, 768, 3840]);
    // Trained values: finite, small, not all zero.
    expect(e.vectors.every((v) => Number.isFinite(v) && Math.abs(v) < 1)).toBe(true);
    expect(e.vectors.some((v) => v !== 0)).toBe(true);
    expect(await embeddingHash(bytes)).toBe('082897a88340');
  });

  it('is refused for an SD 2.x (1024-wide) text encoder', () => {
    expect(() => loadEmbedding(bytes, 'test_embedding.safetensors', { width: 1024 })).toThrow(/768 \(SD 1\.x\)-wide vectors but the text encoder is 1024/);
  });

  it("grows the full-size SD 1.5 text encoder's token table from 49408 to 49413 rows of 768", () => {
    const plan = planCheckpoint(headerOf(ldmTensorSpecs(SD15, 'F16')), 'model.safetensors');
    const model = encodeModel(buildTextEncoder(plan, { locate: fileLocation('model.safetensors', 8) }).model);
    const table = findTokenTable(model);
    expect([table.rows, table.width]).toEqual([49408, 768]);
    const set = placeEmbeddings([loadEmbedding(bytes, 'test_embedding.safetensors', { width: table.width })], { firstId: table.rows, width: table.width });
    expect(set.embeddings[0].firstId).toBe(49408);
    const grown = extendedModel(model, set);
    expect([grown.table.rows, grown.table.width]).toEqual([49413, 768]);
  });
});
