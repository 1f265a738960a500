/**
 * Typed access to the worker's `models.*` methods (see `artifacts.ts` for why the nested
 * namespace is cast: each method is a remote call on the path `models.<name>`; never await
 * `studio().models` itself).
 */
import { proxyCallback, studio } from '../../client/studio-client';
import type { StudioApi } from '../../protocol/api';
import type { ImportOutcome, ImportProgress, ImportSelection } from '../../protocol/models';

type Remoted<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export type ModelsApi = Remoted<StudioApi['models']>;

export function modelsApi(): ModelsApi {
  return studio().models as unknown as ModelsApi;
}

/** Whether import progress (and so cancel, which needs the import id) is reported. */
export function canReportImportProgress(): boolean {
  return true;
}

export function importModels(
  scanId: string,
  selections: ImportSelection[],
  onProgress: (progress: ImportProgress) => void,
): Promise<ImportOutcome[]> {
  // A function cannot be cloned to the worker: the client wraps it as a callable proxy.
  return modelsApi().import(scanId, selections, proxyCallback(onProgress));
}
