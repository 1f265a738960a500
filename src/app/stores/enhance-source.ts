/**
 * The image the Enhance view starts from: a picked file or a gallery image, with an object URL
 * to show it (revoked when replaced) and its size, read from the file's header at once (also for
 * files the browser cannot show) and from the shown preview once decoded (which wins).
 */
import { batch, createMemo, createSignal } from 'solid-js';
import { readImageHeader } from '../../media/image-header';

export type EnhanceSource =
  | { kind: 'file'; file: File; name: string }
  | { kind: 'artifact'; artifactId: string; name: string; blob: Blob };

type Size = { width: number; height: number };

export function createImageSource() {
  const [source, setSource] = createSignal<EnhanceSource | null>(null);
  const [previewUrl, setPreviewUrl] = createSignal<string | null>(null);
  const [previewBroken, setPreviewBroken] = createSignal(false);
  const [headerSize, setHeaderSize] = createSignal<Size | null>(null);
  const [shownSize, setShownSize] = createSignal<Size | null>(null);
  const inputSize = createMemo(() => shownSize() ?? headerSize());
  let generation = 0;

  /** Shows `next` as the image to enhance. */
  const use = (next: EnhanceSource) => {
    const blob = next.kind === 'file' ? next.file : next.blob;
    const gen = ++generation;
    batch(() => {
      const old = previewUrl();
      if (old) URL.revokeObjectURL(old);
      setPreviewUrl(URL.createObjectURL(blob));
      setShownSize(null);
      setHeaderSize(null);
      setPreviewBroken(false);
      setSource(next);
    });
    // The size from the header: enough to tell at once whether the refiner can take the image.
    // A file that cannot be read is explained by the worker when it runs; nothing to say here.
    void blob
      .slice(0, 1 << 20)
      .arrayBuffer()
      .then((bytes) => {
        const header = readImageHeader(new Uint8Array(bytes));
        if (gen === generation) setHeaderSize({ width: header.width, height: header.height });
      })
      .catch(() => undefined);
  };

  return { source, previewUrl, previewBroken, setPreviewBroken, inputSize, setInputSize: setShownSize, use };
}
