import { describe, expect, it } from 'vitest';
import { PipelineContext } from '../../src/pipeline/context';

describe('PipelineContext', () => {
  it('sets and gets values', () => {
    const ctx = new PipelineContext({ prompt: 'a cat' });
    ctx.set('seed', 42);
    expect(ctx.get('prompt')).toBe('a cat');
    expect(ctx.get('seed')).toBe(42);
    expect(ctx.has('seed')).toBe(true);
  });

  it('returns the default for a missing key, but not for a present falsy one', () => {
    const ctx = new PipelineContext({ zero: 0 });
    expect(ctx.get('missing', 'fallback')).toBe('fallback');
    expect(ctx.get('missing')).toBeUndefined();
    expect(ctx.get('zero', 5)).toBe(0);
  });

  it('tracks artifacts in order', () => {
    const ctx = new PipelineContext();
    ctx.addArtifact('a');
    ctx.addArtifact('b');
    expect(ctx.artifacts).toEqual(['a', 'b']);
  });

  it('stores an error', () => {
    const ctx = new PipelineContext();
    expect(ctx.error).toBeNull();
    ctx.setError('boom');
    expect(ctx.error).toBe('boom');
  });

  it('keeps metadata per stage key', () => {
    const ctx = new PipelineContext();
    ctx.setMetadata('upscaler', { factor: 2 });
    ctx.setMetadata('upscaler_2', { factor: 4 });
    expect(ctx.metadata).toEqual({ upscaler: { factor: 2 }, upscaler_2: { factor: 4 } });
  });

  it('does not share the initial data object', () => {
    const input = { a: 1 };
    const ctx = new PipelineContext(input);
    ctx.set('a', 2);
    expect(input.a).toBe(1);
  });
});
