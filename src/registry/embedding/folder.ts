/**
 * A model folder whose text encoder knows a set of embeddings: `text_encoder/model.onnx` is the
 * rewritten graph (its token-embedding table grown, token-table.ts), and an external table is
 * served as `text_encoder/model.onnx_token_embedding`; every other path reads through. Nothing
 * is kept between reads: each read rebuilds from the folder (the table file re-reads only the
 * small model.onnx of an external-data export), so no second copy of a big model stays alive.
 */
import type { EmbeddingSet } from '../../pipeline/diffusion/embeddings/embedding';
import { extendedModel, extendedTableFile, TABLE_DATA_FILE } from './token-table';

/** A file of the folder by its path inside it (`unet/model.onnx`); undefined when absent (workers/ort's FolderReader). */
export type FolderReader = (path: string) => Promise<Uint8Array | undefined>;

export interface EmbeddingFolderOptions {
  /** The text encoder's folder (default `text_encoder`). */
  component?: string;
}

/** `read` itself for an empty set; else the folder with the grown text encoder. */
export function embeddingFolder(read: FolderReader, set: EmbeddingSet, options: EmbeddingFolderOptions = {}): FolderReader {
  if (set.embeddings.length === 0) return read;
  const dir = options.component ?? 'text_encoder';
  const original = async () => {
    const bytes = await read(`${dir}/model.onnx`);
    if (!bytes) throw new Error(`the model folder has no ${dir}/model.onnx to add embeddings to`);
    return bytes;
  };
  return async (path) => {
    if (path === `${dir}/model.onnx`) {
      const bytes = await read(path);
      return bytes && extendedModel(bytes, set).model;
    }
    if (path === `${dir}/${TABLE_DATA_FILE}`) return extendedTableFile(await original(), set, (location) => read(`${dir}/${location}`));
    return read(path);
  };
}
