/**
 * A LoRA module's name → the module path of the model it adapts (diffusers' paths, which the
 * exported graphs name their nodes by: `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`,
 * `text_model.encoder.layers.0.self_attn.q_proj`).
 *
 * kohya names are paths with every dot turned into an underscore, which cannot be turned back
 * (`to_out_0`, `transformer_blocks`), so they are matched the other way round: the model's own
 * paths are turned into underscores and looked up. kohya files for SD 1.x/2.x use diffusers paths;
 * some trainers write the UNet's LDM paths (`input_blocks_1_1_…`, `middle_block_1_…`,
 * `output_blocks_…`), which are mapped here by block arithmetic: LDM numbers its UNet blocks flat,
 * diffusers by level and layer (diffusers' single-file conversion; ldm-keys.ts maps a checkpoint's
 * keys the same way, and the tests check the two against each other). The layout (layers per level,
 * which up levels have attention) is read from the model's own paths, so nothing depends on a
 * family table.
 */
import type { LoraModule } from './file';

export interface ModuleIndex {
  /** The model's module paths. */
  paths: ReadonlySet<string>;
  /** Underscore form → path; null where two paths share one form (never matched). */
  underscored: ReadonlyMap<string, string | null>;
  /** The UNet's block layout, when the paths are a UNet's. */
  unet: UnetLayout | null;
}

export interface UnetLayout {
  /** ResNets per down level (the up levels have one more). */
  layers: number;
  levels: number;
  /** Whether up level u (diffusers' order) has attentions. */
  upAttention: boolean[];
}

export function moduleIndex(paths: Iterable<string>): ModuleIndex {
  const set = new Set(paths);
  const underscored = new Map<string, string | null>();
  for (const p of set) {
    const u = underscore(p);
    underscored.set(u, underscored.has(u) && underscored.get(u) !== p ? null : p);
  }
  return { paths: set, underscored, unet: unetLayout(set) };
}

const underscore = (path: string) => path.replace(/\./g, '_');

function unetLayout(paths: ReadonlySet<string>): UnetLayout | null {
  const levels = new Set<number>();
  const layers = new Set<number>();
  const upAttention = new Set<number>();
  for (const p of paths) {
    let m = /^down_blocks\.(\d+)\./.exec(p);
    if (m) levels.add(Number(m[1]));
    m = /^down_blocks\.0\.resnets\.(\d+)\./.exec(p);
    if (m) layers.add(Number(m[1]));
    m = /^up_blocks\.(\d+)\.attentions\./.exec(p);
    if (m) upAttention.add(Number(m[1]));
  }
  if (levels.size === 0 || layers.size === 0) return null;
  return { layers: layers.size, levels: levels.size, upAttention: Array.from({ length: levels.size }, (_, u) => upAttention.has(u)) };
}

/** The model's path a module adapts, or undefined when the model has no such module. */
export function resolveModule(module: Pick<LoraModule, 'key' | 'naming' | 'component'>, index: ModuleIndex): string | undefined {
  if (module.naming === 'peft') {
    if (index.paths.has(module.key)) return module.key;
    return index.underscored.get(underscore(module.key)) ?? undefined;
  }
  const direct = index.underscored.get(module.key);
  if (direct) return direct;
  if (module.component === 'unet' && index.unet) {
    const ldm = ldmToDiffusers(module.key, index.unet);
    if (ldm) return index.underscored.get(ldm.rest ? `${underscore(ldm.prefix)}_${ldm.rest}` : underscore(ldm.prefix)) ?? undefined;
  }
  return undefined;
}

/** LDM's ResBlock layer names → diffusers' ResnetBlock2D names. */
const RESNET_PARTS: Record<string, string> = {
  in_layers_2: 'conv1',
  emb_layers_1: 'time_emb_proj',
  out_layers_3: 'conv2',
  skip_connection: 'conv_shortcut',
};

/**
 * An LDM UNet module stem (underscores) → the diffusers block it lies in (dotted) and the rest of
 * the name inside that block (underscores, for the underscore lookup); null when it is no LDM name.
 */
export function ldmToDiffusers(stem: string, layout: UnetLayout): { prefix: string; rest: string } | null {
  const L = layout.layers;
  const resnet = (prefix: string, rest: string) => (rest in RESNET_PARTS ? { prefix: `${prefix}.${RESNET_PARTS[rest]}`, rest: '' } : null);

  let m = /^input_blocks_(\d+)_(\d+)(?:_(.+))?$/.exec(stem);
  if (m) {
    const [k, l, rest = ''] = [Number(m[1]), Number(m[2]), m[3]];
    if (k === 0) return l === 0 && rest === '' ? { prefix: 'conv_in', rest: '' } : null;
    const level = Math.floor((k - 1) / (L + 1));
    const j = (k - 1) % (L + 1);
    if (level >= layout.levels) return null;
    if (j === L) return l === 0 && rest === 'op' ? { prefix: `down_blocks.${level}.downsamplers.0.conv`, rest: '' } : null;
    if (l === 0) return resnet(`down_blocks.${level}.resnets.${j}`, rest);
    return l === 1 ? { prefix: `down_blocks.${level}.attentions.${j}`, rest } : null;
  }
  m = /^middle_block_(\d+)(?:_(.+))?$/.exec(stem);
  if (m) {
    const [b, rest = ''] = [Number(m[1]), m[2]];
    if (b === 1) return { prefix: 'mid_block.attentions.0', rest };
    return b === 0 || b === 2 ? resnet(`mid_block.resnets.${b / 2}`, rest) : null;
  }
  m = /^output_blocks_(\d+)_(\d+)(?:_(.+))?$/.exec(stem);
  if (m) {
    const [k, l, rest = ''] = [Number(m[1]), Number(m[2]), m[3]];
    const u = Math.floor(k / (L + 1));
    const j = k % (L + 1);
    if (u >= layout.levels) return null;
    if (l === 0) return resnet(`up_blocks.${u}.resnets.${j}`, rest);
    // After the ResNet: the attention if the level has one, then the upsampler (`.conv`).
    const upsampler = layout.upAttention[u] ? 2 : 1;
    if (l === 1 && layout.upAttention[u]) return { prefix: `up_blocks.${u}.attentions.${j}`, rest };
    return l === upsampler && j === L && rest === 'conv' ? { prefix: `up_blocks.${u}.upsamplers.0.conv`, rest: '' } : null;
  }
  const simple: Record<string, string> = { time_embed_0: 'time_embedding.linear_1', time_embed_2: 'time_embedding.linear_2', out_2: 'conv_out' };
  return stem in simple ? { prefix: simple[stem], rest: '' } : null;
}
