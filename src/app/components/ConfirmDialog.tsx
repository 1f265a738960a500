import { onCleanup, onMount, type JSX } from 'solid-js';

export interface ConfirmDialogProps {
  title: string;
  children: JSX.Element;
  confirmLabel: string;
  cancelLabel?: string;
  danger?: boolean;
  busy?: boolean;
  confirmTestid?: string;
  cancelTestid?: string;
  onConfirm: () => void;
  onCancel: () => void;
}

let nextId = 0;

/** An in-page confirmation (never window.confirm): Escape or the backdrop cancels. */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const titleId = `confirm-title-${++nextId}`;
  let cancelButton!: HTMLButtonElement;
  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && !props.busy) {
      event.stopPropagation();
      props.onCancel();
    }
  };
  onMount(() => {
    cancelButton.focus();
    window.addEventListener('keydown', onKey, true);
  });
  onCleanup(() => window.removeEventListener('keydown', onKey, true));

  return (
    <div
      class="modal-backdrop"
      onClick={(event) => {
        if (event.target === event.currentTarget && !props.busy) props.onCancel();
      }}
    >
      <div class="modal" role="alertdialog" aria-modal="true" aria-labelledby={titleId} data-testid="confirm-dialog">
        <h2 id={titleId} class="modal-title">
          {props.title}
        </h2>
        <div class="modal-body">{props.children}</div>
        <div class="modal-actions">
          <button
            ref={cancelButton}
            type="button"
            class="btn"
            data-testid={props.cancelTestid}
            disabled={props.busy}
            onClick={() => props.onCancel()}
          >
            {props.cancelLabel ?? 'Cancel'}
          </button>
          <button
            type="button"
            class="btn"
            classList={{ 'btn-danger': !!props.danger, 'btn-primary': !props.danger }}
            data-testid={props.confirmTestid}
            disabled={props.busy}
            onClick={() => props.onConfirm()}
          >
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
