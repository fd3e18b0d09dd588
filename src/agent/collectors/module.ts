// A user's collector module (`tunaio agent --collector PATH`): a JavaScript file exporting
// `createCollector(ctx)` (named or default export, docs/collectors.md). Loading is the only thing this
// module owns; a module that cannot be loaded becomes a collector that is `failed` with the reason,
// so the agent starts anyway and says why in its status.
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CreateCollector } from './collector.js';

export async function loadCollectorModule(path: string): Promise<{ name: string; create: CreateCollector }> {
  const name = `collector:${basename(path)}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (e) {
    const why = (e as Error)?.message ?? String(e);
    return { name, create: failing(`cannot load ${path}: ${why}`) };
  }
  const dflt = mod.default as Record<string, unknown> | ((...a: unknown[]) => unknown) | undefined;
  const create =
    mod.createCollector ?? (typeof dflt === 'function' ? dflt : typeof dflt === 'object' && dflt !== null ? dflt.createCollector : undefined);
  if (typeof create !== 'function') return { name, create: failing(`${path} does not export createCollector(ctx)`) };
  return { name, create: create as CreateCollector };
}

function failing(reason: string): CreateCollector {
  return () => {
    throw new Error(reason);
  };
}
