/**
 * Every job's events for the views that follow all jobs (the queue, the gallery), through the
 * client's one subscription (src/client/job-handle.ts). A view following one job it submitted
 * uses that job's handle instead. `listenJobEvents` returns an unsubscribe for `onCleanup`.
 */
import { jobClient } from '../../client/studio-client';
import type { JobEvent } from '../../protocol/events';

export type JobEventHandler = (event: JobEvent) => void;

/** Resolves once the worker is up and events flow. */
export function jobEventsReady(): Promise<void> {
  return jobClient().ready();
}

export function listenJobEvents(handler: JobEventHandler): () => void {
  return jobClient().onAnyEvent(handler);
}
