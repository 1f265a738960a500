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
 *   SamplerCustom: noise_seed and cfg on the node, positive/negative/model as above;
 *   SamplerCustomAdvanced: noise ▶ RandomNoise.noise_seed, guider ▶ CFGGuider (cfg, prompts,
 *   model) or BasicGuider (the positive prompt alone = CFG 1); both: sampler ▶ KSamplerSelect,
 *   sigmas ▶ BasicScheduler / KarrasScheduler / SDTurboScheduler … (steps, scheduler, denoise).
 *   With several samplers, the first pass (fed by an empty latent) is read.
 *
 * LoRA and hypernetwork loaders, ControlNet and other conditioning nodes, model patches, CLIP
 * skip and img2img inputs (LoadImage ▶ VAEEncode) are walked through and each is named in the
 * warnings, as none of them is applied here.
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
import { largeIntegerLiterals } from './tool-metadata';

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

const SAMPLER_CLASSES = new Set(['KSampler', 'KSamplerAdvanced', 'SamplerCustom', 'SamplerCustomAdvanced']);

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
  return new GraphReader(parseGraph(raw), largeIntegerLiterals(json)).read();
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

  /** Nodes already named in a note (a LoRA loader feeds both the model and the prompts). */
  private readonly noted = new Set<string>();

  constructor(
    private readonly nodes: Map<string, GraphNode>,
    private readonly literals: Map<number, string> = new Map(),
  ) {}

  read(): ImportedGenerationParams {
    const sampler = this.pickSampler();
    const { out } = this;
    const label = `${sampler.class_type} "${sampler.id}"`;
    const custom = sampler.class_type === 'SamplerCustom' || sampler.class_type === 'SamplerCustomAdvanced';

    if (!custom) {
      const advanced = sampler.class_type === 'KSamplerAdvanced';
      this.readSteps(sampler, label);
      const cfg = this.scalar(sampler, 'cfg', 'number');
      if (typeof cfg === 'number') out.guidance_scale = cfg;
      else this.warn('CFG', cfg);
      this.readSeed(this.scalar(sampler, advanced ? 'noise_seed' : 'seed', 'number'));
      this.readSamplerName(this.scalar(sampler, 'sampler_name', 'string'), this.scalar(sampler, 'scheduler', 'string'));
      if (!advanced) this.readDenoise(sampler, label);
      this.readPrompts(sampler);
      this.readSize(this.link(sampler, 'latent_image'));
      const model = this.modelName(this.link(sampler, 'model'), 0);
      if (model !== undefined) out.model = model;
      return out;
    }

    // SamplerCustom holds noise_seed, cfg and the prompts itself; SamplerCustomAdvanced takes them
    // from a noise node (RandomNoise) and a guider node (CFGGuider, BasicGuider).
    let modelFrom: { node: GraphNode } | undefined;
    if (sampler.class_type === 'SamplerCustom') {
      if (sampler.inputs.get('add_noise') === false) this.out.warnings.push(`${label} adds no noise (add_noise off), which this app does not do`);
      this.readSeed(this.scalar(sampler, 'noise_seed', 'number'));
      const cfg = this.scalar(sampler, 'cfg', 'number');
      if (typeof cfg === 'number') out.guidance_scale = cfg;
      else this.warn('CFG', cfg);
      this.readPrompts(sampler);
      modelFrom = this.link(sampler, 'model');
    } else {
      const noise = this.link(sampler, 'noise').node;
      if (noise.inputs.has('noise_seed')) this.readSeed(this.scalar(noise, 'noise_seed', 'number'));
      else this.out.warnings.push(`seed not read: the noise comes from ${noise.class_type} node "${noise.id}", which holds no seed`);
      const guider = this.link(sampler, 'guider').node;
      if (guider.inputs.has('positive') && guider.inputs.has('negative') && guider.inputs.has('cfg')) {
        // CFGGuider
        const cfg = this.scalar(guider, 'cfg', 'number');
        if (typeof cfg === 'number') out.guidance_scale = cfg;
        else this.warn('CFG', cfg);
        this.readPrompts(guider);
      } else if (guider.inputs.has('conditioning') && !guider.inputs.has('cfg')) {
        // BasicGuider: the positive prompt alone, which is CFG 1 with no negative prompt.
        const text = this.promptText(this.link(guider, 'conditioning'), 0);
        if (typeof text === 'string') out.prompt = text;
        else this.warn('positive prompt', text);
        out.guidance_scale = 1;
      } else {
        this.out.warnings.push(`prompts and CFG not read: the guider is ${guider.class_type} node "${guider.id}", which this app does not reproduce`);
      }
      if (guider.inputs.has('model')) modelFrom = this.link(guider, 'model');
    }
    const select = this.link(sampler, 'sampler').node;
    const sigmas = this.link(sampler, 'sigmas').node;
    const samplerName = select.inputs.has('sampler_name')
      ? this.scalar(select, 'sampler_name', 'string')
      : new Unresolved(`it comes from ${select.class_type} node "${select.id}", which is not KSamplerSelect`);
    this.readSigmas(sigmas, samplerName);
    this.readSize(this.link(sampler, 'latent_image'));
    if (modelFrom) {
      const model = this.modelName(modelFrom, 0);
      if (model !== undefined) out.model = model;
    }
    return out;
  }

  private readSteps(node: GraphNode, label: string): void {
    const steps = this.scalar(node, 'steps', 'number');
    if (typeof steps === 'number') {
      if (Number.isInteger(steps) && steps >= 1) this.out.steps = steps;
      else throw new ComfyParamsError(`${label} has steps = ${steps}, not a whole number from 1`);
    } else this.warn('steps', steps);
  }

  private readSeed(seed: number | string | Unresolved | undefined): void {
    const { out } = this;
    if (typeof seed === 'number') {
      // ComfyUI seeds go up to 2^64; past 2^53 JSON numbers lose digits, so the file's own are quoted.
      if (Number.isSafeInteger(seed) && seed >= 0) out.seed = seed;
      else {
        const digits = this.literals.get(seed) ?? String(seed);
        out.extra.seed = digits;
        out.warnings.push(`seed ${digits} is outside the range this app can reproduce (0 to 2^53 - 1)`);
      }
    } else this.warn('seed', seed);
  }

  private readSamplerName(samplerName: number | string | Unresolved | undefined, scheduler: number | string | Unresolved | undefined): void {
    const { out } = this;
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
  }

  private readDenoise(node: GraphNode, label: string): void {
    const denoise = this.scalar(node, 'denoise', 'number');
    if (typeof denoise === 'number') {
      if (!(denoise >= 0 && denoise <= 1)) throw new ComfyParamsError(`${label} has denoise = ${denoise}, not from 0 to 1`);
      if (denoise < 1) this.out.strength = denoise;
    } else if (denoise !== undefined) this.warn('denoise', denoise);
  }

  /** Steps, schedule and denoise from the node making a custom sampler's sigmas. */
  private readSigmas(node: GraphNode, samplerName: number | string | Unresolved | undefined): void {
    const label = `${node.class_type} "${node.id}"`;
    if (!node.inputs.has('steps')) {
      this.out.warnings.push(`steps not read: the sigmas come from ${node.class_type} node "${node.id}", which holds no step count`);
      this.readSamplerName(samplerName, 'normal');
      return;
    }
    this.readSteps(node, label);
    let scheduler: number | string | Unresolved | undefined = 'normal';
    if (node.inputs.has('scheduler')) scheduler = this.scalar(node, 'scheduler', 'string');
    else if (node.class_type === 'KarrasScheduler') scheduler = 'karras';
    else this.out.warnings.push(`the noise schedule of ${node.class_type} node "${node.id}" is not one this app has; the sampler's default is used`);
    this.readSamplerName(samplerName, scheduler);
    this.readDenoise(node, label);
  }

  private readPrompts(node: GraphNode): void {
    for (const [input, field] of [
      ['positive', 'prompt'],
      ['negative', 'negative_prompt'],
    ] as const) {
      const text = this.promptText(this.link(node, input), 0);
      if (typeof text === 'string') this.out[field] = text;
      else this.warn(`${input} prompt`, text);
    }
  }

  /** The sampler to read: the first pass (latent from an empty-latent node) if there are several. */
  private pickSampler(): GraphNode {
    const samplers = [...this.nodes.values()].filter((n) => SAMPLER_CLASSES.has(n.class_type));
    if (samplers.length === 0) {
      throw new ComfyParamsError('the graph has no KSampler node (nor SamplerCustom / SamplerCustomAdvanced), so there are no sampling parameters to read');
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
      if (typeof text === 'string') this.noteClip(node);
      if (typeof text === 'string' || text instanceof Unresolved) return text;
    }
    if (node.inputs.has('conditioning')) {
      this.noteConditioning(node);
      return this.promptText(this.link(node, 'conditioning'), depth + 1);
    }
    // ControlNetApplyAdvanced and friends pass both prompts: output 0 positive, 1 negative.
    if (node.inputs.has('positive') && node.inputs.has('negative') && output <= 1) {
      this.noteConditioning(node);
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
    if (!node.inputs.has('width') || !node.inputs.has('height') || node.inputs.has('samples') || node.inputs.has('pixels')) {
      this.noteLatentSource(node);
      return;
    }
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
    if (!node.inputs.has('model')) return undefined;
    this.noteModelPatch(node);
    return this.modelName(this.link(node, 'model'), depth + 1);
  }

  /** A number input as it stands (not followed), for a note. */
  private plainNumber(node: GraphNode, input: string): number | undefined {
    const value = node.inputs.get(input);
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  }

  /** A string input as it stands, else a one-step-linked loader's value of that name, for a note. */
  private plainName(node: GraphNode, input: string): string | undefined {
    const value = node.inputs.get(input);
    return typeof value === 'string' ? value : undefined;
  }

  private once(node: GraphNode): boolean {
    if (this.noted.has(node.id)) return false;
    this.noted.add(node.id);
    return true;
  }

  /** A LoRA or hypernetwork loader: named, with its strengths. */
  private noteNetwork(node: GraphNode): boolean {
    const lora = this.plainName(node, 'lora_name');
    const hyper = this.plainName(node, 'hypernetwork_name');
    if (lora === undefined && hyper === undefined) return false;
    if (!this.once(node)) return true;
    const where = `${node.class_type} node "${node.id}"`;
    if (lora !== undefined) {
      const strengths = [
        ['model', this.plainNumber(node, 'strength_model')],
        ['clip', this.plainNumber(node, 'strength_clip')],
      ]
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `strength ${k} ${v}`);
      this.out.warnings.push(`LoRA "${lora}" (${[where, ...strengths].join(', ')}) is not applied`);
    } else {
      const strength = this.plainNumber(node, 'strength');
      this.out.warnings.push(`hypernetwork "${hyper}" (${where}${strength !== undefined ? `, strength ${strength}` : ''}) is not applied`);
    }
    return true;
  }

  /** A node between the checkpoint and the sampler: a LoRA, a hypernetwork, or another patch. */
  private noteModelPatch(node: GraphNode): void {
    if (this.noteNetwork(node) || !this.once(node)) return;
    this.out.warnings.push(`${node.class_type} node "${node.id}" changes the model, which is not applied`);
  }

  /** LoRAs and CLIP skip between a text encoder and the checkpoint (the clip link). */
  private noteClip(encoder: GraphNode): void {
    let node = encoder;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const clip = node.inputs.get('clip');
      if (!isLink(clip)) return;
      const next = this.nodes.get(String(clip[0]));
      if (!next) return;
      node = next;
      if (this.noteNetwork(node)) continue;
      const layer = this.plainNumber(node, 'stop_at_clip_layer');
      if (layer !== undefined && this.once(node) && layer !== -1) {
        this.out.warnings.push(`CLIP skip (stop at layer ${layer}, ${node.class_type} node "${node.id}") is not a setting this app has`);
      }
    }
  }

  /** A node that changes a prompt's conditioning: a ControlNet (named), Flux guidance, or another. */
  private noteConditioning(node: GraphNode): void {
    if (!this.once(node)) return;
    const where = `${node.class_type} node "${node.id}"`;
    const control = node.inputs.get('control_net');
    if (control !== undefined) {
      const loader = isLink(control) ? this.nodes.get(String(control[0])) : undefined;
      const name = loader ? this.plainName(loader, 'control_net_name') : undefined;
      const strength = this.plainNumber(node, 'strength');
      const image = this.imageName(node.inputs.get('image'));
      const details = [where, strength !== undefined ? `strength ${strength}` : undefined, image !== undefined ? `image "${image}"` : undefined].filter(Boolean);
      this.out.warnings.push(`ControlNet${name !== undefined ? ` "${name}"` : ''} (${details.join(', ')}) is not applied`);
      return;
    }
    const guidance = this.plainNumber(node, 'guidance');
    if (node.class_type === 'FluxGuidance' && guidance !== undefined) {
      this.out.warnings.push(`Flux guidance ${guidance} (${where}) is not a setting this app has`);
      return;
    }
    const image = this.imageName(node.inputs.get('pixels') ?? node.inputs.get('image'));
    this.out.warnings.push(`${where}${image !== undefined ? ` (image "${image}")` : ''} changes the prompt's conditioning, which is not applied`);
  }

  /** The file name of the LoadImage node an image input comes from, through image filters (Canny …). */
  private imageName(value: unknown): string | undefined {
    let link = value;
    for (let depth = 0; depth < MAX_DEPTH && isLink(link); depth++) {
      const source = this.nodes.get(String(link[0]));
      if (!source) return undefined;
      const name = this.plainName(source, 'image');
      if (name !== undefined) return name;
      link = source.inputs.get('image') ?? source.inputs.get('pixels');
    }
    return undefined;
  }

  /** A sampler's latent that is not an empty one: img2img (an encoded image) or another pass. */
  private noteLatentSource(node: GraphNode): void {
    if (!this.once(node)) return;
    const where = `${node.class_type} node "${node.id}"`;
    if (node.inputs.has('pixels')) {
      const image = this.imageName(node.inputs.get('pixels'));
      this.out.warnings.push(`img2img: sampling starts from ${image !== undefined ? `image "${image}"` : 'an image'} encoded by ${where}, which is not loaded here`);
    } else {
      this.out.warnings.push(`sampling starts from the latent of ${where}, not an empty latent; it is read as text-to-image`);
    }
  }

  private warn(what: string, why: Unresolved | string | number | undefined): void {
    if (why instanceof Unresolved) this.out.warnings.push(`${what} not read: ${why.why}`);
    else if (why === undefined) this.out.warnings.push(`${what} not read: the sampler has no such input`);
  }
}
