/**
 * Hash routing: `#/generate` (default), `#/enhance`, `#/models` and `#/gallery`, so a reload
 * keeps the view. A route may carry one parameter after it (`#/gallery/<artifact id>` opens
 * that image's details).
 */
import { createSignal } from 'solid-js';

export const ROUTES = ['generate', 'enhance', 'models', 'gallery'] as const;
export type Route = (typeof ROUTES)[number];

export const DEFAULT_ROUTE: Route = 'generate';

export function parseRoute(hash: string): Route {
  const match = /^#\/?([a-z-]+)/i.exec(hash);
  const name = match?.[1]?.toLowerCase();
  return (ROUTES as readonly string[]).includes(name ?? '') ? (name as Route) : DEFAULT_ROUTE;
}

/** The part after the route (`#/gallery/abc` → `abc`), or null. */
export function parseRouteParam(hash: string): string | null {
  const match = /^#\/?[a-z-]+\/([^/?#]+)/i.exec(hash);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

const [route, setRoute] = createSignal<Route>(parseRoute(location.hash));
const [routeParam, setRouteParam] = createSignal<string | null>(parseRouteParam(location.hash));
window.addEventListener('hashchange', () => {
  setRoute(parseRoute(location.hash));
  setRouteParam(parseRouteParam(location.hash));
});

export { route, routeParam };

export function navigate(next: Route, param?: string | null): void {
  const hash = param ? `#/${next}/${encodeURIComponent(param)}` : `#/${next}`;
  if (location.hash !== hash) location.hash = hash;
  setRoute(next);
  setRouteParam(param ?? null);
}

/** Changes the current route's parameter without a new history entry (e.g. the selected image). */
export function replaceRouteParam(param: string | null): void {
  const current = route();
  const hash = param ? `#/${current}/${encodeURIComponent(param)}` : `#/${current}`;
  if (location.hash !== hash) history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
  setRouteParam(param);
}
