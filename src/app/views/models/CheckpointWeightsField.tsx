import { createSignal, For, Show } from 'solid-js';
import { CHECKPOINT_WEIGHTS, type CheckpointWeightsChoice, type ModelInfo } from '../../../protocol/models';
import { plainError } from '../../format';
import type { ModelsStore } from '../../stores/models';

const LABELS: Record<CheckpointWeightsChoice, string> = {
  auto: 'Automatic (float16 on WebGPU, or when float32 does not fit)',
  checkpoint: 'As in the file (float32)',
  float16: 'float16 copies (half the memory)',
};

/** Whether a single-file checkpoint has weights wider than float16 (only those can be converted). */
export function hasWideWeights(model: ModelInfo): boolean {
  const file = model.components.find((c) => c.role === 'checkpoint_weights');
  return !!model.source && !!file?.dtype && file.dtype.split('/').some((d) => d !== 'F16');
}

/**
 * How a float32 single-file checkpoint's weights are held when it runs (ModelSource.weights):
 * float16 copies take half the memory — what a full-size model needs on WASM's 4 GB and on most
 * GPUs — at the cost of converting at each load; the next load follows the choice.
 */
export function CheckpointWeightsField(props: { model: ModelInfo; store: ModelsStore }) {
  const [error, setError] = createSignal<string | null>(null);
  const [saving, setSaving] = createSignal(false);
  const id = () => `weights-${props.model.name.replace(/[^\w-]/g, '_')}`;
  const change = async (value: CheckpointWeightsChoice) => {
    setSaving(true);
    setError(null);
    try {
      await props.store.update(props.model.name, { checkpoint_weights: value });
    } catch (err) {
      setError(plainError(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <div class="field checkpoint-weights">
      <label class="small" for={id()}>
        Weights
      </label>
      <select
        id={id()}
        data-testid="checkpoint-weights"
        value={props.model.source?.weights ?? 'auto'}
        disabled={saving() || props.model.read_only}
        onChange={(e) => void change(e.currentTarget.value as CheckpointWeightsChoice)}
      >
        <For each={CHECKPOINT_WEIGHTS}>{(choice) => <option value={choice}>{LABELS[choice]}</option>}</For>
      </select>
      <Show when={error()}>
        <p class="field-error" role="alert">
          {error()}
        </p>
      </Show>
    </div>
  );
}
