/**
 * Real SD 1.5 LoRA key lists (test/fixtures/lora/real-keys/*.json: tensor names published in
 * Apache-2.0 projects, each file naming its source) against the full-size SD 1.5 graphs the studio
 * builds from a checkpoint. Header only: every listed tensor is handed to the studio's own LoRA
 * reader with a stand-in rank-1 shape (the lists carry names, not shapes), and each module it reads
 * must resolve to a weight in the built UNet or text encoder whose shape is the one SD 1.5's
 * architecture gives that module (channels 320/640/1280, context 768, CLIP width 768).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { moduleIndex, readLoraModules, resolveModule, type LoraModule, type LoraTensorInfo, type ModuleIndex } from '../../../src/pipeline/diffusion/lora';
import { buildTextEncoder, buildUnet, fileLocation } from '../../../src/registry/checkpoint/build';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { encodeModel } from '../../../src/registry/convert/onnx-build';
import { findWeightTargets, type GraphWeights } from '../../../src/registry/lora';
import { headerOf, ldmTensorSpecs, SD15 } from '../../fixtures/ldm-checkpoint';

const KEYS = fileURLToPath(new URL('../../fixtures/lora/real-keys/', import.meta.url));

interface KeyList {
  source: string;
  note: string;
  keys: string[];
}

const lists = readdirSync(KEYS)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(join(KEYS, f), 'utf8')) as KeyList] as const);

/** The list as a header: rank-1 matrices, alphas as scalars; the reader sees names and ranks only. */
async function modulesOf(keys: readonly string[]): Promise<LoraModule[]> {
  const tensors: LoraTensorInfo[] = keys.map((name) => ({ name, dtype: 'F32', shape: name.endsWith('.alpha') ? [] : [1, 1] }));
  return readLoraModules({ tensors, read: async () => new Uint8Array(4) });
}

/** [out, in] of an SD 1.5 module from its kohya stem, or undefined for a module SD 1.5 LoRAs do not adapt. */
function sd15Shape(component: string, stem: string): [number, number] | undefined {
  if (component === 'text_encoder') {
    const m = /^text_model_encoder_layers_\d+_(self_attn_(?:q|k|v|out)_proj|mlp_fc1|mlp_fc2)$/.exec(stem);
    if (!m) return undefined;
    return m[1] === 'mlp_fc1' ? [3072, 768] : m[1] === 'mlp_fc2' ? [768, 3072] : [768, 768];
  }
  const block = /^(?:down_blocks_(\d)|up_blocks_(\d)|mid_block)_attentions_\d_(.+)$/.exec(stem);
  if (!block) return undefined;
  const c = block[1] !== undefined ? [320, 640, 1280][Number(block[1])] : block[2] !== undefined ? [1280, 1280, 640, 320][Number(block[2])] : 1280;
  const rest = block[3];
  if (rest === 'proj_in' || rest === 'proj_out') return [c, c];
  const t = /^transformer_blocks_0_(.+)$/.exec(rest)?.[1];
  if (t === 'attn2_to_k' || t === 'attn2_to_v') return [c, 768];
  if (t && /^attn[12]_to_(q|k|v|out_0)$/.test(t)) return [c, c];
  if (t === 'ff_net_0_proj') return [8 * c, c];
  if (t === 'ff_net_2') return [c, 4 * c];
  return undefined;
}

/** The graphs are built once, on first use. */
let graphs: { unet: GraphWeights; text: GraphWeights; indexes: Record<'unet' | 'text_encoder', ModuleIndex> } | undefined;
function sd15Graphs() {
  if (!graphs) {
    const plan = planCheckpoint(headerOf(ldmTensorSpecs(SD15, 'F16')), 'model.safetensors');
    const locate = fileLocation('model.safetensors', 8);
    const unet = findWeightTargets(encodeModel(buildUnet(plan, { locate }).model));
    const text = findWeightTargets(encodeModel(buildTextEncoder(plan, { locate }).model));
    graphs = { unet, text, indexes: { unet: moduleIndex(unet.targets.keys()), text_encoder: moduleIndex(text.targets.keys()) } };
  }
  return graphs;
}

/** Why a module does not land, or null when it finds a weight of its SD 1.5 shape. */
function miss(module: LoraModule): string | null {
  const g = sd15Graphs();
  if (module.component === 'text_encoder_2') return 'an SDXL second text encoder module';
  const path = resolveModule(module, g.indexes[module.component]);
  if (!path) return 'no module of that name in the graph';
  const target = (module.component === 'unet' ? g.unet : g.text).targets.get(path);
  if (!target) return `${path} has no patchable weight`;
  const expected = sd15Shape(module.component, module.key);
  const count = target.dims.reduce((p, d) => p * d, 1);
  if (!expected) return `${path} [${target.dims}] is no module SD 1.5 LoRAs adapt`;
  const [out, inp] = expected;
  return target.dims[0] === out && count === out * inp ? null : `${path} is [${target.dims}], SD 1.5 gives [${out}, ${inp}]`;
}

describe('real SD 1.5 LoRA key lists against the full-size SD 1.5 graphs', () => {
  it('has the stored lists', () => {
    expect(lists.map(([f]) => f)).toEqual(expect.arrayContaining(['sd15-civitai-kohya.json', 'sd15-webui-ppdiffusers.json']));
    for (const [f, list] of lists) {
      expect(list.source, f).toMatch(/@[0-9a-f]{40}:.+\((Apache-2\.0|MIT|BSD[^)]*)\)$/);
      expect(new Set(list.keys).size, `${f}: duplicate keys`).toBe(list.keys.length);
    }
  });

  for (const [file, list] of lists) {
    it(`${file}: ≥ 99% of the UNet's and of the text encoder's modules find a weight of their SD 1.5 shape`, async () => {
      const modules = await modulesOf(list.keys);
      const summary: string[] = [];
      for (const component of ['unet', 'text_encoder'] as const) {
        const mine = modules.filter((m) => m.component === component);
        if (mine.length === 0) {
          summary.push(`${file} ${component}: none listed`);
          continue;
        }
        const misses = mine.flatMap((m) => {
          const why = miss(m);
          return why ? [`${m.key}: ${why}`] : [];
        });
        const hit = mine.length - misses.length;
        const figure = `${file} ${component}: ${hit}/${mine.length} modules = ${((100 * hit) / mine.length).toFixed(2)}%`;
        summary.push(figure);
        expect(hit / mine.length, `${figure}; unmatched: ${misses.join('; ')}`).toBeGreaterThanOrEqual(0.99);
        // Distinct modules land on distinct weights.
        const paths = mine.map((m) => resolveModule(m, sd15Graphs().indexes[component]));
        expect(new Set(paths).size, figure).toBe(mine.length);
      }
      console.info(summary.join('\n'));
      expect(modules.every((m) => m.naming === 'kohya' && m.kind === 'linear')).toBe(true);
    });
  }

  it('the check can fail: modules SD 1.5 has not, or of another family, are counted as misses with a reason', async () => {
    const bogus = await modulesOf([
      'lora_unet_up_blocks_0_attentions_0_proj_in.lora_down.weight', // up level 0 has no attention in SD 1.5
      'lora_unet_up_blocks_0_attentions_0_proj_in.lora_up.weight',
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight', // exists, but no transformer Linear
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight',
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', // SDXL's second text encoder
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight',
    ]);
    expect(bogus.map(miss)).toEqual([
      'no module of that name in the graph',
      expect.stringMatching(/^down_blocks\.0\.resnets\.0\.conv1 \[.+\] is no module SD 1\.5 LoRAs adapt$/),
      'an SDXL second text encoder module',
    ]);
  });

  it('the lists hold what their sources say: 160 UNet modules (scepter), 192 UNet + 72 text-encoder modules (ppdiffusers)', async () => {
    const count = async (f: string) => {
      const list = lists.find(([name]) => name === f)?.[1];
      const modules = await modulesOf(list?.keys ?? []);
      return [modules.filter((m) => m.component === 'unet').length, modules.filter((m) => m.component === 'text_encoder').length];
    };
    expect(await count('sd15-civitai-kohya.json')).toEqual([160, 0]);
    expect(await count('sd15-webui-ppdiffusers.json')).toEqual([192, 72]);
  });
});
