// @vitest-environment node
/**
 * A1111 infotext. The texts below are hand-made, in the exact shape stable-diffusion-webui writes
 * (modules/processing.py `create_infotext`, modules/infotext_utils.py `quote`): prompt lines,
 * "Negative prompt:" lines, then one line of `Key: value` pairs, where a value holding a comma,
 * colon or newline is a JSON string (e.g. `Lora hashes: "name: 0123456789ab"`). The values are
 * made up; the shapes (old "DPM++ 2M Karras", 1.8's lower-case "Schedule type: karras", extension
 * keys after the standard ones, `Version: v1.10.1`) are those seen in real A1111 images.
 */
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../src/media/png';
import { addPngTextChunks, readPngTextChunks } from '../../src/media/png-text';
import {
  formatInfotext,
  formatNameHashes,
  parseNameHashes,
  parseInfotext,
  quoteValue,
  samplerFromA1111,
  samplerToA1111,
  toGenerationParams,
  unquoteValue,
  type InfotextInput,
} from '../../src/media/infotext';
import { createRgbaImage } from '../../src/pipeline/image/rgba';

const base: InfotextInput = {
  prompt: 'a photo of a cat',
  negative_prompt: 'blurry',
  steps: 20,
  sampler: 'DPM++ 2M',
  scheduleType: 'Karras',
  cfg_scale: 7,
  seed: 123,
  width: 512,
  height: 512,
  model_hash: 'abcdef1234',
  model: 'name',
  denoising_strength: 0.3,
};

describe('formatInfotext', () => {
  it("writes A1111's layout and key order", () => {
    expect(formatInfotext(base)).toBe(
      'a photo of a cat\nNegative prompt: blurry\n' +
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x512, ' +
        'Model hash: abcdef1234, Model: name, Denoising strength: 0.3',
    );
  });

  it('leaves out what is not given, and the negative prompt line when it is empty', () => {
    const { negative_prompt: _n, scheduleType: _s, model_hash: _h, model: _m, denoising_strength: _d, ...minimal } = base;
    expect(formatInfotext({ ...minimal, negative_prompt: '' })).toBe(
      'a photo of a cat\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 123, Size: 512x512',
    );
  });

  it("translates this app's scheduler names to A1111's sampler names", () => {
    expect(formatInfotext({ ...base, sampler: 'euler_a', scheduleType: undefined })).toContain('Sampler: Euler a, CFG scale');
    expect(formatInfotext({ ...base, ...samplerToA1111('dpmpp_2m', true) })).toContain('Sampler: DPM++ 2M, Schedule type: Karras,');
  });

  it("quotes values the way A1111's quote() does", () => {
    const text = formatInfotext({
      ...base,
      extra: {
        'Lora hashes': 'detail_tweaker: 0123456789ab, film: ba9876543210',
        'Hires prompt': 'line one\nline two',
        'ADetailer prompt': 'a "quoted" face',
        Title: '"starts with a quote',
        Path: 'C:\\models\\x.safetensors',
        'Hires upscale': 2,
        'Version': 'v1.10.1',
      },
    });
    expect(text.split('\n').at(-1)).toBe(
      'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x512, ' +
        'Model hash: abcdef1234, Model: name, Denoising strength: 0.3, ' +
        'Lora hashes: "detail_tweaker: 0123456789ab, film: ba9876543210", ' +
        'Hires prompt: "line one\\nline two", ' +
        'ADetailer prompt: a "quoted" face, ' + // A1111 quotes only for , : and newline
        'Title: "\\"starts with a quote", ' + // our one addition, so the reader cannot strip the quote
        'Path: "C:\\\\models\\\\x.safetensors", ' + // has a colon, so JSON-escaped
        'Hires upscale: 2, Version: v1.10.1',
    );
    // …and everything reads back unchanged.
    expect(parseInfotext(text).params).toMatchObject({
      'Lora hashes': 'detail_tweaker: 0123456789ab, film: ba9876543210',
      'Hires prompt': 'line one\nline two',
      'ADetailer prompt': 'a "quoted" face',
      Title: '"starts with a quote',
      Path: 'C:\\models\\x.safetensors',
      'Hires upscale': '2',
    });
  });

  it('quoteValue / unquoteValue', () => {
    expect(quoteValue('plain value')).toBe('plain value');
    expect(quoteValue('a, b')).toBe('"a, b"');
    expect(quoteValue('日本語: テスト')).toBe('"日本語: テスト"'); // non-ASCII kept, like ensure_ascii=False
    expect(unquoteValue('"a, b"')).toBe('a, b');
    expect(unquoteValue('"not json')).toBe('"not json');
    expect(unquoteValue('"bad \\x escape"')).toBe('"bad \\x escape"'); // A1111 keeps what json.loads refuses
    expect(unquoteValue('"')).toBe('"');
  });

  it('refuses keys the reader could not read back, repeated keys and non-finite numbers', () => {
    expect(() => formatInfotext({ ...base, extra: { 'a:b': 1 } })).toThrow(/infotext key "a:b"/);
    expect(() => formatInfotext({ ...base, extra: { x: 1 } })).toThrow(/infotext key "x"/); // keys have ≥ 2 characters
    expect(() => formatInfotext({ ...base, extra: { Seed: 5 } })).toThrow('infotext key "Seed" is given twice');
    expect(() => formatInfotext({ ...base, cfg_scale: Number.NaN })).toThrow(/"CFG scale" is not a finite number/);
  });
});

describe('parseInfotext', () => {
  it('splits prompt, negative prompt and parameters', () => {
    expect(parseInfotext(formatInfotext(base))).toEqual({
      prompt: 'a photo of a cat',
      negative_prompt: 'blurry',
      params: {
        Steps: '20',
        Sampler: 'DPM++ 2M',
        'Schedule type': 'Karras',
        'CFG scale': '7',
        Seed: '123',
        Size: '512x512',
        'Model hash': 'abcdef1234',
        Model: 'name',
        'Denoising strength': '0.3',
      },
    });
  });

  it('keeps multi-line prompts and negative prompts, trimming each line as A1111 does', () => {
    const text = [
      'masterpiece, best quality,  ',
      '  1girl, (red hat:1.2), <lora:detail_tweaker:0.6>',
      '',
      'BREAK landscape',
      'Negative prompt:   lowres, bad hands',
      '(worst quality:1.4)',
      'Steps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 42, Size: 832x1216',
    ].join('\n');
    const parsed = parseInfotext(text);
    expect(parsed.prompt).toBe('masterpiece, best quality,\n1girl, (red hat:1.2), <lora:detail_tweaker:0.6>\n\nBREAK landscape');
    expect(parsed.negative_prompt).toBe('lowres, bad hands\n(worst quality:1.4)');
    expect(parsed.params.Size).toBe('832x1216');
  });

  it('round-trips prompts with commas, colons, quotes, newlines and non-Latin-1 text', () => {
    const input: InfotextInput = {
      ...base,
      prompt: '(cat:1.2), "quoted", a: b, 猫 🐱\nsecond line, [from:to:0.5]',
      negative_prompt: 'ugly, bad: anatomy\n"more"',
      extra: { 'Lora hashes': 'x: 1, y: 2', Note: '"hi", she said:\n\tok' },
    };
    const parsed = parseInfotext(formatInfotext(input));
    expect(parsed.prompt).toBe(input.prompt);
    expect(parsed.negative_prompt).toBe(input.negative_prompt);
    expect(parsed.params['Lora hashes']).toBe('x: 1, y: 2');
    expect(parsed.params.Note).toBe('"hi", she said:\n\tok');
  });

  it('treats a last line with fewer than 3 pairs as part of the prompt', () => {
    expect(parseInfotext('just a prompt: with a colon')).toEqual({ prompt: 'just a prompt: with a colon', negative_prompt: '', params: {} });
    expect(parseInfotext('a cat\nStyle: noir, Mood: dark')).toEqual({
      prompt: 'a cat\nStyle: noir, Mood: dark',
      negative_prompt: '',
      params: {},
    });
  });

  it('reads text with only a parameter line, Windows line endings, and Unicode keys', () => {
    expect(parseInfotext('Steps: 4, Sampler: LCM, CFG scale: 1.5, Seed: 7, Size: 512x768')).toMatchObject({
      prompt: '',
      negative_prompt: '',
      params: { Steps: '4', Sampler: 'LCM' },
    });
    const crlf = parseInfotext('a\r\nNegative prompt: b\r\nSteps: 1, Seed: 2, Size: 8x8\r\n');
    expect(crlf).toEqual({ prompt: 'a', negative_prompt: 'b', params: { Steps: '1', Seed: '2', Size: '8x8' } });
    // Python's \w matches letters of any script, so such keys are keys.
    expect(parseInfotext('p\nSteps: 1, Modèle: été, Größe: 3').params).toEqual({ Steps: '1', Modèle: 'été', Größe: '3' });
  });

  it('follows A1111 where it surprises: later lines after the parameter line swallow it', () => {
    // Extensions (e.g. Dynamic Prompts' "Template:") used to append lines after the parameters;
    // A1111 then finds < 3 pairs on the last line, and everything after "Negative prompt:" is negative.
    const text = 'a duck\nNegative prompt: mono\nSteps: 15, Seed: 1, Size: 8x8\nTemplate: a duck';
    expect(parseInfotext(text)).toEqual({
      prompt: 'a duck',
      negative_prompt: 'mono\nSteps: 15, Seed: 1, Size: 8x8\nTemplate: a duck',
      params: {},
    });
  });

  it('keeps "__proto__" as an ordinary key and never touches prototypes', () => {
    const parsed = parseInfotext('p\nSteps: 1, __proto__: x, constructor: y, Seed: 2');
    expect(Object.hasOwn(parsed.params, '__proto__')).toBe(true);
    expect(parsed.params.constructor).toBe('y');
    const params = toGenerationParams(parsed);
    expect(Object.hasOwn(params.extra, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(params.extra)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('samplers', () => {
  it('maps every scheduler to A1111 and back, with and without Karras', () => {
    const names = { euler: 'Euler', euler_a: 'Euler a', ddim: 'DDIM', dpmpp_2m: 'DPM++ 2M', lcm: 'LCM' } as const;
    for (const [ours, theirs] of Object.entries(names) as Array<[keyof typeof names, string]>) {
      expect(samplerToA1111(ours, false)).toEqual({ sampler: theirs });
      expect(samplerToA1111(ours, true)).toEqual({ sampler: theirs, scheduleType: 'Karras' });
      expect(samplerFromA1111(theirs)).toEqual({ scheduler: ours, karras: false });
      expect(samplerFromA1111(theirs, 'Karras')).toEqual({ scheduler: ours, karras: true });
    }
  });

  it('reads the old "<sampler> Karras" names, 1.8\'s lower-case schedule types and k-diffusion aliases', () => {
    expect(samplerFromA1111('DPM++ 2M Karras')).toEqual({ scheduler: 'dpmpp_2m', karras: true });
    expect(samplerFromA1111('DPM++ 2M Karras', 'Automatic')).toEqual({ scheduler: 'dpmpp_2m', karras: true });
    expect(samplerFromA1111('Euler', 'karras')).toEqual({ scheduler: 'euler', karras: true });
    expect(samplerFromA1111('DPM++ 2M', 'Automatic')).toEqual({ scheduler: 'dpmpp_2m', karras: false });
    expect(samplerFromA1111('DPM++ 2M', 'Exponential')).toEqual({ scheduler: 'dpmpp_2m', karras: false });
    expect(samplerFromA1111('k_euler_a')).toEqual({ scheduler: 'euler_a', karras: false });
  });

  it('returns null for samplers this app does not have', () => {
    for (const name of ['UniPC', 'DPM++ SDE Karras', 'DPM++ 2M SDE', 'Heun', 'euler', 'Euler A', '', 'toString', 'Karras']) {
      expect(samplerFromA1111(name)).toBeNull();
    }
  });
});

describe('toGenerationParams', () => {
  it('parses numbers and maps the sampler', () => {
    const text =
      'a castle on a hill\nNegative prompt: fog\n' +
      'Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 4294967295, Size: 768x512, ' +
      'Model hash: e4a30e4607, Model: dreamshaper_8, Denoising strength: 0.45, Clip skip: 2, ' +
      'Lora hashes: "castle: cd4e9895fffa", Version: v1.6.0';
    expect(toGenerationParams(parseInfotext(text))).toEqual({
      prompt: 'a castle on a hill',
      negative_prompt: 'fog',
      steps: 30,
      guidance_scale: 7.5,
      seed: 4294967295,
      width: 768,
      height: 512,
      scheduler: 'dpmpp_2m',
      karras: true,
      strength: 0.45,
      model: 'dreamshaper_8',
      model_hash: 'e4a30e4607',
      lora_hashes: { castle: 'cd4e9895fffa' },
      extra: { 'Clip skip': '2', 'Lora hashes': 'castle: cd4e9895fffa', Version: 'v1.6.0' },
      warnings: [],
    });
  });

  it("reads and writes A1111's Lora hashes and TI hashes lists (names without : or ,)", () => {
    const text =
      'portrait <lora:add_detail:0.5> <lora:film grain:1>, easynegative\nNegative prompt: easynegative, bad-hands-5\n' +
      'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, ' +
      'Lora hashes: "add_detail: 7c6bad76eb54, film grain: 0A1B2C3D4E5F", TI hashes: "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c"';
    const params = toGenerationParams(parseInfotext(text));
    expect(params.lora_hashes).toEqual({ add_detail: '7c6bad76eb54', 'film grain': '0a1b2c3d4e5f' });
    expect(params.ti_hashes).toEqual({ easynegative: 'c74b4e810b03', 'bad-hands-5': 'aa7651be154c' });
    expect(formatNameHashes({ 'a:b,c': '0123456789ab', d: 'ffffffffffff' })).toBe('abc: 0123456789ab, d: ffffffffffff');
    expect(parseNameHashes(formatNameHashes({ 'a:b,c': '0123456789ab', d: 'ffffffffffff' }))).toEqual({ abc: '0123456789ab', d: 'ffffffffffff' });
    // Entries that are not `name: hex` are skipped, never guessed.
    expect(parseNameHashes('x, : 12, y: not-hex, __proto__: 00ff')).toEqual(JSON.parse('{"__proto__": "00ff"}'));
  });

  it('keeps what it cannot use in extra, with a warning each', () => {
    const text =
      'p\nSteps: many, Sampler: UniPC, Schedule type: Exponential, CFG scale: -1, Seed: -1, Size: big, Denoising strength: 2';
    const params = toGenerationParams(parseInfotext(text));
    expect(params).toEqual({
      prompt: 'p',
      negative_prompt: '',
      extra: {
        Steps: 'many',
        Sampler: 'UniPC',
        'Schedule type': 'Exponential',
        'CFG scale': '-1',
        Seed: '-1',
        Size: 'big',
        'Denoising strength': '2',
      },
      warnings: [
        'Steps "many" is not a whole number of steps',
        'CFG scale "-1" is not a number',
        'Seed "-1" is not a seed this app can use (a whole number from 0)',
        'Size "big" is not WIDTHxHEIGHT',
        'Sampler "UniPC" is not a sampler this app has (it has Euler, Euler a, DDIM, DPM++ 2M, LCM)',
        'Schedule type "Exponential" is not a schedule this app has (it has Karras or the sampler’s default)',
        'Denoising strength "2" is not a number from 0 to 1',
      ],
    });
  });

  it('round-trips through a PNG: parameters written by this app come back as they went in', () => {
    const png = encodePng(createRgbaImage(8, 8, new Uint8ClampedArray(256).fill(90)));
    const { sampler, scheduleType } = samplerToA1111('euler_a', true);
    const text = formatInfotext({
      prompt: '富士山, sunrise: golden hour, "wide"',
      negative_prompt: 'people,\ncars',
      steps: 25,
      sampler,
      scheduleType,
      cfg_scale: 6.5,
      seed: 987654321,
      width: 640,
      height: 448,
      model: 'sd-turbo',
      extra: { Emphasis: 'No norm' },
    });
    const [chunk] = readPngTextChunks(addPngTextChunks(png, [{ keyword: 'parameters', text }]));
    expect(chunk.kind).toBe('iTXt'); // the prompt is not Latin-1
    expect(toGenerationParams(parseInfotext(chunk.text))).toEqual({
      prompt: '富士山, sunrise: golden hour, "wide"',
      negative_prompt: 'people,\ncars',
      steps: 25,
      guidance_scale: 6.5,
      seed: 987654321,
      width: 640,
      height: 448,
      scheduler: 'euler_a',
      karras: true,
      model: 'sd-turbo',
      extra: { Emphasis: 'No norm' },
      warnings: [],
    });
  });
});
