// The browser's client of the center API (DESIGN §3): JSON in and out, the login cookie sent by the
// browser (never a token in storage), errors as ApiError with the API's code and message. A 401 on
// an operator route tells the app to show the login page.
import { orgView } from './orgs/me.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const UNAUTHORIZED_EVENT = 'tunaio:unauthorized';

export async function api<T>(path: string, init: { method?: string; body?: unknown; quiet401?: boolean } = {}): Promise<T> {
  let res: Response;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  // a platform admin's organisation view (orgs/me.ts)
  const view = orgView();
  if (view !== null) headers['x-tunaio-org'] = String(view);
  try {
    res = await fetch(path, {
      method: init.method ?? 'GET',
      credentials: 'same-origin',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch {
    throw new ApiError(0, 'network', 'the command center cannot be reached; check that it is running');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401 && !init.quiet401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

/**
 * Which form field an API error belongs to. Validation messages start with the field path
 * ("criteria.provider_ip: …", "duration_seconds: …"); some codes name their field.
 */
export function fieldOfError(e: ApiError): string {
  switch (e.code) {
    case 'criteria_required':
      return 'criteria';
    case 'unknown_agents':
    case 'disabled_agents':
    case 'no_agents_selected':
      return 'agents';
  }
  const m = /^([a-z_]+(?:\.[a-z_0-9]+)*):/.exec(e.message);
  if (!m) return 'form';
  const path = m[1].split('.');
  if (path[0] === 'criteria' && path.length > 1) return path[1];
  if (path[0] === 'agent_ids' || path[0] === 'agent_tags') return 'agents';
  return path[0];
}
