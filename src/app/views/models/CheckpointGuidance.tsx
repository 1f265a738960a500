/** Where a runnable image-generation model comes from (shown while no checkpoint is imported). */
export function CheckpointGuidance() {
  return (
    <aside class="panel guidance" data-testid="checkpoint-guidance" aria-labelledby="guidance-title">
      <h3 id="guidance-title" class="panel-subtitle">
        No checkpoint yet: where to get one that runs here
      </h3>
      <p>
        Generating images needs a <strong>Stable Diffusion model exported to ONNX, in float16</strong>. Import its
        whole folder with <em>Import folder…</em> or by dropping the folder here. Two layouts work:
      </p>
      <ul>
        <li>
          <strong>SD-Turbo</strong> as exported for onnxruntime-web: a folder with <code>text_encoder/</code>,{' '}
          <code>unet/</code> and <code>vae_decoder/</code>, each holding a <code>model.onnx</code>.
        </li>
        <li>
          <strong>Stable Diffusion 1.5</strong> (or another SD model) exported with Hugging Face <strong>Optimum</strong>:
          <pre class="command">
            optimum-cli export onnx --model &lt;model&gt; --task stable-diffusion --dtype fp16 &lt;out&gt;
          </pre>
          The output folder holds <code>model_index.json</code>, <code>text_encoder/</code>, <code>unet/</code> (
          <code>model.onnx</code> + <code>model.onnx_data</code>), <code>vae_decoder/</code>, <code>vae_encoder/</code>
          , <code>tokenizer/</code> and <code>scheduler/</code>.
        </li>
      </ul>
      <p class="muted small">
        <code>.ckpt</code> and <code>.pt</code> files must be converted first: they are Python pickles, which can run
        code when loaded and which no browser can read. A single-file <code>.safetensors</code> checkpoint (the usual
        download) must be converted too, with the optimum command above on a diffusers copy of it.
      </p>
    </aside>
  );
}
