/**
 * Turns what the user picked or dropped into `{ path, file }` pairs, paths relative to what was
 * picked (`sd15/unet/model.onnx`), for `models.scan`. Three sources: a file input (with
 * `webkitRelativePath` for a folder input), a directory handle from `showDirectoryPicker`, and a
 * drop (folders walked through `webkitGetAsEntry`).
 */

export interface PickedFile {
  path: string;
  file: File;
}

/** Files of an `<input type="file">`, folder inputs keeping their relative paths. */
export function fromFileList(files: FileList | readonly File[] | null | undefined): PickedFile[] {
  return Array.from(files ?? []).map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

// ---------- File System Access API (not in TypeScript's DOM lib as used here) ----------

interface DirectoryHandleLike {
  kind: 'directory';
  name: string;
  values(): AsyncIterable<FileHandleLike | DirectoryHandleLike>;
}

interface FileHandleLike {
  kind: 'file';
  name: string;
  getFile(): Promise<File>;
}

type DirectoryPicker = (options?: { id?: string; mode?: 'read' }) => Promise<DirectoryHandleLike>;

function directoryPicker(): DirectoryPicker | undefined {
  const picker = (window as unknown as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
  return typeof picker === 'function' ? picker.bind(window) : undefined;
}

export function canPickDirectory(): boolean {
  return directoryPicker() !== undefined;
}

/** The user dismissed a picker: not an error to show. */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

async function walkHandle(dir: DirectoryHandleLike, prefix: string, out: PickedFile[]): Promise<void> {
  for await (const entry of dir.values()) {
    const path = `${prefix}/${entry.name}`;
    if (entry.kind === 'file') out.push({ path, file: await entry.getFile() });
    else await walkHandle(entry, path, out);
  }
}

/**
 * Asks for a folder with `showDirectoryPicker` and walks it; paths start with the folder's name,
 * as `webkitRelativePath` does. Resolves to null when the picker is unavailable or dismissed.
 */
export async function pickDirectory(): Promise<PickedFile[] | null> {
  const picker = directoryPicker();
  if (!picker) return null;
  let handle: DirectoryHandleLike;
  try {
    handle = await picker({ id: 'media-lab-models', mode: 'read' });
  } catch (err) {
    if (isAbort(err)) return null;
    throw err;
  }
  const out: PickedFile[] = [];
  await walkHandle(handle, handle.name, out);
  return out;
}

// ---------- drag and drop ----------

function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  // readEntries answers in batches (100 in Chromium) until it returns an empty one.
  return new Promise((resolve, reject) => {
    const all: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walkEntry(entry: FileSystemEntry, out: PickedFile[]): Promise<void> {
  const path = (entry.fullPath || entry.name).replace(/^\/+/, '');
  if (entry.isFile) {
    out.push({ path, file: await fileOf(entry as FileSystemFileEntry) });
  } else if (entry.isDirectory) {
    const children = await readAllEntries((entry as FileSystemDirectoryEntry).createReader());
    for (const child of children) await walkEntry(child, out);
  }
}

/**
 * Reads a drop. Must be called synchronously in the `drop` handler (the items are emptied once
 * it returns); the walk itself is asynchronous.
 */
export function fromDataTransfer(transfer: DataTransfer): Promise<PickedFile[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of Array.from(transfer.items ?? [])) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else {
      const file = item.getAsFile();
      if (file) loose.push(file);
    }
  }
  if (entries.length === 0 && loose.length === 0) loose.push(...Array.from(transfer.files ?? []));
  return (async () => {
    const out: PickedFile[] = fromFileList(loose);
    for (const entry of entries) await walkEntry(entry, out);
    return out;
  })();
}
