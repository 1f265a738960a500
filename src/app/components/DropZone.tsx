import { createSignal, splitProps, type JSX } from 'solid-js';

export interface DropZoneProps extends Omit<JSX.HTMLAttributes<HTMLElement>, 'onDrop'> {
  onFiles?: (files: File[]) => void;
  /**
   * Gets the whole DataTransfer instead of its files (to walk dropped folders). Called
   * synchronously inside the drop event: read `items` before awaiting anything.
   */
  onTransfer?: (transfer: DataTransfer) => void;
  /** Text shown over the zone while files are dragged onto it. */
  hint?: string;
  children: JSX.Element;
}

function hasFiles(event: DragEvent): boolean {
  return !!event.dataTransfer && Array.from(event.dataTransfer.types).includes('Files');
}

/** A section that accepts dropped files anywhere on it and highlights while dragged over. */
export function DropZone(props: DropZoneProps) {
  const [local, rest] = splitProps(props, ['onFiles', 'onTransfer', 'hint', 'children', 'class']);
  const [over, setOver] = createSignal(false);
  // dragenter/dragleave fire for every child; count them so the highlight does not flicker.
  let depth = 0;

  return (
    <section
      {...rest}
      class={`dropzone ${local.class ?? ''}`}
      classList={{ 'drag-over': over() }}
      onDragEnter={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth++;
        setOver(true);
      }}
      onDragOver={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={(event) => {
        if (!hasFiles(event)) return;
        depth = Math.max(0, depth - 1);
        if (depth === 0) setOver(false);
      }}
      onDrop={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth = 0;
        setOver(false);
        if (local.onTransfer && event.dataTransfer) {
          local.onTransfer(event.dataTransfer);
          return;
        }
        const files = Array.from(event.dataTransfer?.files ?? []);
        if (files.length) local.onFiles?.(files);
      }}
    >
      {local.children}
      <div class="dropzone-overlay" aria-hidden="true">
        <span>{local.hint ?? 'Drop to open'}</span>
      </div>
    </section>
  );
}
