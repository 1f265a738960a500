import { textToImageArtifact } from '../helpers/stage-metadata';
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { textChunks } from '../../src/media/artifact-png';
import { decodePng, encodePng } from '../../src/media/png';
import { readPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';
import { ArtifactRepository } from '../../src/storage/artifacts';
import { openStudioDb } from '../../src/storage/schema';
import { createGalleryArtifactSink } from '../../workers/artifact-sink';

describe('the gallery artifact sink', () => {
  it('stores a PNG carrying the stage metadata and the job, and reports the id before returning it', async () => {
    const artifacts = new ArtifactRepository(openStudioDb({ name: 'artifact-sink-test' }));
    const storedRequest = { pipeline_config: { stages: [{ stage_type: 'text_to_image' }] }, input_data: { seed: 5 } };
    const saved: Array<[string, string]> = [];
    const sink = createGalleryArtifactSink({
      jobId: 'job-1',
      storedRequest,
      artifacts,
      encodePng,
      onSaved: (id, name) => saved.push([id, name]),
    });
    const image = createRgbaImage(3, 2, new Uint8ClampedArray(24).fill(120));
    const metadata = textToImageArtifact({ stage: 'generate', prompt: 'a fox', steps: 4, guidance_scale: 7, scheduler: 'euler', seed: 5, width: 3, height: 2, parameters: { prompt: 'a fox' } });

    const id = await sink.save('job-1/generated.png', image, metadata);

    expect(saved).toEqual([[id, 'job-1/generated.png']]);
    const record = await artifacts.get(id);
    expect(record).toMatchObject({ job_id: 'job-1', stage: 'generate', name: 'job-1/generated.png', width: 3, height: 2, mime: 'image/png', parameters: { prompt: 'a fox' } });
    const bytes = new Uint8Array(await (await artifacts.getBlob(id))!.arrayBuffer());
    expect(record!.bytes).toBe(bytes.byteLength);
    expect(decodePng(bytes).data).toEqual(image.data);
    // Exactly the chunks src/media/artifact-png makes for the metadata plus the job.
    const chunks = readPngTextChunks(bytes).map(({ keyword, text }) => ({ keyword, text }));
    expect(chunks).toEqual(textChunks({ ...metadata, job: storedRequest }));
    expect(chunks.map((c) => c.keyword)).toEqual(['parameters', 'media-lab']);
  });
});
