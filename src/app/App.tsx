import { createEffect, createMemo, createResource, createSignal, ErrorBoundary, For, Match, onCleanup, onMount, Show, Switch } from 'solid-js';
import { applyUpdate, onUpdateAvailable } from '../client/pwa';
import { connectStudio } from '../client/studio-client';
import { BackendSettings } from './components/BackendSettings';
import { ErrorBanner } from './components/ErrorBanner';
import { backendDetails, describeBackend, plainError } from './format';
import {
  applyThemeChoice,
  nextThemeChoice,
  parseThemeChoice,
  readThemeChoice,
  safeLocalStorage,
  THEME_STORAGE_KEY,
  themeHint,
  themeName,
  writeThemeChoice,
} from './lib/theme';
import { navigate, route, type Route } from './router';
import { EnhanceView } from './views/EnhanceView';
import { GenerateView } from './views/GenerateView';
import { GalleryView } from './views/GalleryView';
import { ModelsView } from './views/ModelsView';

const NAV: Array<{ route: Route; label: string }> = [
  { route: 'generate', label: 'Generate' },
  { route: 'enhance', label: 'Enhance' },
  { route: 'models', label: 'Models' },
  { route: 'gallery', label: 'Gallery' },
];

/** How long the worker may take to answer before the status line says it is slow. */
const SLOW_START_MS = 20_000;

export function App() {
  const [caps] = createResource(() => connectStudio());
  const [slow, setSlow] = createSignal(false);

  onMount(() => {
    const timer = setTimeout(() => setSlow(caps.loading), SLOW_START_MS);
    onCleanup(() => clearTimeout(timer));

    // A file dropped outside a drop zone must not navigate away from the app.
    const swallow = (event: DragEvent) => {
      if (event.dataTransfer && Array.from(event.dataTransfer.types).includes('Files')) event.preventDefault();
    };
    window.addEventListener('dragover', swallow);
    window.addEventListener('drop', swallow);
    onCleanup(() => {
      window.removeEventListener('dragover', swallow);
      window.removeEventListener('drop', swallow);
    });
  });

  const backendText = createMemo(() => {
    if (caps.error) return 'Studio unavailable';
    if (caps.state === 'ready') return describeBackend(caps());
    return slow() ? 'Starting the studio… (still waiting)' : 'Starting the studio…';
  });
  // A new deployment waits until the user reloads (a running job would be cut short otherwise).
  const [updateAvailable, setUpdateAvailable] = createSignal(false);
  onCleanup(onUpdateAvailable(() => setUpdateAvailable(true)));

  const backendTitle = () => (caps.state === 'ready' ? backendDetails(caps()) : undefined);

  return (
    <div class="app">
      <header class="topbar">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          <h1>Media Lab</h1>
        </div>
        <nav class="nav" aria-label="Views">
          <For each={NAV}>
            {(item) => (
              <button
                type="button"
                class="nav-button"
                classList={{ active: route() === item.route }}
                aria-current={route() === item.route ? 'page' : undefined}
                data-testid={`nav-${item.route}`}
                onClick={() => navigate(item.route)}
              >
                {item.label}
              </button>
            )}
          </For>
        </nav>
        <div class="topbar-status">
          <span
            class="backend"
            classList={{ 'backend-error': !!caps.error, 'backend-pending': caps.loading }}
            data-testid="backend"
            title={backendTitle()}
          >
            {backendText()}
          </span>
          <ThemeToggle />
          <BackendSettings />
        </div>
      </header>

      <Show when={caps.error}>
        <ErrorBanner
          testid="worker-error"
          title="The studio could not start."
          message={`${plainError(caps.error)} Images cannot be processed until it starts; reloading the page usually helps.`}
          action={{ label: 'Reload', onClick: () => location.reload() }}
        />
      </Show>
      <Show when={updateAvailable()}>
        <div class="banner banner-info" role="status" data-testid="update-available">
          Update available —{' '}
          <button type="button" class="btn" data-testid="update-reload" onClick={() => void applyUpdate()}>
            reload
          </button>
        </div>
      </Show>
      <Show when={slow() && caps.loading}>
        <div class="banner banner-info" role="status">
          The studio is taking a long time to start. If this does not change, reload the page.
        </div>
      </Show>

      <main class="main">
        <ErrorBoundary
          fallback={(err, reset) => (
            <ErrorBanner
              testid="view-error"
              title="This view stopped working."
              message={plainError(err)}
              action={{ label: 'Try again', onClick: reset }}
            />
          )}
        >
          <Switch>
            <Match when={route() === 'generate'}>
              <GenerateView />
            </Match>
            <Match when={route() === 'gallery'}>
              <GalleryView />
            </Match>
            <Match when={route() === 'enhance'}>
              <EnhanceView />
            </Match>
            <Match when={route() === 'models'}>
              <ModelsView />
            </Match>
          </Switch>
        </ErrorBoundary>
      </main>
    </div>
  );
}

/**
 * System → Light → Dark. main.tsx applied the stored choice before the first render; this keeps
 * `<html data-theme>`, localStorage and other tabs in step with the button.
 */
function ThemeToggle() {
  const storage = safeLocalStorage();
  const [choice, setChoice] = createSignal(readThemeChoice(storage));
  const media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: light)') : undefined;
  const [prefersLight, setPrefersLight] = createSignal(media?.matches ?? false);

  onMount(() => {
    const onMedia = (event: MediaQueryListEvent) => setPrefersLight(event.matches);
    // Another tab changed the choice.
    const onStorage = (event: StorageEvent) => {
      if (event.key === THEME_STORAGE_KEY || event.key === null) setChoice(parseThemeChoice(event.newValue));
    };
    media?.addEventListener('change', onMedia);
    window.addEventListener('storage', onStorage);
    onCleanup(() => {
      media?.removeEventListener('change', onMedia);
      window.removeEventListener('storage', onStorage);
    });
  });

  createEffect(() => {
    applyThemeChoice(document.documentElement, choice());
    prefersLight();
    // The browser's own chrome (address bar on phones) follows the page's background.
    const bg = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim();
    const meta = document.querySelector('meta[name="theme-color"]');
    if (bg && meta) meta.setAttribute('content', bg);
  });

  const cycle = () => {
    const next = nextThemeChoice(choice());
    writeThemeChoice(storage, next);
    setChoice(next);
  };

  return (
    <button
      type="button"
      class="btn btn-small theme-toggle"
      data-testid="theme-toggle"
      data-choice={choice()}
      title={themeHint(choice(), prefersLight())}
      onClick={cycle}
    >
      <span class="theme-toggle-prefix">Theme: </span>
      {themeName(choice())}
    </button>
  );
}
