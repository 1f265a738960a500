/**
 * What an ONNX file is, decided from its input/output signature (DESIGN.md §4) — never from its
 * file name, which users rename freely. A checkpoint's family and defaults are inferred in
 * family.ts.
 *
 * Tensor names are part of the signature: every common SD export (diffusers' script, optimum,
 * Olive, the onnxruntime-web SD-Turbo demo) uses diffusers' names (`sample`, `timestep`,
 * `encoder_hidden_states`, `latent_sample`, `input_ids`), and they are what tells a VAE encoder
 * (`sample` → latents) from an upscaler (image → image) when shapes are dynamic. Upscalers and
 * detectors have no common names, so they are recognised by shape alone.
 */
import type { ModelType, TensorSignature } from '../protocol/models';
import { yoloClassNames } from './detector-classes';
import type { OnnxInfo } from './onnx-inspect';

// Family inference moved to its own module; re-exported for code that imports it from here.
export { inferFamily, type FamilyEvidence } from './family';

export type Role = 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder' | 'upscaler' | 'detector' | 'unknown';

/** All classification needs: `inspectOnnx`'s result, or a hand-made signature in tests. */
export type SignatureInfo = Pick<OnnxInfo, 'inputs' | 'outputs'> & Partial<Pick<OnnxInfo, 'metadata'>>;

type Dim = number | string;
/** A static [height, width], or null when either is symbolic. */
type Size2 = [number, number] | null;

export interface TextEncoderDetails {
  /** Width of last_hidden_state: 768 (SD 1.x), 1024 (SD 2.x / Turbo), other, or null if symbolic. */
  hidden: number | null;
  /** Static sequence length (77 for CLIP exports frozen to shape), or null. */
  sequenceLength: number | null;
  idsType: string;
  output: string;
}

export interface UnetDetails {
  /** Channels of `sample`: 4, 9 (inpainting), other, or null if symbolic. */
  inChannels: number | null;
  inpainting: boolean;
  timestep: { type: string; shape: Dim[] };
  /** Width of encoder_hidden_states, or null if symbolic. */
  hidden: number | null;
  /** Static latent height × width, or null. */
  latentSize: Size2;
  /** Static batch (2 = frozen for classifier-free guidance), or null. */
  batch: number | null;
  /** Inputs beyond the three every SD UNet has (SDXL's text_embeds/time_ids, LCM's timestep_cond). */
  extraInputs: string[];
}

export interface VaeDecoderDetails {
  latentChannels: number | null;
  latentSize: Size2;
  batch: number | null;
  outChannels: number | null;
}

export interface VaeEncoderDetails {
  /** 4 = a latent sample, 8 = distribution parameters (mean first), null = symbolic. */
  outChannels: number | null;
  latentParameters: boolean;
  imageSize: Size2;
  batch: number | null;
  output: string;
}

export type Layout = 'NCHW' | 'NHWC';

export interface UpscalerDetails {
  input: string;
  output: string;
  channels: number;
  layout: Layout;
  /** Integer scale from static shapes (output / input), or null: the probe decides. */
  scale: number | null;
}

export interface DetectorDetails {
  input: string;
  inputType: string;
  layout: Layout;
  inputSize: Size2;
  /** blazeface: [1, N, 4+k] regressors + [1, N, 1] scores; yolo: [1, 4+k, N]; generic otherwise. */
  style: 'blazeface' | 'yolo' | 'generic';
  outputs: string[];
  /** YOLO: class names from the file's own metadata (Ultralytics `names`), when they fit its outputs. */
  classes?: string[];
}

interface Found<R extends Role, D> {
  role: R;
  details: D;
  /** One line for the UI: what the file is. */
  description: string;
  /** Set when the file is of this role but a variant the studio cannot run; says why. */
  unsupported?: string;
}

export type Classification =
  | Found<'text_encoder', TextEncoderDetails>
  | Found<'unet', UnetDetails>
  | Found<'vae_decoder', VaeDecoderDetails>
  | Found<'vae_encoder', VaeEncoderDetails>
  | Found<'upscaler', UpscalerDetails>
  | Found<'detector', DetectorDetails>
  | Found<'unknown', { signature: string }>;

// ---------------------------------------------------------------------------------------------
// Signature helpers

const FLOAT_TYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);
const isFloat = (s: TensorSignature) => FLOAT_TYPES.has(s.type);
const isIds = (s: TensorSignature) => s.type === 'int32' || s.type === 'int64';
const rank = (s: TensorSignature) => s.shape.length;
/** A dim's static size, or null for a symbolic one. */
const fixed = (d: Dim | undefined): number | null => (typeof d === 'number' ? d : null);
const symbolic = (d: Dim | undefined) => typeof d === 'string';
const named = (list: TensorSignature[], name: string) => list.find((s) => s.name === name);
const size2 = (h: Dim | undefined, w: Dim | undefined): Size2 => (typeof h === 'number' && typeof w === 'number' ? [h, w] : null);

const formatSig = (s: TensorSignature) => `${s.name} ${s.type} [${s.shape.join(', ')}]`;

/** "inputs: a float32 [1, 3, h, w]; outputs: …" — for messages about files we don't recognise. */
export function describeSignature(info: SignatureInfo): string {
  const list = (l: TensorSignature[]) => (l.length ? l.map(formatSig).join(', ') : 'none');
  return `inputs: ${list(info.inputs)}; outputs: ${list(info.outputs)}`;
}

/** Image channel counts an upscaler or detector may take: grey, RGB, RGBA. */
const IMAGE_CHANNELS = new Set([1, 3, 4]);

/** The channel axis of a rank-4 image tensor with static channels, or null. */
function imageLayout(s: TensorSignature): { layout: Layout; channels: number; h: Dim; w: Dim } | null {
  if (rank(s) !== 4) return null;
  const [, d1, d2, d3] = s.shape;
  if (typeof d1 === 'number' && IMAGE_CHANNELS.has(d1)) return { layout: 'NCHW', channels: d1, h: d2, w: d3 };
  if (typeof d3 === 'number' && IMAGE_CHANNELS.has(d3)) return { layout: 'NHWC', channels: d3, h: d1, w: d2 };
  return null;
}

// ---------------------------------------------------------------------------------------------
// Roles, most specific first

function textEncoder(info: SignatureInfo): Classification | null {
  const ints = info.inputs.filter((s) => isIds(s) && rank(s) === 2);
  const ids = ints.find((s) => s.name === 'input_ids') ?? (info.inputs.length === 1 ? ints[0] : undefined);
  const floats3 = info.outputs.filter((s) => isFloat(s) && rank(s) === 3);
  const hidden = floats3.find((s) => s.name === 'last_hidden_state') ?? floats3[0];
  if (!ids || !hidden) return null;
  const details: TextEncoderDetails = { hidden: fixed(hidden.shape[2]), sequenceLength: fixed(ids.shape[1]), idsType: ids.type, output: hidden.name };
  const width = details.hidden === 768 ? 'width 768 (SD 1.x)' : details.hidden === 1024 ? 'width 1024 (SD 2.x / Turbo)' : `width ${details.hidden ?? 'dynamic'}`;
  return { role: 'text_encoder', details, description: `Stable Diffusion text encoder, ${width}, ${ids.type} ids` };
}

function unet(info: SignatureInfo): Classification | null {
  const sample = named(info.inputs, 'sample');
  const timestep = named(info.inputs, 'timestep');
  const context = named(info.inputs, 'encoder_hidden_states');
  if (!sample || !timestep || !context || rank(sample) !== 4 || rank(context) !== 3) return null;
  if (!info.outputs.some((s) => rank(s) === 4)) return null;
  const channels = sample.shape[1];
  const details: UnetDetails = {
    inChannels: fixed(channels),
    inpainting: channels === 9,
    timestep: { type: timestep.type, shape: timestep.shape },
    hidden: fixed(context.shape[2]),
    latentSize: size2(sample.shape[2], sample.shape[3]),
    batch: fixed(sample.shape[0]),
    extraInputs: info.inputs.map((s) => s.name).filter((n) => !['sample', 'timestep', 'encoder_hidden_states'].includes(n)),
  };
  const found: Classification = {
    role: 'unet',
    details,
    description: `Stable Diffusion UNet, ${details.inpainting ? '9 input channels (inpainting)' : `${details.inChannels ?? 'dynamic'} input channels`}, context width ${details.hidden ?? 'dynamic'}`,
  };
  if (!(channels === 4 || channels === 9 || symbolic(channels))) {
    found.unsupported = `a UNet with ${channels} input channels (the studio runs 4-channel UNets and 9-channel inpainting UNets)`;
  } else if (details.extraInputs.length) {
    found.unsupported = `a UNet with extra inputs ${details.extraInputs.join(', ')} (SDXL or a guidance-embedded LCM export), which the studio does not feed`;
  }
  return found;
}

function vaeDecoder(info: SignatureInfo): Classification | null {
  const latent = named(info.inputs, 'latent_sample');
  const image = info.outputs.find((s) => rank(s) === 4);
  if (!latent || rank(latent) !== 4 || !image) return null;
  const out = image.shape[1];
  if (!(out === 3 || symbolic(out))) return null;
  const channels = latent.shape[1];
  const details: VaeDecoderDetails = { latentChannels: fixed(channels), latentSize: size2(latent.shape[2], latent.shape[3]), batch: fixed(latent.shape[0]), outChannels: fixed(out) };
  const found: Classification = { role: 'vae_decoder', details, description: `VAE decoder, ${details.latentChannels ?? 'dynamic'} latent channels` };
  if (!(channels === 4 || symbolic(channels))) found.unsupported = `a VAE decoder for ${channels}-channel latents (SD 1.x/2.x use 4; SD3 and Flux use 16)`;
  return found;
}

const LATENT_OUTPUT = /^latent/;

function vaeEncoder(info: SignatureInfo): Classification | null {
  if (info.inputs.length !== 1 || info.inputs[0].name !== 'sample') return null;
  const image = info.inputs[0];
  if (rank(image) !== 4 || !(image.shape[1] === 3 || symbolic(image.shape[1]))) return null;
  const latent = info.outputs.find((s) => rank(s) === 4);
  if (!latent) return null;
  const out = latent.shape[1];
  // 4 = a sampled latent, 8 = mean and log-variance; dynamic channels need a latent_* name.
  if (!(out === 4 || out === 8 || (symbolic(out) && LATENT_OUTPUT.test(latent.name)))) return null;
  const latentParameters = out === 8 || (symbolic(out) && /param|dist|moments/.test(latent.name));
  const details: VaeEncoderDetails = { outChannels: fixed(out), latentParameters, imageSize: size2(image.shape[2], image.shape[3]), batch: fixed(image.shape[0]), output: latent.name };
  return { role: 'vae_encoder', details, description: `VAE encoder → ${latentParameters ? 'latent distribution (mean, log-variance)' : 'latent sample'}` };
}

function upscaler(info: SignatureInfo): Classification | null {
  if (info.inputs.length !== 1 || info.outputs.length !== 1) return null;
  const [input] = info.inputs;
  const [output] = info.outputs;
  if (!isFloat(input) || !isFloat(output)) return null;
  // A lone VAE with unusual channels is not an upscaler.
  if (input.name === 'latent_sample' || LATENT_OUTPUT.test(output.name)) return null;
  const inImage = imageLayout(input);
  if (!inImage || rank(output) !== 4) return null;
  const outChannels = inImage.layout === 'NCHW' ? output.shape[1] : output.shape[3];
  if (!(outChannels === inImage.channels || symbolic(outChannels))) return null;
  const [oh, ow] = inImage.layout === 'NCHW' ? [output.shape[2], output.shape[3]] : [output.shape[1], output.shape[2]];
  let scale: number | null = null;
  if ([inImage.h, inImage.w, oh, ow].every((d) => typeof d === 'number')) {
    const sy = (oh as number) / (inImage.h as number);
    const sx = (ow as number) / (inImage.w as number);
    // Static shapes that don't give one integer scale ≥ 1 are something else (a resize to fixed size, a crop).
    if (sy !== sx || !Number.isInteger(sy) || sy < 1) return null;
    scale = sy;
  }
  const details: UpscalerDetails = { input: input.name, output: output.name, channels: inImage.channels, layout: inImage.layout, scale };
  return { role: 'upscaler', details, description: `image upscaler, ${scale ? `×${scale}` : 'scale decided by a probe run'}, ${inImage.channels} channels ${inImage.layout}` };
}

const DETECTION_NAMES = /box|bbox|score|class|regressor|detection|anchor|conf|landmark/i;

function detector(info: SignatureInfo): Classification | null {
  if (info.inputs.length !== 1 || info.outputs.length === 0) return null;
  const [input] = info.inputs;
  // Detectors take float or uint8 (TF object-detection exports) RGB images.
  const image = imageLayout(input);
  if (!image || image.channels !== 3 || !(isFloat(input) || input.type === 'uint8')) return null;

  const rank3 = info.outputs.filter((s) => rank(s) === 3);
  // BlazeFace / SSD: [1, anchors, 4+k] with anchors > 4+k; scores [1, anchors, 1].
  const perAnchor = rank3.filter((s) => {
    const [, n, k] = s.shape;
    return typeof k === 'number' && (typeof n !== 'number' || n > k);
  });
  // YOLO (v5u/v8 export): [1, 4+classes, anchors] with anchors > 4+classes.
  const yolo = rank3.filter((s) => {
    const [, k, n] = s.shape;
    return typeof k === 'number' && k >= 5 && (typeof n !== 'number' || n > k);
  });
  const boxes = perAnchor.some((s) => (s.shape[2] as number) >= 4);
  const byName = info.outputs.some((s) => DETECTION_NAMES.test(s.name));
  if (!boxes && !byName && yolo.length === 0) return null;

  const anchors = new Set(perAnchor.map((s) => s.shape[1]));
  const blazeface =
    (named(info.outputs, 'regressors') && named(info.outputs, 'classificators')) ||
    (perAnchor.length === 2 && anchors.size === 1 && perAnchor.some((s) => s.shape[2] === 1) && perAnchor.some((s) => (s.shape[2] as number) >= 4));
  const style: DetectorDetails['style'] = blazeface ? 'blazeface' : yolo.length && !boxes ? 'yolo' : 'generic';
  const details: DetectorDetails = { input: input.name, inputType: input.type, layout: image.layout, inputSize: size2(image.h, image.w), style, outputs: info.outputs.map((s) => s.name) };
  const rows = style === 'yolo' && info.outputs.length === 1 ? fixed(info.outputs[0].shape[1]) : null;
  // What the file itself says; the file name (which users rename) is only the probe's fallback.
  const classes = rows !== null ? yoloClassNames({ metadata: info.metadata, numClasses: rows - 4 }) : null;
  if (classes) details.classes = classes;
  const styleName = { blazeface: 'BlazeFace-style anchors', yolo: 'YOLO-style', generic: 'boxes and scores' }[style];
  const finds = classes ? `, finds ${classes.join(', ')}` : '';
  return { role: 'detector', details, description: `detector (${styleName}${finds}), input ${details.inputSize ? details.inputSize.join('×') : 'dynamic'} ${image.layout}` };
}

/** What an ONNX file is, from its signature; `unknown` carries the signature for the message. */
export function classifyOnnx(info: SignatureInfo): Classification {
  for (const test of [unet, textEncoder, vaeDecoder, vaeEncoder, upscaler, detector]) {
    const found = test(info);
    if (found) return found;
  }
  const signature = describeSignature(info);
  return { role: 'unknown', details: { signature }, description: `not a model the studio recognises (${signature})` };
}

// ---------------------------------------------------------------------------------------------
// Declared type vs what the file is

/** The user declared one type, the file's signature says another. */
export class ModelTypeMismatchError extends Error {
  override name = 'ModelTypeMismatchError';
  constructor(
    message: string,
    readonly found: Role,
    readonly declared: ModelType,
  ) {
    super(message);
  }
}

const ROLE_NAMES: Record<Role, string> = {
  text_encoder: 'a Stable Diffusion text encoder',
  unet: 'a Stable Diffusion UNet',
  vae_decoder: 'a VAE decoder',
  vae_encoder: 'a VAE encoder',
  upscaler: 'an upscaler',
  detector: 'a detector',
  unknown: 'not a model the studio recognises',
};

const TYPE_NAMES: Record<ModelType, string> = {
  checkpoint: 'a Stable Diffusion checkpoint',
  lora: 'a LoRA',
  embedding: 'a textual-inversion embedding',
  upscaler: 'an upscaler',
  detector: 'a detector',
};

const SD_COMPONENTS: ReadonlySet<Role> = new Set(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);

/**
 * Refuses (throws `ModelTypeMismatchError`) an ONNX file whose signature contradicts the type the
 * user declared, saying what it is and how to import it instead. For a checkpoint folder this is
 * called per ONNX file; an importer may skip unknown extras (a safety checker) before calling.
 */
export function checkDeclaredType(found: Role | Classification, declared: ModelType): void {
  const role = typeof found === 'string' ? found : found.role;
  const ok = declared === 'checkpoint' ? SD_COMPONENTS.has(role) : role === declared;
  if (ok) return;

  let message: string;
  if (role === 'unknown') {
    const signature = typeof found !== 'string' && found.role === 'unknown' ? ` (${found.details.signature})` : '';
    message = `this file is not ${TYPE_NAMES[declared]}: the studio does not recognise its signature${signature}`;
  } else if (SD_COMPONENTS.has(role)) {
    message = `this file is ${ROLE_NAMES[role]}, not ${TYPE_NAMES[declared]}; import the whole model folder as a checkpoint`;
  } else if (declared === 'checkpoint') {
    message = `this file is ${ROLE_NAMES[role]}, not part of ${TYPE_NAMES[declared]}; import it as ${ROLE_NAMES[role]}`;
  } else {
    message = `this file is ${ROLE_NAMES[role]}, not ${TYPE_NAMES[declared]}; import it as ${ROLE_NAMES[role]}`;
  }
  throw new ModelTypeMismatchError(message, role, declared);
}
