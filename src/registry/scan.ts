/**
 * The folder walker: turns the entries of a picked or dropped folder (each with its path
 * relative to what the user picked) into model candidates, before anything is read or stored.
 *
 * - A folder with `model_index.json`, or with `unet/model.onnx` beside `text_encoder/` and
 *   `vae_decoder/` (the onnxruntime-web SD-Turbo layout), is one checkpoint candidate.
 * - Other `.onnx` files are candidates on their own (upscaler, detector: decided by signature).
 * - `.safetensors` files are candidates (LoRA, embedding, or a single-file checkpoint to build).
 * - Pickles (`.ckpt`, `.pt`, `.pth`, `.bin`) are listed as refused: loading them can run code.
 * - Everything else is ignored.
 */

export interface PickedFile {
  /** Path relative to what was picked, with `/` separators, e.g. `sd15/unet/model.onnx`. */
  path: string;
  file: { size: number; name?: string; slice(start?: number, end?: number): Blob | { arrayBuffer(): Promise<ArrayBuffer> } };
}

export type CandidateKind = 'diffusers-folder' | 'onnx-file' | 'safetensors-file';

export interface ModelCandidate {
  kind: CandidateKind;
  /** Proposed registry name (folder or file stem; unique within this scan). */
  name: string;
  /** The model's path in the user's folder: the folder for a diffusers model, else the file. */
  path: string;
  /** Files that belong to the model, with paths relative to the model (`unet/model.onnx`). */
  files: Array<{ path: string; file: PickedFile['file'] }>;
  bytes: number;
}

export interface RefusedEntry {
  path: string;
  bytes: number;
  reason: string;
}

export interface ScanResult {
  candidates: ModelCandidate[];
  refused: RefusedEntry[];
  /** Files that are neither models nor parts of one. */
  ignored: string[];
}

const PICKLE = /\.(ckpt|pt|pth|bin)$/i;
export const PICKLE_REASON =
  'pickle files (.ckpt, .pt, .pth, .bin) can run arbitrary code when loaded and no browser runtime can read them; convert the model to .safetensors or ONNX';

/** Files a diffusers/optimum model folder may hold that the studio uses. */
const FOLDER_FILE = /^(model_index\.json|[^/]+\/(model\.onnx|model\.onnx_data|[^/]+\.onnx_data|config\.json|scheduler_config\.json|vocab\.json|merges\.txt|tokenizer_config\.json|special_tokens_map\.json))$/;

function normalise(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\/+/, '').replace(/\/{2,}/g, '/');
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function stem(path: string): string {
  return basename(path).replace(/\.[^.]+$/, '');
}

/** The folders that are model roots: by model_index.json or by component subfolders. */
function modelRoots(paths: string[]): string[] {
  const set = new Set(paths);
  const roots = new Set<string>();
  for (const p of paths) {
    if (basename(p) === 'model_index.json') roots.add(dirname(p));
    if (p.endsWith('/unet/model.onnx') || p === 'unet/model.onnx') {
      const root = dirname(dirname(p));
      const prefix = root ? `${root}/` : '';
      if (set.has(`${prefix}text_encoder/model.onnx`) || set.has(`${prefix}vae_decoder/model.onnx`)) roots.add(root);
    }
  }
  // A root inside another root is part of it (e.g. a nested copy): keep the outermost.
  return [...roots].filter((r) => ![...roots].some((o) => o !== r && (o === '' || r.startsWith(`${o}/`))));
}

export function scanPickedFiles(entries: PickedFile[]): ScanResult {
  const files = entries.map((e) => ({ ...e, path: normalise(e.path) }));
  const roots = modelRoots(files.map((f) => f.path));
  const candidates: ModelCandidate[] = [];
  const refused: RefusedEntry[] = [];
  const ignored: string[] = [];
  const byRoot = new Map<string, ModelCandidate>();
  for (const root of roots) {
    const c: ModelCandidate = { kind: 'diffusers-folder', name: '', path: root || '.', files: [], bytes: 0 };
    byRoot.set(root, c);
    candidates.push(c);
  }
  for (const f of files) {
    const root = roots.find((r) => r === '' || f.path.startsWith(`${r}/`));
    if (root !== undefined) {
      const rel = root === '' ? f.path : f.path.slice(root.length + 1);
      const c = byRoot.get(root)!;
      if (FOLDER_FILE.test(rel)) {
        c.files.push({ path: rel, file: f.file });
        c.bytes += f.file.size;
      } else if (PICKLE.test(rel)) {
        refused.push({ path: f.path, bytes: f.file.size, reason: PICKLE_REASON });
      } else {
        ignored.push(f.path);
      }
      continue;
    }
    if (/\.onnx$/i.test(f.path)) {
      // External data next to a flat model travels with it (`x.onnx` + `x.onnx_data` or `x.onnx.data`).
      const companions = files.filter(
        (o) => o !== f && dirname(o.path) === dirname(f.path) && /\.(onnx_data|onnx\.data|data)$/i.test(o.path) && basename(o.path).startsWith(stem(f.path)),
      );
      candidates.push({
        kind: 'onnx-file',
        name: '',
        path: f.path,
        files: [{ path: basename(f.path), file: f.file }, ...companions.map((o) => ({ path: basename(o.path), file: o.file }))],
        bytes: f.file.size + companions.reduce((n, o) => n + o.file.size, 0),
      });
    } else if (/\.safetensors$/i.test(f.path)) {
      candidates.push({ kind: 'safetensors-file', name: '', path: f.path, files: [{ path: basename(f.path), file: f.file }], bytes: f.file.size });
    } else if (PICKLE.test(f.path)) {
      refused.push({ path: f.path, bytes: f.file.size, reason: PICKLE_REASON });
    } else if (!/\.(onnx_data|onnx\.data)$/i.test(f.path)) {
      ignored.push(f.path);
    }
  }
  nameCandidates(candidates);
  return { candidates, refused, ignored };
}

/**
 * Names from the file or folder stem; a duplicate gets its parent folder as a prefix, then a
 * number (`model`, `sd15-model`, `sd15-model-2`).
 */
export function nameCandidates(candidates: ModelCandidate[], taken: Iterable<string> = []): void {
  const used = new Set(taken);
  for (const c of candidates) {
    const base = c.kind === 'diffusers-folder' ? (c.path === '.' ? 'model' : basename(c.path)) : stem(c.path);
    const parent = basename(dirname(c.path === '.' ? '' : c.path));
    let name = base;
    if (used.has(name) && parent) name = `${parent}-${base}`;
    const plain = name;
    for (let i = 2; used.has(name); i++) name = `${plain}-${i}`;
    used.add(name);
    c.name = name;
  }
}
