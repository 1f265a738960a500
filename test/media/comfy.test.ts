// @vitest-environment node
/**
 * ComfyUI `prompt` chunk (API-format graph). The graphs are hand-made in the shape ComfyUI
 * writes (node ids as strings, links as [id, output], extra keys such as `_meta` on nodes),
 * modelled on its default text-to-image workflow and common variations.
 */
import { describe, expect, it } from 'vitest';
import { ComfyParamsError, readComfyPrompt } from '../../src/media/comfy';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks, readPngTextChunks } from '../../src/media/png-text';
import { createRgbaImage } from '../../src/pipeline/image/rgba';

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }>;

/** ComfyUI's default workflow, as the API format stores it. */
function defaultGraph(): Graph {
  return {
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: 156680208700286,
        steps: 20,
        cfg: 8,
        sampler_name: 'dpmpp_2m',
        scheduler: 'karras',
        denoise: 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
      },
      _meta: { title: 'KSampler' },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 768, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'beautiful scenery, glass bottle, "galaxy": purple', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
  };
}

const read = (graph: unknown) => readComfyPrompt(JSON.stringify(graph));

function errorOf(fn: () => unknown): ComfyParamsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ComfyParamsError);
    expect((e as Error).message).toMatch(/^could not read ComfyUI parameters: /);
    return e as ComfyParamsError;
  }
  throw new Error('expected a ComfyParamsError');
}

describe('readComfyPrompt', () => {
  it('reads the default workflow by following the KSampler links', () => {
    expect(read(defaultGraph())).toEqual({
      prompt: 'beautiful scenery, glass bottle, "galaxy": purple',
      negative_prompt: 'text, watermark',
      steps: 20,
      guidance_scale: 8,
      seed: 156680208700286,
      width: 512,
      height: 768,
      scheduler: 'dpmpp_2m',
      karras: true,
      model: 'v1-5-pruned-emaonly.safetensors',
      extra: {},
      warnings: [],
    });
  });

  it('maps ComfyUI sampler names, including the "sample_" names of early versions', () => {
    const cases: Array<[string, string, string, boolean]> = [
      ['euler', 'normal', 'euler', false],
      ['euler_ancestral', 'karras', 'euler_a', true],
      ['ddim', 'normal', 'ddim', false],
      ['lcm', 'normal', 'lcm', false],
      ['sample_dpmpp_2m', 'normal', 'dpmpp_2m', false],
    ];
    for (const [sampler_name, scheduler, ours, karras] of cases) {
      const graph = defaultGraph();
      Object.assign(graph['3'].inputs, { sampler_name, scheduler });
      expect(read(graph)).toMatchObject({ scheduler: ours, karras, warnings: [] });
    }
  });

  it('reads img2img: strength from denoise, no size from a VAEEncode latent', () => {
    const graph = defaultGraph();
    graph['3'].inputs.denoise = 0.6;
    graph['3'].inputs.latent_image = ['12', 0];
    graph['10'] = { class_type: 'LoadImage', inputs: { image: 'photo.png', upload: 'image' } };
    graph['12'] = { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } };
    const params = read(graph);
    // The input image is named: the img2img cannot be redone without it.
    expect(params).toMatchObject({
      strength: 0.6,
      warnings: ['img2img: sampling starts from image "photo.png" encoded by VAEEncode node "12", which is not loaded here'],
    });
    expect(params).not.toHaveProperty('width');
  });

  it('follows the model through LoRA loaders, and prompts through ControlNet and unCLIP nodes', () => {
    const graph = defaultGraph();
    graph['3'].inputs.model = ['11', 0];
    graph['3'].inputs.positive = ['21', 0];
    graph['3'].inputs.negative = ['21', 1];
    graph['10'] = { class_type: 'LoraLoader', inputs: { lora_name: 'a.safetensors', strength_model: 1, model: ['4', 0], clip: ['4', 1] } };
    graph['11'] = { class_type: 'LoraLoader', inputs: { lora_name: 'b.safetensors', strength_model: 0.5, model: ['10', 0], clip: ['10', 1] } };
    graph['20'] = { class_type: 'unCLIPConditioning', inputs: { strength: 1, conditioning: ['6', 0], clip_vision_output: ['30', 0] } };
    graph['21'] = {
      class_type: 'ControlNetApplyAdvanced',
      inputs: { positive: ['20', 0], negative: ['7', 0], control_net: ['31', 0], image: ['32', 0], strength: 1 },
    };
    graph['31'] = { class_type: 'ControlNetLoader', inputs: { control_net_name: 'control_v11p_sd15_canny.pth' } };
    graph['32'] = { class_type: 'LoadImage', inputs: { image: 'edges.png', upload: 'image' } };
    expect(read(graph)).toMatchObject({
      prompt: 'beautiful scenery, glass bottle, "galaxy": purple',
      negative_prompt: 'text, watermark',
      model: 'v1-5-pruned-emaonly.safetensors',
      // Walked through, and each one named: none of them is applied.
      warnings: [
        'ControlNet "control_v11p_sd15_canny.pth" (ControlNetApplyAdvanced node "21", strength 1, image "edges.png") is not applied',
        'unCLIPConditioning node "20" changes the prompt\'s conditioning, which is not applied',
        'LoRA "b.safetensors" (LoraLoader node "11", strength model 0.5) is not applied',
        'LoRA "a.safetensors" (LoraLoader node "10", strength model 1) is not applied',
      ],
    });
  });

  it('reads values linked from primitive nodes, and SDXL text encoders', () => {
    const graph = defaultGraph();
    graph['3'].inputs.seed = ['40', 0];
    graph['3'].inputs.steps = ['41', 0];
    graph['6'] = { class_type: 'CLIPTextEncodeSDXL', inputs: { text_g: ['42', 0], text_l: 'ignored', width: 1024, height: 1024, clip: ['4', 1] } };
    graph['40'] = { class_type: 'Seed (rgthree)', inputs: { seed: 42 } };
    graph['41'] = { class_type: 'PrimitiveInt', inputs: { value: 30 } };
    graph['42'] = { class_type: 'PrimitiveString', inputs: { value: 'a lighthouse' } };
    expect(read(graph)).toMatchObject({ seed: 42, steps: 30, prompt: 'a lighthouse', warnings: [] });
  });

  it('reads KSamplerAdvanced (noise_seed, no denoise)', () => {
    const graph = defaultGraph();
    const { seed, denoise: _d, ...rest } = graph['3'].inputs;
    graph['3'] = {
      class_type: 'KSamplerAdvanced',
      inputs: { ...rest, noise_seed: seed, add_noise: 'enable', start_at_step: 0, end_at_step: 10000, return_with_leftover_noise: 'disable' },
    };
    expect(read(graph)).toMatchObject({ seed: 156680208700286, steps: 20, scheduler: 'dpmpp_2m', warnings: [] });
  });

  it('picks the first pass when there are several samplers (hires fix)', () => {
    const graph = defaultGraph();
    graph['10'] = {
      class_type: 'LatentUpscale',
      inputs: { upscale_method: 'nearest-exact', width: 1024, height: 1536, crop: 'disabled', samples: ['3', 0] },
    };
    // Given a lower id than the first pass on purpose.
    graph['1'] = {
      class_type: 'KSampler',
      inputs: { ...graph['3'].inputs, seed: 1, steps: 12, denoise: 0.5, latent_image: ['10', 0] },
    };
    const params = read(graph);
    expect(params).toMatchObject({ seed: 156680208700286, steps: 20, width: 512, height: 768 });
    expect(params.strength).toBeUndefined();
    expect(params.warnings).toEqual(['the graph has 2 samplers; read KSampler "3" (the first pass)']);
  });

  it('gives what it can, with warnings, for graphs using what this app lacks', () => {
    const graph = defaultGraph();
    Object.assign(graph['3'].inputs, { sampler_name: 'dpmpp_sde', scheduler: 'exponential', seed: 2 ** 60, positive: ['10', 0], cfg: ['50', 0] });
    graph['10'] = { class_type: 'ConditioningCombine', inputs: { conditioning_1: ['6', 0], conditioning_2: ['7', 0] } };
    graph['50'] = { class_type: 'SomeCustomNode', inputs: { a: 1, b: 2 } };
    const params = read(graph);
    expect(params).toEqual({
      negative_prompt: 'text, watermark',
      steps: 20,
      width: 512,
      height: 768,
      model: 'v1-5-pruned-emaonly.safetensors',
      // JSON numbers past 2^53 lose digits as JSON.parse reads them; the text shows what is left.
      extra: { seed: '1152921504606847000', sampler_name: 'dpmpp_sde', scheduler: 'exponential' },
      warnings: [
        'CFG not read: it comes from SomeCustomNode node "50", whose value is not stored in the file',
        'seed 1152921504606847000 is outside the range this app can reproduce (0 to 2^53 - 1)',
        'sampler "dpmpp_sde" is not one this app has (euler, euler_ancestral, ddim, dpmpp_2m, lcm)',
        'scheduler "exponential" is not one this app has (normal, karras); the sampler\'s default is used',
        'positive prompt not read: it combines several prompts (ConditioningCombine node "10")',
      ],
    });
  });

  it('reads the graph from a PNG prompt chunk', () => {
    const png = encodePng(createRgbaImage(4, 4, new Uint8ClampedArray(64).fill(1)));
    const graph = defaultGraph();
    graph['6'].inputs.text = '桜の木, cherry blossoms';
    const withChunks = addPngTextChunks(png, [
      { keyword: 'prompt', text: JSON.stringify(graph) },
      { keyword: 'workflow', text: '{"nodes": []}' },
    ]);
    const chunk = readPngTextChunks(withChunks).find((c) => c.keyword === 'prompt')!;
    expect(readComfyPrompt(chunk.text)).toMatchObject({ prompt: '桜の木, cherry blossoms', steps: 20 });
  });
});

describe('readComfyPrompt refuses malformed graphs with clear messages', () => {
  const mutate = (change: (g: Graph) => void) => {
    const graph = defaultGraph();
    change(graph);
    return graph;
  };

  it.each([
    ['not JSON', '{"3": ', /the graph is not valid JSON/],
    ['a JSON array', '[1, 2]', /the graph is not a JSON object of nodes/],
    ['JSON null', 'null', /the graph is not a JSON object of nodes/],
    ['a JSON string', '"KSampler"', /the graph is not a JSON object of nodes/],
    ['an empty graph', '{}', /the graph has no KSampler node/],
  ])('%s', (_name, json, message) => {
    expect(errorOf(() => readComfyPrompt(json)).message).toMatch(message);
  });

  it.each([
    ['a node that is not an object', (g: Graph) => ((g as Record<string, unknown>)['7'] = 5), /node "7" is not a ComfyUI node/],
    ['a node without class_type', (g: Graph) => delete (g['7'] as Partial<Graph[string]>).class_type, /node "7" is not a ComfyUI node: .*\(class_type\)/],
    ['inputs that are a list', (g: Graph) => ((g['5'] as { inputs: unknown }).inputs = [512, 512]), /node "5" is not a ComfyUI node: .*\(inputs\)/],
    ['a link to a missing node', (g: Graph) => (g['3'].inputs.positive = ['99', 0]), /KSampler "3" input "positive" links to node "99", which is not in the graph/],
    ['a link to "__proto__"', (g: Graph) => (g['3'].inputs.negative = ['__proto__', 0]), /links to node "__proto__", which is not in the graph/],
    ['a prompt that is not a link', (g: Graph) => (g['3'].inputs.positive = 'a cat'), /input "positive" should be a link to another node; found "a cat"/],
    ['a missing latent link', (g: Graph) => delete g['3'].inputs.latent_image, /input "latent_image" should be a link to another node; it is missing/],
    ['a malformed link', (g: Graph) => (g['3'].inputs.model = ['4', -1]), /input "model" should be a link/],
    ['steps as text', (g: Graph) => (g['3'].inputs.steps = '20'), /KSampler "3" input "steps" should be a number; found "20"/],
    ['fractional steps', (g: Graph) => (g['3'].inputs.steps = 2.5), /has steps = 2.5, not a whole number from 1/],
    ['denoise out of range', (g: Graph) => (g['3'].inputs.denoise = 5), /has denoise = 5, not from 0 to 1/],
    ['a prompt that is a number', (g: Graph) => (g['6'].inputs.text = 42), /CLIPTextEncode "6" input "text" should be a string; found 42/],
    ['a size of zero', (g: Graph) => (g['5'].inputs.width = 0), /EmptyLatentImage "5" has size 0×768/],
    ['a cycle of links', (g: Graph) => {
      g['3'].inputs.positive = ['60', 0];
      g['60'] = { class_type: 'ConditioningSetArea', inputs: { conditioning: ['61', 0] } };
      g['61'] = { class_type: 'ConditioningSetArea', inputs: { conditioning: ['60', 0] } };
    }, /deeper than 32 nodes \(a cycle\?\)/],
    ['a cycle of value links', (g: Graph) => {
      g['3'].inputs.seed = ['70', 0];
      g['70'] = { class_type: 'PrimitiveInt', inputs: { seed: ['70', 0] } };
    }, /deeper than 32 nodes/],
  ])('%s', (_name, change, message) => {
    expect(errorOf(() => read(mutate(change))).message).toMatch(message);
  });

  it('refuses a graph over the size cap before parsing it', () => {
    const json = JSON.stringify(defaultGraph());
    expect(errorOf(() => readComfyPrompt(json, { maxJsonChars: 100 })).message).toBe(
      `could not read ComfyUI parameters: the graph is ${json.length} characters long; the most accepted is 100`,
    );
    expect(errorOf(() => readComfyPrompt(' '.repeat(1024 * 1024 + 1))).message).toMatch(/the most accepted is 1048576/);
  });

  it('refuses deeply nested values without overflowing the stack', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const json = JSON.stringify(defaultGraph()).replace('"steps":20', `"steps":${deep}`);
    expect(errorOf(() => readComfyPrompt(json, { maxJsonChars: 1e6 })).message).toMatch(/"steps" should be a number; found a list of 1 item$/);
  });

  it('never throws anything but ComfyParamsError, whatever value is put wherever', () => {
    // A deterministic fuzz: replace one value anywhere in the graph with an odd one, 2000 times.
    let state = 12345;
    const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31) % n);
    const odd: unknown[] = [null, true, -1, 0, 1e308, '', 'x', [], {}, ['3', 0], ['4', 9], ['nope', 0], [1, 2, 3], { a: 1 }, '__proto__'];
    for (let i = 0; i < 2000; i++) {
      const graph = defaultGraph() as Record<string, unknown>;
      const ids = Object.keys(graph);
      const node = graph[ids[random(ids.length)]] as Record<string, unknown>;
      const inputs = node.inputs as Record<string, unknown>;
      const keys = Object.keys(inputs);
      const value = odd[random(odd.length)];
      if (random(5) === 0) node[random(2) ? 'class_type' : 'inputs'] = value;
      else inputs[keys[random(keys.length)]] = value;
      try {
        readComfyPrompt(JSON.stringify(graph));
      } catch (e) {
        expect(e).toBeInstanceOf(ComfyParamsError);
      }
    }
  });
});
