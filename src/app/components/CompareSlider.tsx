import { createSignal } from 'solid-js';

export interface CompareSliderProps {
  before: string;
  after: string;
  /** Size of the result, for the frame's aspect ratio. */
  width?: number;
  height?: number;
  beforeLabel?: string;
  afterLabel?: string;
}

/**
 * Before/after overlay: the result fills the frame, the original (stretched to the same frame)
 * is clipped to the left of a divider the user drags.
 */
export function CompareSlider(props: CompareSliderProps) {
  const [position, setPosition] = createSignal(50);
  let frame!: HTMLDivElement;
  let dragging = false;

  const moveTo = (clientX: number) => {
    const box = frame.getBoundingClientRect();
    if (box.width <= 0) return;
    setPosition(Math.min(100, Math.max(0, ((clientX - box.left) / box.width) * 100)));
  };

  return (
    <figure class="compare" data-testid="compare">
      <div
        ref={frame}
        class="compare-frame"
        style={{ 'aspect-ratio': props.width && props.height ? `${props.width} / ${props.height}` : undefined }}
        onPointerDown={(event) => {
          dragging = true;
          frame.setPointerCapture(event.pointerId);
          moveTo(event.clientX);
        }}
        onPointerMove={(event) => {
          if (dragging) moveTo(event.clientX);
        }}
        onPointerUp={() => (dragging = false)}
        onPointerCancel={() => (dragging = false)}
      >
        <img class="compare-img compare-after" src={props.after} alt="Upscaled result" data-testid="result-image" draggable={false} />
        <img
          class="compare-img compare-before"
          src={props.before}
          alt="Original"
          draggable={false}
          style={{ 'clip-path': `inset(0 ${100 - position()}% 0 0)` }}
        />
        <div class="compare-divider" style={{ left: `${position()}%` }} aria-hidden="true" />
        <span class="compare-label compare-label-before">{props.beforeLabel ?? 'Before'}</span>
        <span class="compare-label compare-label-after">{props.afterLabel ?? 'After'}</span>
      </div>
      <input
        class="compare-range"
        type="range"
        min="0"
        max="100"
        step="0.5"
        value={position()}
        aria-label="Before/after divider"
        onInput={(event) => setPosition(Number(event.currentTarget.value))}
      />
    </figure>
  );
}
