/** Hash routing: `#/enhance` (default), `#/models` and `#/gallery`, so a reload keeps the view. */
import { createSignal } from 'solid-js';

export const ROUTES = ['enhance', 'models', 'gallery'] as const;
export type Route = (typeof ROUTES)[number];

export function parseRoute(hash: string): Route {
  const match = /^#\/?([a-z-]+)/i.exec(hash);
  const name = match?.[1]?.toLowerCase();
  return (ROUTES as readonly string[]).includes(name ?? '') ? (name as Route) : 'enhance';
}

const [route, setRoute] = createSignal<Route>(parseRoute(location.hash));
window.addEventListener('hashchange', () => setRoute(parseRoute(location.hash)));

export { route };

export function navigate(next: Route): void {
  if (location.hash !== `#/${next}`) location.hash = `#/${next}`;
  setRoute(next);
}
