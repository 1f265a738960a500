/**
 * `.safetensors` reading (every rule of the format) and classification, on files built in code.
 */
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_ADVICE,
  SAFETENSORS_DTYPE_BITS,
  SafetensorsError,
  classifySafetensors,
  inspectSafetensors,
  readSafetensorsHeader,
  readTensorBytes,
  type BlobLike,
  type SafetensorsHeader,
} from '../../src/registry/safetensors';
import * as fx from '../fixtures/safetensors-builder';

/** A Blob-like over bytes that records every range read. */
function counting(bytes: Uint8Array, size = bytes.length) {
  const reads: Array<[number, number]> = [];
  const blob: BlobLike = {
    size,
    slice(start, end) {
      reads.push([start, end]);
      return {
        arrayBuffer: async () => {
          if (end > bytes.length) throw new Error(`read ${start}–${end} beyond the bytes held (${bytes.length})`);
          return bytes.slice(start, end).buffer;
        },
      };
    },
  };
  const bytesRead = () => reads.reduce((n, [s, e]) => n + (e - s), 0);
  return { blob, reads, bytesRead };
}

const read = (bytes: Uint8Array) => readSafetensorsHeader(counting(bytes).blob);
const inspect = (bytes: Uint8Array, fileName = 'model.safetensors') => inspectSafetensors(counting(bytes).blob, fileName);

async function errorOf(bytes: Uint8Array): Promise<SafetensorsError> {
  const error = await read(bytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetensorsError);
  return error as SafetensorsError;
}

describe('readSafetensorsHeader: valid files', () => {
  it('reads length, metadata and tensors in data order; space padding is accepted', async () => {
    const bytes = fx.kohyaLora();
    const header = await read(bytes);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(header.headerBytes).toBe(n);
    expect(n % 8).toBe(0); // padded with spaces like the reference writer
    expect(header.dataBytes).toBe(bytes.length - 8 - n);
    expect(header.metadata).toEqual({ ss_network_dim: '4' });
    expect(header.tensors).toHaveLength(9);
    expect(header.tensors[0]).toEqual({
      name: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha',
      dtype: 'F16',
      shape: [],
      begin: 0,
      end: 2,
    });
    for (let i = 1; i < header.tensors.length; i++) expect(header.tensors[i].begin).toBe(header.tensors[i - 1].end);
    expect(header.tensors.at(-1)!.end).toBe(header.dataBytes);
  });

  it('accepts a header listing tensors out of data order (sorted by offsets, as the reference does)', async () => {
    const header = await read(fx.headerOutOfDataOrder());
    expect(header.tensors.map((t) => [t.name, t.begin, t.end])).toEqual([
      ['first', 0, 16],
      ['second', 16, 32],
    ]);
    expect(header.metadata).toBeNull();
  });

  it('accepts scalars, empty tensors (a 0 dimension, no bytes), BOOL and fp8', async () => {
    const header = await read(fx.edgeShapes());
    expect(header.tensors.map((t) => [t.name, t.shape, t.end - t.begin])).toEqual([
      ['scalar', [], 8],
      ['empty', [0, 5], 0],
      ['flags', [3], 3],
      ['fp8', [2, 2], 4],
    ]);
  });

  it('accepts a file with no tensors and no data, and `__metadata__: null`', async () => {
    expect((await read(fx.fileFrom('{}', 0))).tensors).toEqual([]);
    expect((await read(fx.fileFrom('{"__metadata__":null}', 0))).metadata).toBeNull();
  });

  it('decodes escapes in names and keeps `__proto__` as plain metadata', async () => {
    const header = await read(fx.fileFrom(`{"__metadata__":{"__proto__":"x","a\\"b":"\\u00e9"},${fx.entry('w\u00e9', 'U8', [1], [0, 1])}}`, 1));
    expect(Object.keys(header.metadata!)).toEqual(['__proto__', 'a"b']);
    expect(header.metadata!['a"b']).toBe('é');
    expect(header.tensors[0].name).toBe('wé');
  });

  it("knows the spec's current dtypes with their sizes", () => {
    expect(SAFETENSORS_DTYPE_BITS).toMatchObject({ BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, I16: 16, U16: 16, F16: 16, BF16: 16 });
    expect(SAFETENSORS_DTYPE_BITS).toMatchObject({ I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64, C64: 64, F4: 4, F6_E2M3: 6 });
  });
});

describe('readSafetensorsHeader: every broken variant throws SafetensorsError naming the problem', () => {
  const cases: Array<[keyof typeof fx.broken, RegExp]> = [
    ['truncatedLength', /file is 5 bytes long: too short .*8-byte header length/],
    ['headerPastEnd', /header length 5000 bytes runs past the end of the file: it needs 5008 bytes but the file has \d+/],
    ['hugeHeaderClaim', /header length 200000000 bytes is over the 100 MB limit/],
    ['overlap', /tensor 'a\.weight' bytes 64–128 overlap 'b\.weight' 96–160/],
    ['gap', /gap of 16 bytes before 'c': data bytes 16–32 belong to no tensor/],
    ['dataPastEnd', /tensor 'b' bytes 960–1040 run past the end of the data: the file has 1000 bytes of data/],
    ['trailingData', /data ends at 1000 but the file has 1040 bytes of data \(40 bytes at the end belong to no tensor\)/],
    ['sizeMismatch', /tensor 'x' is F16 \[3, 4\] = 24 bytes but its data_offsets \[0, 20\] span 20/],
    ['duplicateKey', /duplicate key 'w' in the header/],
    ['duplicateField', /duplicate key 'dtype' inside 'w'/],
    ['nonStringMetadata', /__metadata__ value for 'format' is a number; only strings are allowed/],
    ['metadataNotObject', /__metadata__ is an array; it must be an object mapping strings to strings/],
    ['notJson', /header is not valid JSON: expected a quoted key but found ''' at character 1/],
    ['emptyHeader', /header is empty \(length 0\); it must be a JSON object/],
    ['leadingZero', /not valid JSON: expected ',' or '\]' but found '4' at character 30/],
    ['unterminatedString', /not valid JSON: unterminated string at character 3/],
    ['notStartingWithBrace', /header must start with '\{' but starts with ' '/],
    ['arrayHeader', /header must start with '\{' but starts with '\['/],
    ['trailingGarbage', /not valid JSON: unexpected 'x' after the header's JSON object/],
    ['nulPadding', /not valid JSON: unexpected U\+0000 after the header's JSON object/],
    ['invalidUtf8', /header is not valid UTF-8/],
    ['unknownDtype', /tensor 'w' has unknown dtype 'Q4_0' \(known: BOOL, /],
    ['negativeShape', /dimension 0 of the shape of 'w' is -1; it must be a non-negative integer/],
    ['floatShape', /dimension 0 of the shape of 'w' is 2\.5; it must be a non-negative integer/],
    ['floatWholeShape', /dimension 0 of the shape of 'w' is 4\.0; it must be a non-negative integer/],
    ['offsetsReversed', /data_offsets of 'w' are \[16, 0\]: begin is after end/],
    ['offsetsThree', /data_offsets of 'w' is an array of 3; it must be \[begin, end\]/],
    ['missingOffsets', /tensor 'w' has no 'data_offsets'/],
    ['subByteMisaligned', /tensor 'w' is F4 \[3\] = 12 bits, not a whole number of bytes/],
    ['shapeOverflow', /tensor 'w' is F32 \[18446744073709551615, 2\]: its size overflows 64 bits/],
    ['tensorNotObject', /header entry 'w' is a string; a tensor must be an object/],
    ['tooDeep', /not valid JSON: nesting deeper than 64 levels/],
  ];
  it.each(cases)('%s', async (name, message) => {
    expect((await errorOf(fx.broken[name]())).message).toMatch(message);
  });

  it('covers every broken fixture', () => {
    expect(cases.map(([name]) => name).sort()).toEqual(Object.keys(fx.broken).sort());
  });

  it('a file shorter than its header (cut inside the header) is called out', async () => {
    const whole = fx.kohyaLora();
    const error = await errorOf(whole.slice(0, 40));
    expect(error.message).toMatch(/runs past the end of the file.*the file has 40 \(truncated\?\)/);
  });

  it('a file cut inside its data is called out by the last tensor running past the end', async () => {
    const whole = fx.a1111Embedding();
    const error = await errorOf(whole.slice(0, whole.length - 100));
    expect(error.message).toMatch(/tensor 'emb_params' bytes 0–6144 run past the end of the data: the file has 6044 bytes/);
  });

  it('maxHeaderBytes lowers the limit', async () => {
    const error = await readSafetensorsHeader(counting(fx.kohyaLora()).blob, { maxHeaderBytes: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).toMatch(/header length \d+ bytes is over the 100 bytes limit/);
  });

  it('the huge header claim reads the 8 length bytes and nothing more', async () => {
    const { blob, reads } = counting(fx.broken.hugeHeaderClaim());
    await expect(readSafetensorsHeader(blob)).rejects.toThrow(SafetensorsError);
    expect(reads).toEqual([[0, 8]]);
  });
});

describe('classifySafetensors', () => {
  it('kohya LoRA: rank 4, alpha read from the F16/F32 scalars in the data, targets', async () => {
    const { classification } = await inspect(fx.kohyaLora({ alpha: 2 }), 'style.safetensors');
    expect(classification).toEqual({
      kind: 'lora',
      format: 'kohya',
      rank: 4,
      alpha: 2,
      alpha_source: 'tensors',
      targets: { unet: 2, text_encoder: 1 },
      modules: 3,
      family: 'sd1',
    });
  });

  it('kohya LoRA: the alpha tensors win over ss_network_alpha; without a reader the metadata is used', async () => {
    const bytes = fx.kohyaLora({ alpha: 1.5, metadataAlpha: '8.0' });
    expect((await inspect(bytes)).classification).toMatchObject({ alpha: 1.5, alpha_source: 'tensors' });
    const header = await read(bytes);
    expect(await classifySafetensors(header, 'x.safetensors')).toMatchObject({ alpha: 8, alpha_source: 'metadata' });
  });

  it('kohya LoRA without alpha tensors or metadata: alpha null', async () => {
    expect((await inspect(fx.kohyaLora({ withAlphaTensors: false }))).classification).toMatchObject({
      kind: 'lora',
      rank: 4,
      alpha: null,
      alpha_source: null,
      modules: 3,
    });
  });

  it('kohya SDXL LoRA: te1/te2 targets, most common rank, BF16 alpha', async () => {
    expect((await inspect(fx.kohyaSdxlLora())).classification).toEqual({
      kind: 'lora',
      format: 'kohya',
      rank: 8,
      alpha: 4,
      alpha_source: 'tensors',
      targets: { unet: 3, text_encoder: 1, text_encoder_2: 2 },
      modules: 6,
      family: 'sdxl',
    });
  });

  it('peft LoRA (lora_A / lora_B): rank from A, no alpha', async () => {
    expect((await inspect(fx.peftLora())).classification).toEqual({
      kind: 'lora',
      format: 'peft',
      rank: 8,
      alpha: null,
      alpha_source: null,
      targets: { unet: 2, text_encoder: 1 },
      modules: 3,
      family: 'sd2',
    });
  });

  it('older diffusers LoRA spellings (lora.down / processor to_k_lora.down)', async () => {
    expect((await inspect(fx.diffusersOldLora())).classification).toMatchObject({
      kind: 'lora',
      format: 'peft',
      rank: 4,
      targets: { unet: 2, text_encoder: 0 },
      modules: 2,
      family: 'sd1',
    });
  });

  it('A1111 embedding emb_params [2, 768]: 2 tokens, triggered by the file name', async () => {
    expect((await inspect(fx.a1111Embedding(), 'models/bad-hands-5.safetensors')).classification).toEqual({
      kind: 'embedding',
      format: 'a1111',
      tokens: 2,
      dims: [768],
      trigger: 'bad-hands-5',
      family: 'sd1',
    });
  });

  it('SDXL embedding clip_l + clip_g', async () => {
    expect((await inspect(fx.sdxlEmbedding(), 'neg.safetensors')).classification).toEqual({
      kind: 'embedding',
      format: 'sdxl',
      tokens: 3,
      dims: [768, 1280],
      trigger: 'neg',
      family: 'sdxl',
    });
  });

  it('diffusers learned_embeds <token>', async () => {
    expect((await inspect(fx.diffusersEmbedding(), 'learned_embeds.safetensors')).classification).toEqual({
      kind: 'embedding',
      format: 'diffusers',
      tokens: 1,
      dims: [768],
      trigger: '<cat-toy>',
      family: 'sd1',
    });
  });

  it('single-file checkpoints: SD 1.x, inpainting, SD 2.x, SDXL', async () => {
    expect((await inspect(fx.sd1Checkpoint())).classification).toEqual({ kind: 'checkpoint', family: 'sd1', inpainting: false });
    expect((await inspect(fx.sd1Checkpoint({ inChannels: 9 }))).classification).toEqual({ kind: 'checkpoint', family: 'sd1', inpainting: true });
    expect((await inspect(fx.sd2Checkpoint())).classification).toMatchObject({ kind: 'checkpoint', family: 'sd2' });
    expect((await inspect(fx.sdxlCheckpoint())).classification).toMatchObject({ kind: 'checkpoint', family: 'sdxl' });
  });

  it('the checkpoint advice names the conversion route', () => {
    expect(CHECKPOINT_ADVICE).toMatch(/from_single_file/);
    expect(CHECKPOINT_ADVICE).toMatch(/convert_original_stable_diffusion_to_diffusers\.py/);
    expect(CHECKPOINT_ADVICE).toMatch(/optimum-cli export onnx --model/);
    expect(CHECKPOINT_ADVICE).toMatch(/convert_stable_diffusion_checkpoint_to_onnx\.py/);
  });

  it('unknown files are refused with a reason naming what they look like', async () => {
    const reason = async (bytes: Uint8Array) => {
      const c = (await inspect(bytes)).classification;
      expect(c.kind).toBe('unknown');
      return (c as { reason: string }).reason;
    };
    expect(await reason(fx.unknownModel())).toMatch(
      /^a safetensors file with 3 tensors that is neither a LoRA, an embedding nor a Stable Diffusion checkpoint \(keys like 'encoder\.layer\.0\.attention\.self\.query\.weight', 'encoder\.layer\.0\.attention\.self\.key\.weight'…\)$/,
    );
    expect(await reason(fx.standaloneVae())).toMatch(/standalone VAE/);
    expect(await reason(fx.lycorisLoha())).toMatch(/LyCORIS/);
    expect(await reason(fx.fileFrom('{}', 0))).toMatch(/no tensors/);
  });
});

describe('reads only the header (files are gigabytes)', () => {
  const dataStart = (h: SafetensorsHeader) => 8 + h.headerBytes;

  it('a checkpoint: exactly the 8 length bytes and the header', async () => {
    const bytes = fx.sd1Checkpoint();
    const { blob, reads } = counting(bytes);
    const { header } = await inspectSafetensors(blob, 'sd.safetensors');
    expect(reads).toEqual([
      [0, 8],
      [8, dataStart(header)],
    ]);
    expect(header.dataBytes).toBeGreaterThan(0);
  });

  it('a kohya LoRA: beyond the header, only the alpha scalars', async () => {
    const { blob, reads } = counting(fx.kohyaLora());
    const { header } = await inspectSafetensors(blob, 'lora.safetensors');
    const alphas = header.tensors.filter((t) => t.name.endsWith('.alpha'));
    const dataReads = reads.filter(([s]) => s >= dataStart(header));
    expect(reads.slice(0, 2)).toEqual([
      [0, 8],
      [8, dataStart(header)],
    ]);
    expect(dataReads.sort((a, b) => a[0] - b[0])).toEqual(alphas.map((t) => [dataStart(header) + t.begin, dataStart(header) + t.end]));
    expect(dataReads.reduce((n, [s, e]) => n + e - s, 0)).toBe(2 + 2 + 4);
  });

  it('a 7 GB file whose data is not even there: the header is enough', async () => {
    const dataBytes = 7_000_000_000;
    const header = fx.objectOf(fx.entry('model.diffusion_model.input_blocks.0.0.weight', 'F16', [3_500_000_000], [0, dataBytes]));
    const headerOnly = fx.fileFrom(header, 0);
    const { blob, bytesRead } = counting(headerOnly, headerOnly.length + dataBytes);
    const result = await inspectSafetensors(blob, 'big.safetensors');
    expect(result.header.dataBytes).toBe(dataBytes);
    expect(result.header.tensors[0].end).toBe(dataBytes);
    expect(result.classification).toEqual({ kind: 'checkpoint', family: 'unknown', inpainting: false });
    expect(bytesRead()).toBe(headerOnly.length);
  });
});

describe('with a real Blob', () => {
  it('parses, classifies and reads alpha bytes through Blob.slice', async () => {
    const blob = new Blob([fx.kohyaLora({ alpha: 0.5 })]);
    const { header, classification } = await inspectSafetensors(blob, 'lora.safetensors');
    expect(header.tensors).toHaveLength(9);
    expect(classification).toMatchObject({ kind: 'lora', rank: 4, alpha: 0.5, alpha_source: 'tensors' });
    const alpha = header.tensors.find((t) => t.name.endsWith('q_proj.alpha'))!;
    expect(Array.from(await readTensorBytes(blob, header, alpha))).toEqual(Array.from(fx.f32(0.5)));
  });

  it('rejects a broken file through a Blob too', async () => {
    await expect(readSafetensorsHeader(new Blob([fx.broken.gap()]))).rejects.toThrow(/gap of 16 bytes before 'c'/);
  });
});
