import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { preview, type PreviewServer } from 'vite';
import type { BrowserContext, Request } from '@playwright/test';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface AppServer {
  url: string;
  origin: string;
  close(): Promise<void>;
}

/**
 * Serves the built app (dist/, or `outDir` when given) on a free loopback port (or `port`, to
 * restart on the same origin), with the same headers as production.
 */
export async function startAppServer(port = 0, outDir?: string): Promise<AppServer> {
  const server: PreviewServer = await preview({
    root,
    configFile: `${root}/vite.config.ts`,
    logLevel: 'warn',
    preview: { port, host: '127.0.0.1', strictPort: port !== 0, open: false },
    ...(outDir ? { build: { outDir } } : {}),
  });
  const address = server.httpServer.address() as AddressInfo;
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    url: `${origin}/`,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        // Drop keep-alive sockets too, or the browser keeps talking to a "stopped" server.
        (server.httpServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.httpServer.close(() => resolve());
      }),
  };
}

/** Records every request that leaves the app's own origin (and blocks it). */
export async function guardOrigin(context: BrowserContext, origin: string): Promise<string[]> {
  const foreign: string[] = [];
  const check = (request: Request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (!url.startsWith(`${origin}/`)) foreign.push(url);
  };
  context.on('request', check);
  await context.route(
    (url) => !url.href.startsWith(`${origin}/`) && url.protocol !== 'data:' && url.protocol !== 'blob:',
    (route) => {
      foreign.push(route.request().url());
      return route.abort();
    },
  );
  return foreign;
}
