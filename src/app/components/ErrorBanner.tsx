import { Show, type JSX } from 'solid-js';

export interface ErrorBannerProps {
  title?: string;
  message: string;
  testid?: string;
  action?: { label: string; onClick: () => void; testid?: string };
  onDismiss?: () => void;
  children?: JSX.Element;
}

export function ErrorBanner(props: ErrorBannerProps) {
  return (
    <div class="banner banner-error" role="alert" data-testid={props.testid}>
      <div class="banner-body">
        <Show when={props.title}>
          <strong class="banner-title">{props.title}</strong>
        </Show>
        <span class="banner-message">{props.message}</span>
        {props.children}
      </div>
      <div class="banner-actions">
        <Show when={props.action}>
          {(action) => (
            <button type="button" class="btn" data-testid={action().testid} onClick={() => action().onClick()}>
              {action().label}
            </button>
          )}
        </Show>
        <Show when={props.onDismiss}>
          <button type="button" class="btn btn-ghost" aria-label="Dismiss" onClick={() => props.onDismiss?.()}>
            ✕
          </button>
        </Show>
      </div>
    </div>
  );
}
