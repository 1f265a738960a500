import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// Cross-origin isolation lets onnxruntime-web run multi-threaded WASM (SharedArrayBuffer).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [solid()],
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
