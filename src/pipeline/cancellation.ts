/**
 * Cancellation: how a running job notices that it was cancelled. Its own module so the
 * denoising loop and image ops can check for cancellation without importing the stage contract.
 */

/** Thrown when a job is cancelled; pipelines report it as a cancellation, not a failure. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/**
 * Lets queued messages (a cancel request, say) run: model runs resolve as microtasks, so without
 * a macrotask turn a worker would handle nothing until the whole job ended.
 */
export function yieldToEventLoop(): Promise<void> {
  // A timer task, not a MessageChannel message: in Node a stream of port messages can run ahead
  // of a cancel delivered by a timer (a test saw 3 extra tiles). Browsers clamp nested timers to
  // 4 ms, which is nothing next to a UNet step or a tile.
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Yields, then throws CancelledError if the job was cancelled meanwhile. */
export async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  await yieldToEventLoop();
  throwIfAborted(signal);
}
