import { createSignal, onCleanup, onMount, Show } from 'solid-js';
import { createArtifactUrl } from '../lib/artifact-url';

export interface ArtifactImageProps {
  id: string;
  alt: string;
  class?: string;
  /** Load only once scrolled near the viewport. */
  lazy?: boolean;
}

/** An artifact's image fetched from storage as an object URL (revoked on cleanup). */
export function ArtifactImage(props: ArtifactImageProps) {
  const [visible, setVisible] = createSignal(!props.lazy);
  let holder!: HTMLDivElement;

  onMount(() => {
    if (visible()) return;
    if (typeof IntersectionObserver === 'undefined') {
      setVisible(true);
      return;
    }
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          observer.disconnect();
          setVisible(true);
        }
      },
      { rootMargin: '200px' },
    );
    observer.observe(holder);
    onCleanup(() => observer.disconnect());
  });

  const image = createArtifactUrl(() => props.id, visible);

  return (
    <div ref={holder} class={`artifact-image ${props.class ?? ''}`} classList={{ loading: image().loading }}>
      <Show
        when={image().url}
        fallback={<span class="artifact-image-placeholder">{image().error ? 'Image missing' : ''}</span>}
      >
        {(url) => <img src={url()} alt={props.alt} decoding="async" draggable={false} />}
      </Show>
    </div>
  );
}
