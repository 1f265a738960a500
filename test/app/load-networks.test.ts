/**
 * Loading an image made with LoRAs and embeddings: the tags stay in the prompt (so the same image
 * comes out once they are here), and the notice names each one that is not imported, with its hash.
 */
import { describe, expect, it } from 'vitest';
import { applyLoaded } from '../../src/app/lib/generate-load';
import { formText } from '../helpers/generate-form-text';
import { fromA1111Infotext, fromMediaLabMetadata } from '../../src/app/lib/generation-parameters';

const A1111 =
  'portrait of a knight <lora:add_detail:0.6>, easynegative\nNegative prompt: bad-hands-5\n' +
  'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, ' +
  'Lora hashes: "add_detail: 7c6bad76eb54", TI hashes: "bad-hands-5: aa7651be154c, easynegative: c74b4e810b03", Version: v1.10.1';

const context = { usableModels: ['sd'], currentModel: 'sd', upscalers: [] };

describe('loading parameters that name LoRAs and embeddings', () => {
  it('keeps the tags in the prompt and says which are not imported here', () => {
    const loaded = fromA1111Infotext(A1111);
    expect(loaded.networks).toEqual({ loras: { add_detail: '7c6bad76eb54' }, embeddings: { 'bad-hands-5': 'aa7651be154c', easynegative: 'c74b4e810b03' } });
    const out = applyLoaded(formText(), loaded, { ...context, loras: ['other'], embeddings: ['easynegative'] });
    expect(out.form.prompt).toBe('portrait of a knight <lora:add_detail:0.6>, easynegative');
    expect(out.unmapped).toEqual([
      "LoRA 'add_detail' (hash 7c6bad76eb54) is not imported here: import it in the Models view, or remove its tag from the prompt",
      "embedding 'bad-hands-5' (hash aa7651be154c) is not imported here: until it is, the word is only text",
    ]);
    // All imported: nothing to say. Not yet listed (the page just opened): nothing said either.
    expect(applyLoaded(formText(), loaded, { ...context, loras: ['add_detail'], embeddings: ['bad-hands-5', 'easynegative'] }).unmapped).toEqual([]);
    expect(applyLoaded(formText(), loaded, context).unmapped).toEqual([]);
  });

  it('a tag without a hash list (pasted text, our own JSON) is checked by its name', () => {
    const out = applyLoaded(formText(), fromA1111Infotext('a fox <lora:foxy:1>\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512'), {
      ...context,
      loras: [],
      embeddings: [],
    });
    expect(out.unmapped).toEqual(["LoRA 'foxy' is not imported here: import it in the Models view, or remove its tag from the prompt"]);
    const ours = fromMediaLabMetadata({
      stage_type: 'text_to_image',
      prompt: 'a fox <lora:foxy:1>',
      seed: 1,
      lora_hashes: { foxy: '0123456789ab' },
      ti_hashes: { fur: 'ba9876543210', bad: 3 },
    });
    expect(ours.networks).toEqual({ loras: { foxy: '0123456789ab' }, embeddings: { fur: 'ba9876543210' } });
  });
});
