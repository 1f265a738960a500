/** Small, pure formatting helpers for the UI (no DOM, no worker). */
import type { Capabilities } from '../protocol/schemas';

/** An error as a sentence a person can read: no "Error:" prefixes, no stack. */
export function plainError(err: unknown): string {
  let message: string;
  if (err instanceof Error) message = err.message;
  else if (typeof err === 'string') message = err;
  else if (err && typeof err === 'object' && 'message' in err) message = String((err as { message: unknown }).message);
  else message = '';
  message = message.replace(/^(?:[A-Za-z]*Error:\s*)+/, '').trim();
  if (!message) return 'Something went wrong.';
  return message;
}

/** "320 ms", "2.1 s", "1 min 05 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** Coarse remaining time: "4 s", "2 min". */
export function formatEta(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  return `${Math.round(seconds / 60)} min`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

export function formatSize(width: number | undefined, height: number | undefined): string {
  if (!width || !height) return '—';
  return `${width}×${height}`;
}

export function formatDate(timestamp: number): string {
  if (!Number.isFinite(timestamp)) return '—';
  return new Date(timestamp).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** `<job>/generated_upscaled.png` → `generated_upscaled.png`. */
export function basename(name: string): string {
  const parts = name.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? name;
}

/** "WASM · 2 threads · cross-origin isolated — no WebGPU adapter". */
export function describeBackend(caps: Capabilities): string {
  const parts: string[] = [];
  if (caps.backend === 'webgpu') {
    parts.push('WebGPU');
    const adapter = [caps.webgpu.vendor, caps.webgpu.architecture].filter(Boolean).join(' ');
    if (adapter) parts.push(adapter);
    if (caps.webgpu.fallbackAdapter) parts.push('software adapter');
    parts.push(caps.webgpu.shaderF16 ? 'shader-f16' : 'no shader-f16');
  } else {
    parts.push('WASM');
    parts.push(`${caps.threads} thread${caps.threads === 1 ? '' : 's'}`);
    parts.push(caps.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated');
  }
  const text = parts.join(' · ');
  return caps.reason ? `${text} — ${caps.reason}` : text;
}

/** Longer details for a tooltip. */
export function backendDetails(caps: Capabilities): string {
  const lines = [`ONNX Runtime ${caps.ortVersion}`];
  const gpu = caps.webgpu;
  if (gpu.available) {
    const name = [gpu.vendor, gpu.architecture, gpu.description].filter(Boolean).join(' / ');
    lines.push(`WebGPU adapter: ${name || 'unnamed'}${gpu.fallbackAdapter ? ' (software)' : ''}`);
    lines.push(`shader-f16: ${gpu.shaderF16 ? 'yes' : 'no'}`);
    if (gpu.maxBufferSize) lines.push(`max buffer: ${formatBytes(gpu.maxBufferSize)}`);
    if (gpu.maxStorageBufferBindingSize) lines.push(`max storage binding: ${formatBytes(gpu.maxStorageBufferBindingSize)}`);
  } else {
    lines.push('WebGPU: not available');
  }
  lines.push(`WASM threads: ${caps.threads}`);
  lines.push(`cross-origin isolated: ${caps.crossOriginIsolated ? 'yes' : 'no'}`);
  return lines.join('\n');
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
