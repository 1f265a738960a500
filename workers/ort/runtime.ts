/**
 * Loads onnxruntime-web in the worker (the only place that does) and sets its environment
 * before the first session: self-hosted wasm, threads under cross-origin isolation.
 */
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import type { BackendPreference, Capabilities } from '../../src/protocol/schemas';
import { chooseBackend, type BackendChoice } from './backend';
import type { Ort } from './types';

export interface OrtRuntime {
  ort: Ort;
  choice: BackendChoice;
  capabilities: Capabilities;
}

export async function startOrt(preference: BackendPreference): Promise<OrtRuntime> {
  const choice = await chooseBackend(preference);
  // A separate chunk: ORT's thread workers re-load the module they came from, so it must not
  // be bundled into the studio worker itself.
  const ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
  const isolated = globalThis.crossOriginIsolated === true;
  const threads = isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, self.location.href).href };
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  if (choice.backend === 'webgpu' && choice.adapter) {
    (ort.env.webgpu as { adapter?: unknown }).adapter = choice.adapter;
  }
  const capabilities: Capabilities = {
    backend: choice.backend,
    reason: choice.reason,
    webgpu: choice.webgpu,
    threads,
    crossOriginIsolated: isolated,
    ortVersion: ort.env.versions?.web ?? 'unknown',
  };
  return { ort, choice, capabilities };
}
