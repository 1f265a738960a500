/** Where a runnable image-generation model comes from (shown while no checkpoint is imported). */
export function CheckpointGuidance() {
  return (
    <aside class="panel guidance" data-testid="checkpoint-guidance" aria-labelledby="guidance-title">
      <h3 id="guidance-title" class="panel-subtitle">
        No checkpoint yet: where to get one that runs here
      </h3>
      <p>
        Generating images needs a <strong>Stable Diffusion model</strong>. Three kinds work:
      </p>
      <ul>
        <li>
          A <strong>single-file SD 1.x or 2.x checkpoint</strong> (<code>.safetensors</code>, the usual download from
          model sites): import the file; the studio builds its text encoder, UNet and VAE on first use and keeps
          them for the next time.
        </li>
        <li>
          An ONNX export, as its whole folder (<em>Import folder…</em> or drop the folder here):{' '}
          <strong>SD-Turbo</strong> as exported for onnxruntime-web: a folder with <code>text_encoder/</code>,{' '}
          <code>unet/</code> and <code>vae_decoder/</code>, each holding a <code>model.onnx</code>.
        </li>
        <li>
          <strong>Stable Diffusion 1.5</strong> (or another SD model) exported with Hugging Face <strong>Optimum</strong>:
          <pre class="command">optimum-cli export onnx --model &lt;model&gt; --task stable-diffusion &lt;out&gt;</pre>
          For half-size float16 weights (they load faster and fit more easily) add{' '}
          <code>--device cuda --dtype fp16</code>: optimum writes fp16 only on a CUDA device, so that needs an NVIDIA GPU.
          The output folder holds <code>model_index.json</code>, <code>text_encoder/</code>, <code>unet/</code> (
          <code>model.onnx</code> + <code>model.onnx_data</code>), <code>vae_decoder/</code>, <code>vae_encoder/</code>
          , <code>tokenizer/</code> and <code>scheduler/</code>.
        </li>
      </ul>
      <p class="muted small">
        <code>.ckpt</code> and <code>.pt</code> files must be converted first: they are Python pickles, which can run
        code when loaded and which no browser can read. SDXL and later single-file checkpoints must be exported to
        ONNX too, with the optimum command above on a diffusers copy of them.
      </p>
    </aside>
  );
}
