import type { Backend, BackendPreference, Capabilities } from '../../src/protocol/schemas';

type GpuAdapterLike = {
  features: { has(name: string): boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
};
type GpuLike = { requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null> };

export interface BackendChoice {
  backend: Backend;
  reason: string;
  webgpu: Capabilities['webgpu'];
  adapter: GpuAdapterLike | null;
}

/**
 * WebGPU when a hardware adapter exists; WASM otherwise. A software (fallback) adapter is
 * correct but far slower than WASM, so `auto` skips it; forcing `webgpu` still uses it.
 */
export async function chooseBackend(
  preference: BackendPreference,
  gpu: GpuLike | undefined = (globalThis.navigator as unknown as { gpu?: GpuLike } | undefined)?.gpu,
): Promise<BackendChoice> {
  let adapter: GpuAdapterLike | null = null;
  let adapterError = '';
  if (gpu) {
    try {
      adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch (err) {
      adapterError = err instanceof Error ? err.message : String(err);
    }
  }
  const fallback = Boolean(adapter && (adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter));
  const webgpu: Capabilities['webgpu'] = {
    available: adapter !== null,
    fallbackAdapter: fallback,
    vendor: adapter?.info?.vendor,
    architecture: adapter?.info?.architecture,
    description: adapter?.info?.description,
    shaderF16: adapter?.features.has('shader-f16') ?? false,
    maxBufferSize: adapter?.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter?.limits.maxStorageBufferBindingSize,
  };
  const forcedBy = preference.source === 'url' ? '?backend= in the address' : 'the backend setting';

  if (preference.backend === 'wasm') return { backend: 'wasm', reason: `WASM forced by ${forcedBy}`, webgpu, adapter };
  if (preference.backend === 'webgpu') {
    if (adapter) {
      const note = fallback ? ' (software adapter: slow)' : '';
      return { backend: 'webgpu', reason: `WebGPU forced by ${forcedBy}${note}`, webgpu, adapter };
    }
    const why = gpu ? `no WebGPU adapter${adapterError ? ` (${adapterError})` : ''}` : 'this browser has no WebGPU';
    return { backend: 'wasm', reason: `WebGPU was requested by ${forcedBy}, but ${why}: using WASM`, webgpu, adapter };
  }
  if (!gpu) return { backend: 'wasm', reason: 'this browser has no WebGPU', webgpu, adapter };
  if (!adapter) return { backend: 'wasm', reason: `no WebGPU adapter${adapterError ? ` (${adapterError})` : ''}`, webgpu, adapter };
  if (fallback) return { backend: 'wasm', reason: 'the only WebGPU adapter is a software fallback, slower than WASM', webgpu, adapter };
  return { backend: 'webgpu', reason: `WebGPU adapter ${webgpu.vendor || webgpu.description || ''}`.trim(), webgpu, adapter };
}
