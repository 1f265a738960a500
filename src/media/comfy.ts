/**
 * Generation parameters from ComfyUI's `prompt` PNG chunk: the "API format" graph, a JSON object
 * of nodes keyed by id, each `{ class_type, inputs }`, where an input is either a value or a link
 * `[node id, output index]` to another node.
 *
 *   KSampler ─ positive ──▶ CLIPTextEncode.text            → prompt
 *            ─ negative ──▶ CLIPTextEncode.text            → negative_prompt
 *            ─ latent_image ▶ EmptyLatentImage.width/height → size (absent for img2img)
 *            ─ model ─────▶ (LoRA loaders …) ▶ CheckpointLoaderSimple.ckpt_name → model
 *            seed, steps, cfg, sampler_name, scheduler, denoise
 *
 * A graph that is not what ComfyUI writes (bad JSON, missing nodes, broken links, wrong types)
 * is refused with a ComfyParamsError saying what is wrong. A well-formed graph using something
 * this app cannot reproduce (a sampler it lacks, prompts merged by ConditioningCombine, a seed
 * from a custom node) still gives every field it can, with a warning for each one it could not.
 * The JSON is parsed as data only; nothing in it is evaluated.
 *
 * Pure TypeScript plus zod: runs in the worker and in Node.
 */
import { z } from 'zod';
import type { SchedulerName } from '../protocol/pipeline-config';
import type { ImportedGenerationParams } from './infotext';

export class ComfyParamsError extends Error {
  override readonly name = 'ComfyParamsError';
  constructor(why: string, options?: { cause?: unknown }) {
    super(`could not read ComfyUI parameters: ${why}`, options);
  }
}

export interface ReadComfyOptions {
  /** Longest JSON text accepted, in characters. Default 1 MiB, the PNG text chunk cap. */
  maxJsonChars?: number;
}

/** ComfyUI's sampler names for ours; old ComfyUI versions prefixed them with "sample_". */
const COMFY_SAMPLERS: Record<string, SchedulerName> = {
  euler: 'euler',
  euler_ancestral: 'euler_a',
  ddim: 'ddim',
  dpmpp_2m: 'dpmpp_2m',
  lcm: 'lcm',
};

const SAMPLER_CLASSES = new Set(['KSampler', 'KSamplerAdvanced']);

/** Links are followed at most this far, so a cycle in a hostile graph cannot loop forever. */
const MAX_DEPTH = 32;

const Link = z.tuple([z.union([z.string().min(1), z.number().int().nonnegative()]), z.number().int().nonnegative()]);
type Link = z.infer<typeof Link>;
const Node = z.object({
  class_type: z.string().min(1, 'class_type is empty'),
  inputs: z.record(z.string(), z.unknown()),
});
const Graph = z.record(z.string(), z.unknown());

interface GraphNode {
  id: string;
  class_type: string;
  inputs: Map<string, unknown>;
}

/** Parameters from the text of a ComfyUI `prompt` chunk. Throws ComfyParamsError. */
export function readComfyPrompt(json: string, options: ReadComfyOptions = {}): ImportedGenerationParams {
  const maxJsonChars = options.maxJsonChars ?? 1024 * 1024;
  if (typeof json !== 'string') throw new ComfyParamsError('the prompt chunk is not text');
  if (json.length > maxJsonChars) {
    throw new ComfyParamsError(`the graph is ${json.length} characters long; the most accepted is ${maxJsonChars}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new ComfyParamsError(`the graph is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
  return new GraphReader(parseGraph(raw)).read();
}

/** Validate the shape of every node and index them; Maps, because ids and input names come from the file. */
function parseGraph(raw: unknown): Map<string, GraphNode> {
  const graph = Graph.safeParse(raw);
  if (!graph.success) throw new ComfyParamsError('the graph is not a JSON object of nodes');
  const nodes = new Map<string, GraphNode>();
  for (const [id, value] of Object.entries(graph.data)) {
    const node = Node.safeParse(value);
    if (!node.success) {
      const issue = node.error.issues[0];
      const where = issue.path.length ? ` (${issue.path.join('.')})` : '';
      throw new ComfyParamsError(`node "${id}" is not a ComfyUI node: ${issue.message}${where}`);
    }
    nodes.set(id, { id, class_type: node.data.class_type, inputs: new Map(Object.entries(node.data.inputs)) });
  }
  return nodes;
}

const isLink = (value: unknown): value is Link => Link.safeParse(value).success;

/** A short description of a value from the file for a message; never recursive (JSON.stringify
 * of a 100 000-deep array overflows the stack). */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** Where a value could not be followed to; becomes a warning, not an error. */
class Unresolved {
  constructor(readonly why: string) {}
}

class GraphReader {
  private readonly out: ImportedGenerationParams = { extra: {}, warnings: [] };

  constructor(private readonly nodes: Map<string, GraphNode>) {}

  read(): ImportedGenerationParams {
    const sampler = this.pickSampler();
    const { out } = this;
    const advanced = sampler.class_type === 'KSamplerAdvanced';
    const label = `${sampler.class_type} "${sampler.id}"`;

    const steps = this.scalar(sampler, 'steps', 'number');
    if (typeof steps === 'number') {
      if (Number.isInteger(steps) && steps >= 1) out.steps = steps;
      else throw new ComfyParamsError(`${label} has steps = ${steps}, not a whole number from 1`);
    } else this.warn('steps', steps);

    const cfg = this.scalar(sampler, 'cfg', 'number');
    if (typeof cfg === 'number') out.guidance_scale = cfg;
    else this.warn('CFG', cfg);

    const seedInput = advanced ? 'noise_seed' : 'seed';
    const seed = this.scalar(sampler, seedInput, 'number');
    if (typeof seed === 'number') {
      // ComfyUI seeds go up to 2^64; past 2^53 JSON numbers have already lost digits.
      if (Number.isSafeInteger(seed) && seed >= 0) out.seed = seed;
      else {
        out.extra.seed = String(seed);
        out.warnings.push(`seed ${seed} is outside the range this app can reproduce (0 to 2^53 - 1)`);
      }
    } else this.warn('seed', seed);

    const samplerName = this.scalar(sampler, 'sampler_name', 'string');
    const scheduler = this.scalar(sampler, 'scheduler', 'string');
    if (typeof samplerName === 'string') {
      const key = samplerName.replace(/^sample_/, '');
      if (Object.hasOwn(COMFY_SAMPLERS, key)) {
        out.scheduler = COMFY_SAMPLERS[key];
        out.karras = scheduler === 'karras';
      } else {
        out.extra.sampler_name = samplerName;
        out.warnings.push(`sampler "${samplerName}" is not one this app has (euler, euler_ancestral, ddim, dpmpp_2m, lcm)`);
      }
    } else this.warn('sampler', samplerName);
    if (typeof scheduler === 'string') {
      if (scheduler !== 'karras' && scheduler !== 'normal') {
        out.extra.scheduler = scheduler;
        out.warnings.push(`scheduler "${scheduler}" is not one this app has (normal, karras); the sampler's default is used`);
      }
    } else this.warn('scheduler', scheduler);

    if (!advanced) {
      const denoise = this.scalar(sampler, 'denoise', 'number');
      if (typeof denoise === 'number') {
        if (!(denoise >= 0 && denoise <= 1)) throw new ComfyParamsError(`${label} has denoise = ${denoise}, not from 0 to 1`);
        if (denoise < 1) out.strength = denoise;
      } else if (denoise !== undefined) this.warn('denoise', denoise);
    }

    for (const [input, field] of [
      ['positive', 'prompt'],
      ['negative', 'negative_prompt'],
    ] as const) {
      const text = this.promptText(this.link(sampler, input), 0);
      if (typeof text === 'string') out[field] = text;
      else this.warn(`${input} prompt`, text);
    }

    this.readSize(this.link(sampler, 'latent_image'));
    const model = this.modelName(this.link(sampler, 'model'), 0);
    if (model !== undefined) out.model = model;
    return out;
  }

  /** The sampler to read: the first pass (latent from an empty-latent node) if there are several. */
  private pickSampler(): GraphNode {
    const samplers = [...this.nodes.values()].filter((n) => SAMPLER_CLASSES.has(n.class_type));
    if (samplers.length === 0) {
      throw new ComfyParamsError('the graph has no KSampler node, so there are no sampling parameters to read');
    }
    const byId = (a: GraphNode, b: GraphNode) => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const firstPass = (n: GraphNode) => {
      const latent = n.inputs.get('latent_image');
      const source = isLink(latent) ? this.nodes.get(String(latent[0])) : undefined;
      return source !== undefined && source.inputs.has('width') && !source.inputs.has('samples') && !source.inputs.has('pixels');
    };
    const chosen = [...samplers.filter(firstPass).sort(byId), ...samplers.sort(byId)][0];
    if (samplers.length > 1) {
      this.out.warnings.push(`the graph has ${samplers.length} samplers; read ${chosen.class_type} "${chosen.id}" (the first pass)`);
    }
    return chosen;
  }

  private node(link: Link, from: GraphNode, input: string): GraphNode {
    const target = this.nodes.get(String(link[0]));
    if (!target) throw new ComfyParamsError(`${from.class_type} "${from.id}" input "${input}" links to node "${link[0]}", which is not in the graph`);
    return target;
  }

  /** A required link input, followed to its node. */
  private link(node: GraphNode, input: string): { node: GraphNode; output: number } {
    const value = node.inputs.get(input);
    if (!isLink(value)) {
      const found = value === undefined ? 'it is missing' : `found ${describe(value)}`;
      throw new ComfyParamsError(`${node.class_type} "${node.id}" input "${input}" should be a link to another node; ${found}`);
    }
    return { node: this.node(value, node, input), output: value[1] };
  }

  /**
   * A number or string input: the value itself, or, when it is linked, the value of a
   * primitive-style node (one holding a single value of that type, e.g. a seed node).
   * undefined when the input is absent; Unresolved when it comes from a node whose value the
   * file does not hold.
   */
  private scalar(node: GraphNode, input: string, type: 'number' | 'string', depth = 0): number | string | Unresolved | undefined {
    const value = node.inputs.get(input);
    if (value === undefined) return undefined;
    if (typeof value === type) {
      if (type === 'number' && !Number.isFinite(value)) throw new ComfyParamsError(`${node.class_type} "${node.id}" input "${input}" is not a finite number`);
      return value as number | string;
    }
    if (!isLink(value)) {
      throw new ComfyParamsError(`${node.class_type} "${node.id}" input "${input}" should be a ${type}; found ${describe(value)}`);
    }
    const source = this.node(value, node, input);
    if (depth >= MAX_DEPTH) throw new ComfyParamsError(`links from node "${node.id}" go deeper than ${MAX_DEPTH} nodes (a cycle?)`);
    // Prefer an input of the same name (a "seed" node's seed), then the only input of the right type.
    const candidates = [...source.inputs].filter(([, v]) => typeof v === type || isLink(v));
    const pick = source.inputs.has(input) ? input : candidates.length === 1 ? candidates[0][0] : undefined;
    if (pick === undefined) return new Unresolved(`it comes from ${source.class_type} node "${source.id}", whose value is not stored in the file`);
    return this.scalar(source, pick, type, depth + 1);
  }

  /** The text of a conditioning, through pass-through nodes (ControlNet, unCLIP, area …). */
  private promptText(from: { node: GraphNode; output: number }, depth: number): string | Unresolved {
    const { node, output } = from;
    if (depth >= MAX_DEPTH) throw new ComfyParamsError(`prompt links go deeper than ${MAX_DEPTH} nodes (a cycle?)`);
    for (const input of ['text', 'text_g']) {
      // CLIPTextEncode holds `text`; SDXL's CLIPTextEncodeSDXL holds `text_g` and `text_l`.
      if (!node.inputs.has(input)) continue;
      const text = this.scalar(node, input, 'string');
      if (typeof text === 'string' || text instanceof Unresolved) return text;
    }
    if (node.inputs.has('conditioning')) return this.promptText(this.link(node, 'conditioning'), depth + 1);
    // ControlNetApplyAdvanced and friends pass both prompts: output 0 positive, 1 negative.
    if (node.inputs.has('positive') && node.inputs.has('negative') && output <= 1) {
      return this.promptText(this.link(node, output === 0 ? 'positive' : 'negative'), depth + 1);
    }
    if (node.inputs.has('conditioning_1') || node.inputs.has('conditioning_to')) {
      return new Unresolved(`it combines several prompts (${node.class_type} node "${node.id}")`);
    }
    return new Unresolved(`it comes from ${node.class_type} node "${node.id}", which holds no prompt text`);
  }

  /** Size from an empty-latent node; an img2img latent (VAEEncode …) has none, which is fine. */
  private readSize(from: { node: GraphNode }): void {
    const { node } = from;
    if (!node.inputs.has('width') || !node.inputs.has('height') || node.inputs.has('samples')) return;
    const width = this.scalar(node, 'width', 'number');
    const height = this.scalar(node, 'height', 'number');
    if (typeof width === 'number' && typeof height === 'number') {
      if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
        throw new ComfyParamsError(`${node.class_type} "${node.id}" has size ${width}×${height}`);
      }
      this.out.width = width;
      this.out.height = height;
    } else this.warn('size', width instanceof Unresolved ? width : height);
  }

  /** The checkpoint's file name, through LoRA loaders and other model patches. */
  private modelName(from: { node: GraphNode }, depth: number): string | undefined {
    const { node } = from;
    if (depth >= MAX_DEPTH) throw new ComfyParamsError(`model links go deeper than ${MAX_DEPTH} nodes (a cycle?)`);
    for (const input of ['ckpt_name', 'unet_name']) {
      const name = node.inputs.has(input) ? this.scalar(node, input, 'string') : undefined;
      if (typeof name === 'string') return name;
    }
    return node.inputs.has('model') ? this.modelName(this.link(node, 'model'), depth + 1) : undefined;
  }

  private warn(what: string, why: Unresolved | string | number | undefined): void {
    if (why instanceof Unresolved) this.out.warnings.push(`${what} not read: ${why.why}`);
    else if (why === undefined) this.out.warnings.push(`${what} not read: the sampler has no such input`);
  }
}
