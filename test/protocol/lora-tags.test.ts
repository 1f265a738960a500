import { describe, expect, it } from 'vitest';
import { LoraTagError, parseLoraTags } from '../../src/protocol/lora-tags';

describe('parseLoraTags (A1111 <lora:name:weight>)', () => {
  it('removes a tag anywhere and keeps the rest of the prompt as written', () => {
    expect(parseLoraTags('a cat <lora:pixel:0.8> in the snow')).toEqual({ text: 'a cat in the snow', loras: [{ name: 'pixel', weight: 0.8 }] });
    expect(parseLoraTags('<lora:pixel:0.8> a cat')).toEqual({ text: 'a cat', loras: [{ name: 'pixel', weight: 0.8 }] });
    expect(parseLoraTags('a cat <lora:pixel:0.8>')).toEqual({ text: 'a cat', loras: [{ name: 'pixel', weight: 0.8 }] });
    expect(parseLoraTags('a (cat:1.2), [dog]')).toEqual({ text: 'a (cat:1.2), [dog]', loras: [] });
  });

  it('weight defaults to 1; negative and exponent weights are numbers', () => {
    expect(parseLoraTags('<lora:a>').loras).toEqual([{ name: 'a', weight: 1 }]);
    expect(parseLoraTags('<lora:a:-0.5>').loras).toEqual([{ name: 'a', weight: -0.5 }]);
    expect(parseLoraTags('<lora:a:1e-1>').loras).toEqual([{ name: 'a', weight: 0.1 }]);
  });

  it('several LoRAs keep their order; the same name twice adds up (A1111 applies both)', () => {
    expect(parseLoraTags('x <lora:b:0.5>, y <lora:a:1> z <lora:b:0.25>')).toEqual({
      text: 'x, y z',
      loras: [
        { name: 'b', weight: 0.75 },
        { name: 'a', weight: 1 },
      ],
    });
  });

  it('third field and te=/unet= give a separate UNet weight; dyn= is accepted and ignored', () => {
    expect(parseLoraTags('<lora:a:0.5:1>').loras).toEqual([{ name: 'a', weight: 0.5, unet: 1 }]);
    expect(parseLoraTags('<lora:a:unet=0.3:te=0.7>').loras).toEqual([{ name: 'a', weight: 0.7, unet: 0.3 }]);
    expect(parseLoraTags('<lora:a:0.7:0.7:dyn=16>').loras).toEqual([{ name: 'a', weight: 0.7 }]);
    expect(parseLoraTags('<lora:a:1:0> <lora:a:0.5>').loras).toEqual([{ name: 'a', weight: 1.5, unet: 0.5 }]);
  });

  it('lyco is an alias; other extra networks and plain angle brackets stay in the text', () => {
    expect(parseLoraTags('<lyco:loc:0.6> hi <hypernet:h:1> <b>')).toEqual({ text: 'hi <hypernet:h:1> <b>', loras: [{ name: 'loc', weight: 0.6 }] });
  });

  it('names may hold spaces, dots and dashes; tags touching text join it directly as A1111 does', () => {
    expect(parseLoraTags('a<lora:my lora-v1.5:0.3>b')).toEqual({ text: 'ab', loras: [{ name: 'my lora-v1.5', weight: 0.3 }] });
    expect(parseLoraTags('a <lora:x:1><lora:y:2> b\nc')).toEqual({ text: 'a b\nc', loras: [{ name: 'x', weight: 1 }, { name: 'y', weight: 2 }] });
    expect(parseLoraTags('(<lora:x:1> cat)').text).toBe('(cat)');
  });

  it('a weight that is not a number, an empty name or too many weights are clear errors', () => {
    expect(() => parseLoraTags('<lora:a:heavy>')).toThrow(LoraTagError);
    expect(() => parseLoraTags('<lora:a:heavy>')).toThrow(/'heavy' is not a number/);
    expect(() => parseLoraTags('<lora: :1>')).toThrow(/name is missing/);
    expect(() => parseLoraTags('<lora:a:1:1:1>')).toThrow(/at most two weights/);
  });
});
