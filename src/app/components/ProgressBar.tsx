import { Show } from 'solid-js';

export interface ProgressBarProps {
  /** Steps done; absent = indeterminate (waiting, no total known yet). */
  value?: number;
  max?: number;
  text: string;
  label?: string;
  testid?: string;
}

/** A div with role=progressbar so the value and the visible text live on one element. */
export function ProgressBar(props: ProgressBarProps) {
  const determinate = () => props.value !== undefined && !!props.max && props.max > 0;
  const percent = () => (determinate() ? Math.min(100, Math.max(0, (props.value! / props.max!) * 100)) : 0);
  return (
    <div
      class="progress"
      classList={{ indeterminate: !determinate() }}
      role="progressbar"
      aria-label={props.label ?? 'Progress'}
      aria-valuemin={0}
      aria-valuemax={determinate() ? props.max : undefined}
      aria-valuenow={determinate() ? props.value : undefined}
      aria-valuetext={props.text}
      data-testid={props.testid ?? 'progress'}
    >
      <div class="progress-track">
        <div class="progress-fill" style={{ width: determinate() ? `${percent()}%` : undefined }} />
      </div>
      <Show when={props.text}>
        <span class="progress-text">{props.text}</span>
      </Show>
    </div>
  );
}
