import { describe, expect, it } from 'vitest';
import { countedText, loraNamesIn, toggleEmbedding, toggleLoraTag } from '../../src/app/lib/extra-networks';

describe('the LoRA and embedding picker', () => {
  it('adds a LoRA tag at the end with one space, and removes it (whatever its weight) when picked again', () => {
    expect(toggleLoraTag('', 'add_detail')).toBe('<lora:add_detail:1>');
    expect(toggleLoraTag('a castle  ', 'add_detail')).toBe('a castle <lora:add_detail:1>');
    expect(toggleLoraTag('a castle <lora:add_detail:0.6>, sunset', 'add_detail')).toBe('a castle, sunset');
    expect(toggleLoraTag('a castle <LYCO:add_detail:0.6:0.2> <lora:film:1>', 'add_detail')).toBe('a castle <lora:film:1>');
    // Another LoRA whose name starts the same is not this one; names with regex characters are literal.
    expect(toggleLoraTag('x <lora:add_detail_v2:1>', 'add_detail')).toBe('x <lora:add_detail_v2:1> <lora:add_detail:1>');
    expect(toggleLoraTag('x <lora:a.b:1>', 'a+b')).toBe('x <lora:a.b:1> <lora:a+b:1>');
  });

  it('adds an embedding as a word, and removes only that whole word', () => {
    expect(toggleEmbedding('blurry', 'easynegative')).toBe('blurry easynegative');
    expect(toggleEmbedding('blurry, easynegative, lowres', 'easynegative')).toBe('blurry, lowres');
    expect(toggleEmbedding('(easynegative:1.2) lowres', 'easynegative')).toBe('lowres');
    expect(toggleEmbedding('lowres, (bad hands, easynegative)', 'easynegative')).toBe('lowres, (bad hands)');
    expect(toggleEmbedding('easynegative2 lowres', 'easynegative')).toBe('easynegative2 lowres easynegative');
  });

  it('reads the LoRA names a prompt uses, even when a tag is malformed', () => {
    expect(loraNamesIn('a <lora:one:0.5> b <lora:two> <hypernet:x:1>')).toEqual(['one', 'two']);
    expect(loraNamesIn('a <lora:one:abc> <lora:two:1>')).toEqual(['one', 'two']);
  });

  it('the token counter counts the positive prompt without its LoRA tags (the negative prompt keeps them as text)', () => {
    expect(countedText('a castle <lora:add_detail:0.6>, sunset', true)).toBe('a castle, sunset');
    expect(countedText('a castle <lora:add_detail:0.6>', false)).toBe('a castle <lora:add_detail:0.6>');
    expect(countedText('a castle <lora:add_detail:x>', true)).toBe('a castle <lora:add_detail:x>');
  });
});
