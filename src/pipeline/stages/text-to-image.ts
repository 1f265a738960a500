import type { TextToImageParameters } from '../../protocol/pipeline-config';
import type { TextToImageMetadata } from '../../protocol/stage-results';
import type { PipelineContext } from '../context';
import { tensorToImages } from '../diffusion/latents';
import { textToImage } from '../diffusion/text-to-image';
import { shortModelHash, type StageServices } from '../ports';
import { PipelineStage, StageInputError } from '../stage';
import { LORAS_PARAMETER, networksMetadata, stagePrompt } from './networks';

/** The seed's TextToImageStage, real: Stable Diffusion through the diffusion ports. */
export class TextToImageStage extends PipelineStage {
  readonly stageType = 'text_to_image' as const;

  constructor(
    name: string,
    readonly parameters: TextToImageParameters,
  ) {
    super(name);
  }

  override async validateInput(): Promise<string | null> {
    const prompt = this.parameters.prompt;
    if (prompt === undefined) return 'prompt is required';
    if (prompt.trim() === '') return 'prompt is empty: describe the image to make';
    try {
      if (stagePrompt(prompt).text.trim() === '') return 'the prompt holds only LoRA tags: describe the image to make';
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    if (this.parameters.seed === undefined && !this.parameters.latents) return 'seed is required';
    return null;
  }

  async execute(context: PipelineContext, services: StageServices): Promise<PipelineContext> {
    if (!services.diffusion) throw new StageInputError('no Stable Diffusion model can run here');
    const p = this.parameters;
    // 1. LoRA tags out of the positive prompt (the metadata keeps the prompt as written, as A1111's infotext does).
    const prompt = stagePrompt(p.prompt!, p.loras);
    const handle = await services.diffusion.load(p.model, { loras: prompt.loras, prompts: [prompt.text, p.negative_prompt] });
    const params = {
      prompt: p.prompt!,
      negative_prompt: p.negative_prompt,
      steps: p.steps ?? handle.defaults.steps,
      guidance_scale: p.guidance_scale ?? handle.defaults.guidance_scale,
      scheduler: p.scheduler ?? (handle.defaults.scheduler as TextToImageParameters['scheduler']),
      karras: p.karras,
      width: p.width ?? handle.defaults.width ?? 512,
      height: p.height ?? handle.defaults.height ?? 512,
      seed: p.seed ?? 0,
      batch_size: p.batch_size,
      emphasis: p.emphasis,
      ...(p.subseed !== undefined && p.subseed_strength > 0 ? { subseed: p.subseed, subseed_strength: p.subseed_strength } : {}),
      latents: p.latents,
    };
    const now = services.now ?? (() => Date.now());
    const started = now();
    const result = await textToImage(handle.models, { ...params, prompt: prompt.text }, {
      signal: services.signal,
      onProgress: (step, total, preview) => services.onProgress?.({ stage: this.name, step, total, preview }),
    });
    const ms = Math.round(now() - started);
    const images = tensorToImages(result);
    const jobId = String(context.get('job_id', 'unknown'));
    const metadata: TextToImageMetadata = {
      stage_type: 'text_to_image',
      model: handle.name,
      model_hash: shortModelHash(handle.hashes),
      model_hashes: handle.hashes,
      ...networksMetadata(handle.networks),
      ...params,
      latents: p.latents ? 'given' : undefined,
      scheduler: result.info.scheduler,
      rng: result.info.rng,
      timesteps: result.info.timesteps,
      prompt_chunks: result.info.promptChunks,
      prompt_truncated: result.info.promptTruncated,
      output_size: [params.width, params.height],
      ms,
    };
    const ids: string[] = [];
    for (let i = 0; i < images.length; i++) {
      const name = images.length === 1 ? `${jobId}/generated.png` : `${jobId}/generated-${i + 1}.png`;
      // Each image records its own seed (seed + i) and variation seed (subseed + i), as A1111's infotext does.
      const seed = result.info.seeds[i] ?? params.seed;
      const own = { seed, ...(params.subseed !== undefined ? { subseed: params.subseed + i } : {}) };
      const id = await services.artifacts.save(name, images[i], {
        ...metadata,
        ...own,
        stage: this.name,
        parameters: { ...params, latents: undefined, ...own, ...(p.loras.length ? { loras: p.loras } : {}) },
        batch_index: i,
      });
      context.addArtifact(id);
      ids.push(id);
    }
    context.set('image', images[0]);
    context.set('images', images);
    context.set('generated_artifacts', ids);
    context.set('seed', params.seed);
    context.set(LORAS_PARAMETER, p.loras);
    context.setMetadata(this.name, metadata);
    return context;
  }
}

