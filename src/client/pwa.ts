/// <reference types="vite-plugin-pwa/client" />
/**
 * The service worker from the main thread's side: registers it (production builds only) and
 * tells the UI when the app works offline and when a new deployment is waiting.
 *
 * A new version never takes over on its own (`registerType: 'prompt'` in vite.config.ts): it
 * installs beside the running one, `onUpdateAvailable` fires, and the user's click calls
 * `applyUpdate()`, which activates it and reloads the page.
 *
 * Besides the callbacks, the same moments are dispatched on `window` as the events
 * `PWA_UPDATE_AVAILABLE_EVENT` and `PWA_OFFLINE_READY_EVENT` (for observers such as tests).
 */
import { registerSW } from 'virtual:pwa-register';

export const PWA_UPDATE_AVAILABLE_EVENT = 'media-lab:update-available';
export const PWA_OFFLINE_READY_EVENT = 'media-lab:offline-ready';

/** How often an open app asks the server for a new version (only while online). */
const UPDATE_CHECK_INTERVAL_MS = 60 * 60 * 1000;

export interface PwaState {
  /** The browser has service workers and this is a production build. */
  readonly supported: boolean;
  /** The registration succeeded. */
  readonly registered: boolean;
  /** Everything is precached: the app loads and runs with no server. */
  readonly offlineReady: boolean;
  /**
   * A new version is installed and waiting for `applyUpdate()` (or another tab activated it
   * already and this page runs the old code until it reloads).
   */
  readonly updateAvailable: boolean;
  /** Why the registration failed, if it did. */
  readonly error: string | null;
}

type Listener = () => void;

let state: PwaState = {
  supported: false,
  registered: false,
  offlineReady: false,
  updateAvailable: false,
  error: null,
};
let started = false;
let updateSW: ((reloadPage?: boolean) => Promise<void>) | null = null;
/** applyUpdate was called: reload as soon as the new version controls the page. */
let reloadRequested = false;
/** Another tab activated a new version; this page still runs the old code. */
let stale = false;
let registration: ServiceWorkerRegistration | null = null;
const updateListeners = new Set<Listener>();
const offlineListeners = new Set<Listener>();

function set(patch: Partial<PwaState>): void {
  state = { ...state, ...patch };
}

function notify(listeners: Set<Listener>, eventName: string): void {
  for (const listener of [...listeners]) {
    try {
      listener();
    } catch (error) {
      console.error(error);
    }
  }
  window.dispatchEvent(new CustomEvent(eventName));
}

/**
 * Registers the service worker once (later calls do nothing). Call it at startup from
 * `src/main.tsx`. In development (`vite` dev server) and where service workers are missing it
 * does nothing, so the dev server never serves stale files.
 */
export function registerPwa(): void {
  if (started) return;
  started = true;
  if (!import.meta.env.PROD || typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return;
  set({ supported: true });

  // The page reloads only when the user asked (applyUpdate). A new version that another tab
  // activated leaves this page's code stale (its lazily loaded files may be gone from the
  // cache): that is announced as an update too, and applyUpdate then just reloads.
  let controlled = navigator.serviceWorker.controller !== null;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloadRequested) {
      window.location.reload();
      return;
    }
    // The first install claiming this page is no update.
    if (controlled) {
      stale = true;
      announceUpdate();
    }
    controlled = true;
  });

  updateSW = registerSW({
    onNeedRefresh: announceUpdate,
    // Without this, workbox-window would reload on its own when the new worker takes over.
    onNeedReload() {},
    onOfflineReady() {
      if (state.offlineReady) return;
      set({ offlineReady: true });
      notify(offlineListeners, PWA_OFFLINE_READY_EVENT);
    },
    onRegisteredSW(_url, reg) {
      registration = reg ?? null;
      set({ registered: Boolean(reg) });
      if (!reg) return;
      // An already-controlled page whose precache is complete is offline-ready at once;
      // workbox only reports `offlineReady` on the first install.
      if (navigator.serviceWorker.controller && reg.active && !state.offlineReady) {
        set({ offlineReady: true });
        notify(offlineListeners, PWA_OFFLINE_READY_EVENT);
      }
      setInterval(() => {
        if (navigator.onLine) void checkForUpdate();
      }, UPDATE_CHECK_INTERVAL_MS);
    },
    onRegisterError(error: unknown) {
      set({ error: error instanceof Error ? error.message : String(error) });
    },
  });
}

function announceUpdate(): void {
  if (state.updateAvailable) return;
  set({ updateAvailable: true });
  notify(updateListeners, PWA_UPDATE_AVAILABLE_EVENT);
}

/** The current state (a snapshot; subscribe with the `on*` functions for changes). */
export function pwaState(): PwaState {
  return state;
}

/**
 * Calls `callback` when a new version is waiting (at once if one already is).
 * Returns a function that unsubscribes.
 */
export function onUpdateAvailable(callback: Listener): () => void {
  updateListeners.add(callback);
  if (state.updateAvailable) queueMicrotask(callback);
  return () => updateListeners.delete(callback);
}

/**
 * Calls `callback` when the app is fully cached and works offline (at once if it already
 * is). Returns a function that unsubscribes.
 */
export function onOfflineReady(callback: Listener): () => void {
  offlineListeners.add(callback);
  if (state.offlineReady) queueMicrotask(callback);
  return () => offlineListeners.delete(callback);
}

/**
 * Activates the waiting version and reloads the page once it controls it (or just reloads, if
 * another tab activated it already). Any running job in this tab is lost with the reload, so
 * the UI should offer it, not force it. Does nothing when no update is available.
 */
export async function applyUpdate(): Promise<void> {
  if (!state.updateAvailable) return;
  if (registration?.waiting && updateSW) {
    reloadRequested = true;
    await updateSW(true); // posts SKIP_WAITING to the waiting worker; `controllerchange` reloads
  } else if (stale) {
    window.location.reload();
  }
}

/**
 * Asks the server for a new version now (the browser also checks on every navigation). If
 * there is one, it installs in the background and `onUpdateAvailable` fires when it is ready.
 */
export async function checkForUpdate(): Promise<void> {
  if (!registration) return;
  try {
    await registration.update();
  } catch {
    // Offline or the server is gone: keep running the cached version.
  }
}
