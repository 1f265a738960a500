/**
 * One subscription to the worker's job events for the whole app, fanned out to views.
 * Views register with `listenJobEvents` (returns an unsubscribe for `onCleanup`).
 */
import { connectStudio, onJobEvents } from '../../client/studio-client';
import type { JobEvent } from '../../protocol/events';

export type JobEventHandler = (event: JobEvent) => void;

const handlers = new Set<JobEventHandler>();
let connection: Promise<void> | null = null;

function dispatch(event: JobEvent): void {
  for (const handler of [...handlers]) {
    try {
      handler(event);
    } catch (err) {
      console.error('job event handler failed', err);
    }
  }
}

/** Resolves once the worker is up and events flow; submit jobs only after this. */
export function jobEventsReady(): Promise<void> {
  if (!connection) {
    const attempt = connectStudio()
      .then(() => onJobEvents(dispatch))
      .then(() => undefined);
    connection = attempt;
    attempt.catch(() => {
      if (connection === attempt) connection = null;
    });
  }
  return connection;
}

export function listenJobEvents(handler: JobEventHandler): () => void {
  handlers.add(handler);
  // A failure to connect is reported by the app's startup banner.
  jobEventsReady().catch(() => undefined);
  return () => {
    handlers.delete(handler);
  };
}
