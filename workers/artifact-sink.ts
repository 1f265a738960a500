/**
 * The pipeline's ArtifactSink in the worker: each image a stage saves becomes a PNG that carries
 * its parameters and goes into the gallery (IndexedDB).
 */
import { textChunks } from '../src/media/artifact-png';
import { addPngTextChunks } from '../src/media/png-text';
import type { RgbaImage } from '../src/pipeline/image/rgba';
import type { ArtifactSink } from '../src/pipeline/ports';
import type { ArtifactRepository } from '../src/storage/artifacts';

export interface GalleryArtifactSinkOptions {
  jobId: string;
  /** The job's request as stored with the job (no binaries). */
  storedRequest: unknown;
  /** Only `save` is needed, so a store that only writes (the generate CLI's folder) fits too. */
  artifacts: Pick<ArtifactRepository, 'save'>;
  encodePng(image: RgbaImage): Uint8Array;
  /** Called once an image is stored, before `save` returns its id. */
  onSaved?(artifactId: string, name: string): void;
}

export function createGalleryArtifactSink(options: GalleryArtifactSinkOptions): ArtifactSink {
  const { jobId, storedRequest, artifacts, encodePng, onSaved } = options;
  return {
    async save(name, image, metadata) {
      // Our chunk also carries the whole job (pipeline and inputs, seed included, no binaries),
      // so any image of a job, refined or upscaled too, can restore the pipeline that made it.
      const png = addPngTextChunks(encodePng(image), textChunks({ ...metadata, job: storedRequest }));
      const id = await artifacts.save(
        {
          job_id: jobId,
          stage: metadata.stage,
          name,
          width: image.width,
          height: image.height,
          bytes: png.byteLength,
          mime: 'image/png',
          parameters: metadata.parameters,
          metadata,
        },
        new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }),
      );
      onSaved?.(id, name);
      return id;
    },
  };
}
