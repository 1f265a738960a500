import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';
import { VitePWA } from 'vite-plugin-pwa';

// Cross-origin isolation lets onnxruntime-web run multi-threaded WASM (SharedArrayBuffer).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [
    solid(),
    // Offline and installable: a workbox service worker precaches the whole build (app shell,
    // worker and ORT chunks, the ORT wasm, the bundled models) and announces a new deployment
    // instead of swapping it in silently (`prompt`: src/client/pwa.ts asks, the UI applies).
    VitePWA({
      registerType: 'prompt',
      // src/client/pwa.ts imports `virtual:pwa-register`; nothing is injected into index.html
      // except the manifest link.
      injectRegister: false,
      // The icons are in the precache glob below already.
      includeManifestIcons: false,
      manifest: {
        id: './',
        name: 'Media Lab',
        short_name: 'Media Lab',
        description: "Generate and enhance images on your own GPU, offline. Nothing leaves the browser.",
        lang: 'en',
        start_url: './',
        scope: './',
        display: 'standalone',
        theme_color: '#1f2430',
        background_color: '#14171e',
        categories: ['photo', 'graphics', 'productivity'],
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icons/maskable-192.png', sizes: '192x192', type: 'image/png', purpose: 'maskable' },
          { src: 'icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // Everything the app needs to run with no server: html/js/css (main, studio worker, the
        // separate onnxruntime-web chunk), the ORT wasm (~27 MB), the bundled models and their
        // list and licence, icons (the plugin adds manifest.webmanifest itself).
        globPatterns: ['**/*.{html,js,css,wasm,onnx,json,txt,png}'],
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
        // Hashed assets need no revision query; models/*.onnx keep content revisions.
        dontCacheBustURLsMatching: /^assets\//,
        // Any navigation inside the scope (e.g. `/?backend=wasm#/enhance`) gets the cached shell.
        navigateFallback: 'index.html',
        cleanupOutdatedCaches: true,
        // The first visit is controlled at once (offline works without a reload); updates still
        // wait for the user (no skipWaiting: the prompt flow posts SKIP_WAITING).
        clientsClaim: true,
        skipWaiting: false,
        inlineWorkboxRuntime: true,
        sourcemap: false,
      },
    }),
  ],
  server: { headers: isolation },
  preview: { headers: isolation },
  // onnxruntime-web ships its own wasm loader; pre-bundling breaks its import.meta.url lookups.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    // The ORT wasm binary is big by nature; do not warn about it.
    chunkSizeWarningLimit: 30_000,
  },
});
