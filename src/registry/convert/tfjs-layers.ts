/**
 * Parser for TensorFlow.js *layers* models (`model.json` + weight shards) into a small typed
 * layer graph that `to-onnx.ts` can lower to ONNX.
 *
 * Deliberately narrow: it accepts exactly the Keras layers the bundled RDN upscalers use
 * (InputLayer, Conv2D, Activation, Concatenate, Add, UpSampling2D) and the options whose
 * semantics the ONNX lowering reproduces. Anything else is rejected with an error naming the
 * layer and the offending option, because a converter that silently ignores an option produces
 * a model that runs but computes something else.
 *
 * Pure TypeScript (no node:fs, no DOM): it takes the JSON text and the shard bytes, so it runs in
 * the CLI, in tests and, if ever needed, in the browser.
 */
import { z } from 'zod';
import { manifestShardPaths, readWeights, weightsManifestSchema } from './tfjs-weights';

/** A tensor in the graph is the output of the layer with the same name (one output per layer). */
interface LayerBase {
  name: string;
  /** Names of the layers feeding this one, in argument order. */
  inbound: string[];
  /** Channels of this layer's output (inferred while parsing, so shapes are checked early). */
  channels: number;
}

export type Activation = 'linear' | 'relu';

export type Layer =
  | (LayerBase & { kind: 'input' })
  | (LayerBase & {
      kind: 'conv2d';
      /** [kh, kw]; only odd sizes with 'same' padding (symmetric pads). */
      kernelSize: [number, number];
      padding: 'same' | 'valid';
      /**
       * Explicit [top, left, bottom, right] zero padding overriding `padding` (never from Keras;
       * the converter's sub-pixel rewrite uses it for its asymmetric per-phase kernels).
       */
      pads?: [number, number, number, number];
      activation: Activation;
      /** Keras layout HWIO: [kh, kw, in, out], row-major. */
      kernel: Float32Array;
      bias: Float32Array | null;
    })
  | (LayerBase & { kind: 'activation'; activation: Activation })
  /** Channel concatenation (Keras axis 3 / -1 in NHWC). */
  | (LayerBase & { kind: 'concat' })
  | (LayerBase & { kind: 'add' })
  /** Nearest-neighbour upsampling by an integer factor on both axes. */
  | (LayerBase & { kind: 'upsample'; scale: number })
  /**
   * Pixel shuffle (ONNX DepthToSpace, mode DCR): input channel (i·s + j)·C + c at (y, x) becomes
   * channel c at (s·y + i, s·x + j). Never parsed from Keras; made by the converter's sub-pixel
   * rewrite of nearest upsampling followed by a 'same' conv (`to-onnx.ts`).
   */
  | (LayerBase & { kind: 'depth_to_space'; scale: number });

export interface LayerGraph {
  name: string;
  /** Topological order: every layer comes after all of its inbound layers. */
  layers: Layer[];
  input: string;
  output: string;
}

// ---------------------------------------------------------------------------------------------
// model.json schema (only what we read; unknown keys are ignored by zod's default stripping)

/** One inbound connection: [layer name, node index, tensor index, kwargs]. */
const inboundRef = z.tuple([z.string(), z.number(), z.number()], z.unknown());

const layerSchema = z.object({
  class_name: z.string(),
  name: z.string(),
  config: z.record(z.string(), z.unknown()),
  /** Keras 2 format: a list of call sites, each a list of inbound references. */
  inbound_nodes: z.array(z.array(inboundRef)),
});

const modelJsonSchema = z.object({
  format: z.literal('layers-model'),
  modelTopology: z.object({
    model_config: z.object({
      class_name: z.enum(['Functional', 'Model']),
      config: z.object({
        name: z.string(),
        layers: z.array(layerSchema),
        input_layers: z.array(inboundRef),
        output_layers: z.array(inboundRef),
      }),
    }),
  }),
  weightsManifest: weightsManifestSchema,
});

export type LayersModelJson = z.infer<typeof modelJsonSchema>;

/** Validates `model.json` text (or an already parsed object) against the layers-model schema. */
export function parseModelJson(json: string | unknown): LayersModelJson {
  const raw = typeof json === 'string' ? JSON.parse(json) : json;
  const result = modelJsonSchema.safeParse(raw);
  if (!result.success) {
    throw new Error(`tfjs-layers: model.json is not a supported TF.js layers model: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** The shard file names, in manifest order, that `parseLayersModel` expects bytes for. */
export function weightShardPaths(json: string | unknown): string[] {
  return manifestShardPaths(parseModelJson(json).weightsManifest);
}

// ---------------------------------------------------------------------------------------------
// Per-layer config schemas. Values are read loosely (Keras writes tuples, hand-written JSON
// sometimes scalars) and then checked one by one so each rejection says exactly what is wrong.

const pair = z.union([z.number(), z.array(z.number())]).transform((v) => (Array.isArray(v) ? v : [v, v]));

const conv2dConfig = z.object({
  filters: z.number().int().positive(),
  kernel_size: pair,
  strides: pair.optional(),
  padding: z.string().optional(),
  data_format: z.string().nullable().optional(),
  dilation_rate: pair.optional(),
  groups: z.number().optional(),
  activation: z.string().nullable().optional(),
  use_bias: z.boolean().optional(),
});
const activationConfig = z.object({ activation: z.string() });
const concatConfig = z.object({ axis: z.number().optional() });
const upsampleConfig = z.object({
  size: pair.optional(),
  data_format: z.string().nullable().optional(),
  interpolation: z.string().optional(),
});
const inputConfig = z.object({
  batch_input_shape: z.array(z.number().nullable()),
  dtype: z.string().optional(),
});

function layerError(layer: { name: string; class_name: string }, message: string): Error {
  return new Error(`tfjs-layers: layer "${layer.name}" (${layer.class_name}): ${message}`);
}

function readConfig<T extends z.ZodType>(layer: z.infer<typeof layerSchema>, schema: T): z.infer<T> {
  const result = schema.safeParse(layer.config);
  if (!result.success) throw layerError(layer, `invalid config: ${z.prettifyError(result.error)}`);
  return result.data;
}

function checkActivation(layer: z.infer<typeof layerSchema>, value: string | null | undefined): Activation {
  const activation = value ?? 'linear';
  if (activation !== 'linear' && activation !== 'relu') {
    throw layerError(layer, `unsupported activation "${activation}" (supported: linear, relu)`);
  }
  return activation;
}

function checkChannelsLast(layer: z.infer<typeof layerSchema>, dataFormat: string | null | undefined): void {
  if (dataFormat != null && dataFormat !== 'channels_last') {
    throw layerError(layer, `unsupported data_format "${dataFormat}" (only channels_last)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Weights

interface Weight {
  shape: number[];
  data: Float32Array;
}

/**
 * The weights as float32 tensors (tfjs-weights.ts slices the shards). The layers this converter
 * lowers have float32 kernels and biases only, and the bundled upscalers are unquantized, so
 * anything else is refused rather than guessed at.
 */
function readFloatWeights(model: LayersModelJson, shards: Readonly<Record<string, ArrayBuffer>>): Map<string, Weight> {
  for (const entry of model.weightsManifest.flatMap((group) => group.weights)) {
    if (entry.quantization !== undefined) {
      throw new Error(`tfjs-layers: weight "${entry.name}" is quantized; only unquantized float32 weights are supported`);
    }
    if (entry.dtype !== 'float32') {
      throw new Error(`tfjs-layers: weight "${entry.name}" has dtype ${entry.dtype}; only float32 is supported`);
    }
  }
  const weights = new Map<string, Weight>();
  for (const [name, weight] of readWeights(model.weightsManifest, shards, 'tfjs-layers')) {
    if (weight.dtype === 'float32') weights.set(name, weight);
  }
  return weights;
}

// ---------------------------------------------------------------------------------------------
// Graph

/** Orders layers so inputs come first (Kahn's algorithm, stable w.r.t. the file's order). */
function topologicalOrder(layers: z.infer<typeof layerSchema>[], inboundOf: Map<string, string[]>): z.infer<typeof layerSchema>[] {
  const done = new Set<string>();
  const ordered: z.infer<typeof layerSchema>[] = [];
  let pending = layers;
  while (pending.length > 0) {
    const ready = pending.filter((layer) => inboundOf.get(layer.name)!.every((name) => done.has(name)));
    if (ready.length === 0) throw new Error(`tfjs-layers: the layer graph has a cycle involving "${pending[0].name}"`);
    for (const layer of ready) {
      ordered.push(layer);
      done.add(layer.name);
    }
    pending = pending.filter((layer) => !done.has(layer.name));
  }
  return ordered;
}

/**
 * Parses a TF.js layers model. `shards` maps each manifest path (see `weightShardPaths`) to its
 * bytes. Throws on anything the ONNX lowering could not reproduce exactly.
 */
export function parseLayersModel(json: string | unknown, shards: Readonly<Record<string, ArrayBuffer>>): LayerGraph {
  const model = parseModelJson(json);
  const config = model.modelTopology.model_config.config;
  const weights = readFloatWeights(model, shards);
  const usedWeights = new Set<string>();
  /** Takes a layer's weight by its Keras name, checking the shape the config implies. */
  function takeWeight(layer: z.infer<typeof layerSchema>, name: string, shape: number[]): Float32Array {
    const weight = weights.get(name);
    if (!weight) throw layerError(layer, `missing weight "${name}"`);
    if (weight.shape.join() !== shape.join()) {
      throw layerError(layer, `weight "${name}" has shape [${weight.shape}], expected [${shape}]`);
    }
    usedWeights.add(name);
    return weight.data;
  }

  // Each layer must be called exactly once (no shared layers) with plain single-tensor refs, so
  // a layer name identifies one tensor.
  const names = new Set(config.layers.map((layer) => layer.name));
  const inboundOf = new Map<string, string[]>();
  for (const layer of config.layers) {
    if (layer.inbound_nodes.length > 1) throw layerError(layer, 'shared layers (called more than once) are not supported');
    const refs = layer.inbound_nodes[0] ?? [];
    inboundOf.set(
      layer.name,
      refs.map(([name, nodeIndex, tensorIndex, kwargs]) => {
        if (!names.has(name)) throw layerError(layer, `inbound layer "${name}" does not exist`);
        if (nodeIndex !== 0 || tensorIndex !== 0) throw layerError(layer, `unsupported inbound reference [${name}, ${nodeIndex}, ${tensorIndex}]`);
        if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Object.keys(kwargs).length > 0)) {
          throw layerError(layer, `unsupported call arguments ${JSON.stringify(kwargs)}`);
        }
        return name;
      }),
    );
  }

  if (config.input_layers.length !== 1 || config.output_layers.length !== 1) {
    throw new Error('tfjs-layers: only models with exactly one input and one output are supported');
  }
  const [inputName] = config.input_layers[0];
  const [outputName] = config.output_layers[0];

  const channels = new Map<string, number>();
  const layers: Layer[] = [];
  for (const raw of topologicalOrder(config.layers, inboundOf)) {
    const inbound = inboundOf.get(raw.name)!;
    const inChannels = inbound.map((name) => channels.get(name)!);
    const expectInputs = (count: number | 'many') => {
      if (count === 'many' ? inbound.length < 2 : inbound.length !== count) {
        throw layerError(raw, `expected ${count === 'many' ? 'at least 2' : count} input(s), got ${inbound.length}`);
      }
    };
    let layer: Layer;
    switch (raw.class_name) {
      case 'InputLayer': {
        const cfg = readConfig(raw, inputConfig);
        expectInputs(0);
        const shape = cfg.batch_input_shape;
        if (cfg.dtype !== undefined && cfg.dtype !== 'float32') throw layerError(raw, `unsupported input dtype ${cfg.dtype}`);
        if (shape.length !== 4 || shape[3] == null) {
          throw layerError(raw, `expected an NHWC image input [batch, height, width, channels], got ${JSON.stringify(shape)}`);
        }
        layer = { kind: 'input', name: raw.name, inbound, channels: shape[3] };
        break;
      }
      case 'Conv2D': {
        const cfg = readConfig(raw, conv2dConfig);
        expectInputs(1);
        checkChannelsLast(raw, cfg.data_format);
        const [kh, kw] = cfg.kernel_size;
        const strides = cfg.strides ?? [1, 1];
        const dilation = cfg.dilation_rate ?? [1, 1];
        if (strides.some((s) => s !== 1)) throw layerError(raw, `unsupported strides ${JSON.stringify(strides)} (only 1)`);
        if (dilation.some((d) => d !== 1)) throw layerError(raw, `unsupported dilation_rate ${JSON.stringify(dilation)} (only 1)`);
        if ((cfg.groups ?? 1) !== 1) throw layerError(raw, `unsupported groups ${cfg.groups} (only 1)`);
        const padding = cfg.padding ?? 'valid';
        if (padding !== 'same' && padding !== 'valid') throw layerError(raw, `unsupported padding "${padding}" (same or valid)`);
        // Keras 'same' pads even kernels asymmetrically; only odd kernels map to symmetric pads.
        if (padding === 'same' && (kh % 2 === 0 || kw % 2 === 0)) {
          throw layerError(raw, `unsupported even kernel ${kh}x${kw} with padding "same"`);
        }
        const activation = checkActivation(raw, cfg.activation);

        const kernel = takeWeight(raw, `${raw.name}/kernel`, [kh, kw, inChannels[0], cfg.filters]);
        const useBias = cfg.use_bias ?? true;
        const bias = useBias ? takeWeight(raw, `${raw.name}/bias`, [cfg.filters]) : null;
        layer = { kind: 'conv2d', name: raw.name, inbound, channels: cfg.filters, kernelSize: [kh, kw], padding, activation, kernel, bias };
        break;
      }
      case 'Activation': {
        const cfg = readConfig(raw, activationConfig);
        expectInputs(1);
        layer = { kind: 'activation', name: raw.name, inbound, channels: inChannels[0], activation: checkActivation(raw, cfg.activation) };
        break;
      }
      case 'Concatenate': {
        const cfg = readConfig(raw, concatConfig);
        expectInputs('many');
        const axis = cfg.axis ?? -1;
        if (axis !== 3 && axis !== -1) throw layerError(raw, `unsupported concatenation axis ${axis} (only channels: 3 or -1)`);
        layer = { kind: 'concat', name: raw.name, inbound, channels: inChannels.reduce((a, b) => a + b, 0) };
        break;
      }
      case 'Add': {
        expectInputs('many');
        if (inChannels.some((c) => c !== inChannels[0])) throw layerError(raw, `inputs have different channel counts ${inChannels.join(', ')}`);
        layer = { kind: 'add', name: raw.name, inbound, channels: inChannels[0] };
        break;
      }
      case 'UpSampling2D': {
        const cfg = readConfig(raw, upsampleConfig);
        expectInputs(1);
        checkChannelsLast(raw, cfg.data_format);
        const interpolation = cfg.interpolation ?? 'nearest';
        if (interpolation !== 'nearest') throw layerError(raw, `unsupported interpolation "${interpolation}" (only nearest)`);
        const [sh, sw] = cfg.size ?? [2, 2];
        if (sh !== sw || !Number.isInteger(sh) || sh < 1) throw layerError(raw, `unsupported size ${JSON.stringify([sh, sw])} (equal positive integers only)`);
        layer = { kind: 'upsample', name: raw.name, inbound, channels: inChannels[0], scale: sh };
        break;
      }
      default:
        throw layerError(raw, 'unsupported layer class (supported: InputLayer, Conv2D, Activation, Concatenate, Add, UpSampling2D)');
    }
    if (raw.name === inputName && layer.kind !== 'input') throw layerError(raw, 'the model input must be an InputLayer');
    channels.set(layer.name, layer.channels);
    layers.push(layer);
  }

  const unused = [...weights.keys()].filter((name) => !usedWeights.has(name));
  if (unused.length > 0) throw new Error(`tfjs-layers: weights not used by any layer: ${unused.join(', ')}`);
  return { name: config.name, layers, input: inputName, output: outputName };
}
