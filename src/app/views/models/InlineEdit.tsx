import { createSignal, Show, type JSX } from 'solid-js';
import { plainError } from '../../format';

export interface InlineEditProps {
  /** Current value as text. */
  value: string;
  /** Shown when the value is empty. */
  placeholder: string;
  label: string;
  testid: string;
  /** Text of the button that opens the editor. */
  editLabel?: string;
  /**
   * That button's accessible name; it must start with its visible text (WCAG 2.5.3, so "click
   * Rename" works by voice). Defaults to "Edit <label>".
   */
  editName?: string;
  readOnly?: boolean;
  multiline?: boolean;
  /** What the value looks like when not editing (defaults to the text). */
  view?: JSX.Element;
  /** Saves; a rejection keeps the editor open with the error shown. */
  onSave: (text: string) => Promise<unknown>;
}

/** A value with an Edit button; Enter (or Save) saves, Escape cancels, errors stay in place. */
export function InlineEdit(props: InlineEditProps) {
  const [editing, setEditing] = createSignal(false);
  const [draft, setDraft] = createSignal('');
  const [saving, setSaving] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  const open = () => {
    setDraft(props.value);
    setError(null);
    setEditing(true);
  };
  const close = () => {
    setEditing(false);
    setError(null);
  };
  const save = async () => {
    if (saving()) return;
    if (draft() === props.value) return close();
    setSaving(true);
    setError(null);
    try {
      await props.onSave(draft());
      setEditing(false);
    } catch (err) {
      setError(plainError(err));
    } finally {
      setSaving(false);
    }
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      close();
    } else if (event.key === 'Enter' && (!props.multiline || event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void save();
    }
  };

  return (
    <div class="inline-edit" data-testid={props.testid}>
      <Show
        when={editing()}
        fallback={
          <div class="inline-edit-view">
            <span class="inline-edit-value" classList={{ muted: !props.value }}>
              {props.value ? (props.view ?? props.value) : props.placeholder}
            </span>
            <Show when={!props.readOnly}>
              <button
                type="button"
                class="btn btn-ghost btn-small btn-link"
                aria-label={props.editName ?? `${props.editLabel ?? 'Edit'} ${props.label}`}
                data-testid={`${props.testid}-edit`}
                onClick={open}
              >
                {props.editLabel ?? 'Edit'}
              </button>
            </Show>
          </div>
        }
      >
        <form
          class="inline-edit-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <Show
            when={props.multiline}
            fallback={
              <input
                ref={(el) => queueMicrotask(() => el.focus())}
                type="text"
                value={draft()}
                aria-label={props.label}
                disabled={saving()}
                data-testid={`${props.testid}-input`}
                onInput={(e) => setDraft(e.currentTarget.value)}
                onKeyDown={onKey}
              />
            }
          >
            <textarea
              ref={(el) => queueMicrotask(() => el.focus())}
              rows="2"
              value={draft()}
              aria-label={props.label}
              disabled={saving()}
              data-testid={`${props.testid}-input`}
              onInput={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={onKey}
            />
          </Show>
          <div class="inline-edit-actions">
            <button type="submit" class="btn btn-primary btn-small" disabled={saving()} data-testid={`${props.testid}-save`}>
              Save
            </button>
            <button type="button" class="btn btn-small" disabled={saving()} onClick={close}>
              Cancel
            </button>
          </div>
          <Show when={error()}>
            <p class="field-error" role="alert" data-testid={`${props.testid}-error`}>
              {error()}
            </p>
          </Show>
        </form>
      </Show>
    </div>
  );
}
