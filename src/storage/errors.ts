/** Storage errors the UI can show as they are, and the write wrapper that produces them. */

export interface StorageFullDetails {
  cause?: unknown;
  /** Replaces the generic message, e.g. with the sizes involved (see ModelRepository.writeFile). */
  message?: string;
  /** Size of what was being saved, in bytes. */
  neededBytes?: number;
  /** From navigator.storage.estimate(), when the browser gave it. */
  usage?: number | null;
  quota?: number | null;
}

export class StorageFullError extends Error {
  override readonly name = 'StorageFullError';
  readonly neededBytes: number | null;
  readonly usage: number | null;
  readonly quota: number | null;
  constructor(options: StorageFullDetails = {}) {
    super(
      options.message ??
        "the browser's storage for this app is full, so nothing was saved. " +
          'Free space by deleting images from the gallery or models you no longer use, then try again.',
      { cause: options.cause },
    );
    this.neededBytes = options.neededBytes ?? null;
    this.usage = options.usage ?? null;
    this.quota = options.quota ?? null;
  }
}

/**
 * The user cancelled an import. Named 'AbortError' like the DOMException an aborted fetch or
 * stream throws, so generic `error.name === 'AbortError'` checks treat it as a cancellation
 * rather than a failure; `instanceof ImportCancelledError` tells it apart where that matters.
 */
export class ImportCancelledError extends Error {
  override readonly name = 'AbortError';
  constructor(options?: { cause?: unknown }) {
    super('the import was cancelled; nothing of the file being written was kept', options);
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
 * QuotaExceededError is the standard DOMException name; older Firefox used its own name, and
 * Chromium sometimes reports a full disk while writing a large blob as an UnknownError whose
 * message speaks of quota or space. A quota failure can arrive from a request or, more often,
 * as the reason the whole transaction aborted at commit time (then it is the transaction's `error`).
 */
export function isQuotaExceeded(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  if (name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED') return true;
  return name === 'UnknownError' && typeof message === 'string' && /quota|space/i.test(message);
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
