/**
 * Typed access to the worker's `artifacts.*` methods.
 *
 * The remote proxy types a nested plain object (`StudioApi['artifacts']`) as a promise of that
 * object, but at runtime `studio().artifacts.getBlob(id)` is a remote call on the path
 * `artifacts.getBlob` and works as is. (Awaiting `studio().artifacts` itself would try to copy an
 * object of functions out of the worker and fail, so never do that.)
 */
import { studio } from '../../client/studio-client';
import type { StudioApi } from '../../protocol/api';

type Remoted<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export type ArtifactsApi = Remoted<StudioApi['artifacts']>;

export function artifactsApi(): ArtifactsApi {
  return studio().artifacts as unknown as ArtifactsApi;
}
