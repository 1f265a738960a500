import type { ArtifactSink } from '../../src/pipeline/ports';
import type { RgbaImage } from '../../src/pipeline/image/rgba';

/** Test double for the ArtifactSink: keeps saved images in an array. */
export function createMemorySink(): ArtifactSink & { saved: Array<{ id: string; name: string; image: RgbaImage; metadata: Record<string, unknown> }> } {
  const saved: Array<{ id: string; name: string; image: RgbaImage; metadata: Record<string, unknown> }> = [];
  return {
    saved,
    async save(name, image, metadata) {
      const id = `artifact-${saved.length + 1}`;
      saved.push({ id, name, image, metadata });
      return id;
    },
  };
}
