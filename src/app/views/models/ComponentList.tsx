import { For, Show } from 'solid-js';
import type { ComponentRole, ModelInfo } from '../../../protocol/models';
import { formatBytes, formatDuration } from '../../format';
import { roleLabel } from './labels';

export interface ComponentLike {
  path: string;
  role: ComponentRole;
  bytes: number;
  dtype?: string;
  /** A graph the studio builds from a single-file checkpoint, not a stored file. */
  built?: boolean;
  /** How long its build took, once it was built. */
  buildMs?: number;
}

/** A model's stored files, then (for a single-file checkpoint) the graphs built from it. */
export function modelComponents(model: ModelInfo): ComponentLike[] {
  const built = (model.source?.built ?? []).map((role) => {
    const ms = Object.entries(model.source!.build_ms).find(([key]) => key.startsWith(`${role}/`))?.[1];
    return { path: `${role}/model.onnx`, role, bytes: 0, built: true, ...(ms !== undefined ? { buildMs: ms } : {}) };
  });
  return [...model.components, ...built];
}

/** The files of a model: path, what it is, size, weight dtype. */
export function ComponentList(props: { components: readonly ComponentLike[] }) {
  return (
    <Show when={props.components.length > 0} fallback={<p class="muted small">No components.</p>}>
      <table class="component-table" data-testid="component-list">
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Role</th>
            <th scope="col">Size</th>
            <th scope="col">Dtype</th>
          </tr>
        </thead>
        <tbody>
          <For each={props.components}>
            {(c) => (
              <tr data-testid="component">
                <td class="mono truncate" title={c.path}>
                  {c.path}
                </td>
                <td>{roleLabel(c.role)}</td>
                <td class="num">
                  <Show when={c.built} fallback={formatBytes(c.bytes)}>
                    <span class="muted small" data-testid="component-built">
                      built from the checkpoint{c.buildMs !== undefined ? ` in ${formatDuration(c.buildMs)}` : ' on first use'}
                    </span>
                  </Show>
                </td>
                <td class="mono">{c.dtype ?? '—'}</td>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </Show>
  );
}

/** "float16" or "float16, float32" over the components that have a dtype. */
export function dtypesOf(components: readonly ComponentLike[]): string {
  const set = [...new Set(components.map((c) => c.dtype).filter((d): d is string => !!d))];
  return set.length ? set.join(', ') : '—';
}
