/** Storage errors the UI can show as they are, and the write wrapper that produces them. */

export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';
  constructor(options?: { cause?: unknown }) {
    super(
      "the browser's storage for this app is full, so nothing was saved. " +
        'Free space by deleting images from the gallery or models you no longer use, then try again.',
      options,
    );
  }
}

/** A row read back from IndexedDB does not match its schema. */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';
  constructor(store: string, id: string, detail: string) {
    super(`the stored ${store} record "${id}" is damaged and cannot be read (${detail})`);
  }
}

/**
 * QuotaExceededError is the standard DOMException name; older Firefox used its own name.
 * A quota failure can arrive from a request or, more often, as the reason the whole
 * transaction aborted at commit time (then it is the transaction's `error`).
 */
export function isQuotaExceeded(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** The part of an idb transaction the wrapper needs (kept structural so this file has no idb import). */
interface WriteTransaction {
  abort(): void;
  readonly done: Promise<void>;
}

/**
 * Run the writes of one readwrite transaction and wait for it to commit. If anything fails the
 * transaction is aborted, so none of its writes stay (never a record without its blob), and a
 * full disk is reported as StorageFullError.
 *
 * `body` must issue its requests with `await` one after another (not in a Promise.all): a
 * request that throws synchronously would otherwise leave sibling promises to reject unheard.
 */
export async function runWrite<T>(tx: WriteTransaction, body: () => Promise<T>): Promise<T> {
  try {
    const result = await body();
    await tx.done;
    return result;
  } catch (error) {
    try {
      tx.abort();
    } catch {
      // already committed or aborted: nothing more to undo
    }
    // A request may fail with a plain AbortError while the transaction's own error says why
    // (QuotaExceededError), so look at both. `done` settles promptly once aborted.
    const reason = await tx.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (isQuotaExceeded(error)) throw new StorageFullError({ cause: error });
    if (isQuotaExceeded(reason)) throw new StorageFullError({ cause: reason });
    throw error;
  }
}
