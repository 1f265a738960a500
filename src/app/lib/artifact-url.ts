/** An object URL for an artifact's stored image, revoked when the id changes or on cleanup. */
import { createEffect, createSignal, onCleanup, type Accessor } from 'solid-js';
import { artifactsApi } from './artifacts';
import { plainError } from '../format';

export interface ArtifactUrlState {
  url?: string;
  blob?: Blob;
  loading: boolean;
  error?: string;
}

export function createArtifactUrl(
  id: Accessor<string | undefined>,
  enabled: Accessor<boolean> = () => true,
): Accessor<ArtifactUrlState> {
  const [state, setState] = createSignal<ArtifactUrlState>({ loading: false });

  createEffect(() => {
    const key = id();
    if (!key || !enabled()) {
      setState({ loading: false });
      return;
    }
    let stale = false;
    let url: string | undefined;
    onCleanup(() => {
      stale = true;
      if (url) URL.revokeObjectURL(url);
    });
    setState({ loading: true });
    artifactsApi()
      .getBlob(key)
      .then(
        (blob) => {
          if (stale) return;
          if (!blob) {
            setState({ loading: false, error: 'This image is no longer in storage.' });
            return;
          }
          url = URL.createObjectURL(blob);
          setState({ loading: false, url, blob });
        },
        (err) => {
          if (!stale) setState({ loading: false, error: plainError(err) });
        },
      );
  });

  return state;
}
