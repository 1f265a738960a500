/**
 * The class names of an imported YOLO detector. Its output rows are class numbers; Ultralytics
 * exports write the names into the ONNX file's `metadata_props` under `names`, as Python's `str()`
 * of a dict (`{0: 'face'}`, `{0: 'hand', 1: 'face'}`). onnxruntime-web does not expose those
 * properties, so `inspectOnnx` reads them and this module parses the value — by a small parser,
 * never by evaluating it: the text comes from a file the user picked.
 */

/** What the detailer and Find call the classes they target; detector names are mapped onto these. */
const SYNONYMS: Record<string, string> = { face: 'face', faces: 'face', hand: 'hand', hands: 'hand' };

/** `Face`, `faces` → `face`; `hands` → `hand`; any other name is kept as written. */
export function normaliseClassName(name: string): string {
  return SYNONYMS[name.trim().toLowerCase()] ?? name;
}

class Malformed extends Error {}

/** A cursor over the text of a Python (or JSON) literal. */
class Literal {
  pos = 0;
  constructor(private readonly text: string) {}

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  peek(): string {
    this.skipSpace();
    return this.text[this.pos] ?? '';
  }

  expect(char: string): void {
    if (this.peek() !== char) throw new Malformed();
    this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  /** A non-negative integer key: `0` (Python) or `"0"` (JSON). */
  index(): number {
    const c = this.peek();
    if (c === "'" || c === '"') {
      const s = this.string();
      if (!/^\d+$/.test(s)) throw new Malformed();
      return Number(s);
    }
    const match = /^\d+/.exec(this.text.slice(this.pos, this.pos + 16));
    if (!match) throw new Malformed();
    this.pos += match[0].length;
    return Number(match[0]);
  }

  /** A quoted string with Python's escapes (what `repr` writes; JSON's are a subset). */
  string(): string {
    const quote = this.peek();
    if (quote !== "'" && quote !== '"') throw new Malformed();
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined || c === '\n') throw new Malformed();
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.pos++];
      const hex = (digits: number) => {
        const h = this.text.slice(this.pos, this.pos + digits);
        if (h.length !== digits || !/^[0-9a-fA-F]+$/.test(h)) throw new Malformed();
        this.pos += digits;
        const code = parseInt(h, 16);
        if (code > 0x10ffff) throw new Malformed();
        return String.fromCodePoint(code);
      };
      if (e === undefined) throw new Malformed();
      else if (e === 'n') out += '\n';
      else if (e === 't') out += '\t';
      else if (e === 'r') out += '\r';
      else if (e === 'x') out += hex(2);
      else if (e === 'u') out += hex(4);
      else if (e === 'U') out += hex(8);
      else if (e === '\\' || e === "'" || e === '"' || e === '/') out += e;
      else out += `\\${e}`; // Python keeps an unknown escape as written
    }
  }
}

/**
 * Names by class index from a `names` value: a dict `{0: 'face', 1: 'hand'}` (Python's repr; JSON's
 * `{"0": "face"}` too) or a list `['face', 'hand']`. Null unless it is exactly that, with indices
 * 0…n−1 each once and no empty name.
 */
export function parseClassNames(text: string): string[] | null {
  const p = new Literal(text);
  const byIndex = new Map<number, string>();
  try {
    const open = p.peek();
    if (open !== '{' && open !== '[') return null;
    p.pos++;
    const close = open === '{' ? '}' : ']';
    while (p.peek() !== close) {
      const index = open === '{' ? p.index() : byIndex.size;
      if (open === '{') p.expect(':');
      if (byIndex.has(index)) return null;
      byIndex.set(index, p.string());
      if (p.peek() === ',') p.pos++;
      else if (p.peek() !== close) return null;
    }
    p.pos++;
    if (!p.atEnd()) return null;
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }
  const names = Array.from({ length: byIndex.size }, (_, i) => byIndex.get(i));
  return names.length > 0 && names.every((n): n is string => n !== undefined && n.trim() !== '') ? names : null;
}

/**
 * The class a file name says a detector finds: `face_yolov8n.onnx` → face, `hand_yolov8s.onnx` →
 * hand (ADetailer's file names); null when it names neither or both.
 */
export function classFromFileName(path: string): string | null {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.[^.]*$/, '');
  const words = base.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z]+/);
  const found = new Set(words.map((w) => (w === 'face' || w === 'faces' ? 'face' : w === 'hand' || w === 'hands' ? 'hand' : null)).filter((c) => c !== null));
  return found.size === 1 ? [...found][0] : null;
}

/**
 * The class names of a YOLO detector with `numClasses` classes: from the file's `names` metadata
 * when it names exactly that many, else — for a one-class detector only — from its file name
 * (an export stripped of metadata keeps ADetailer's `face_…`/`hand_…` names). Null when nothing
 * names them: the detector's classes stay numbered and it is never chosen for a target by itself.
 */
export function yoloClassNames(source: { metadata?: Readonly<Record<string, string>>; numClasses: number; fileName?: string }): string[] | null {
  const names = source.metadata?.names !== undefined ? parseClassNames(source.metadata.names) : null;
  if (names && names.length === source.numClasses) return names.map(normaliseClassName);
  if (source.numClasses === 1 && source.fileName) {
    const fromName = classFromFileName(source.fileName);
    if (fromName) return [fromName];
  }
  return null;
}
