// Who is signed in (GET /api/me) and what the UI offers them: actions a role does not allow are hidden
// (the API refuses them anyway, 403 naming the role). A platform admin may pick an organisation to
// look at; the choice is sent as the X-TunaIO-Org header with every API call (api.ts) and kept for the
// browser tab only.
import { createContext, useContext } from 'react';
import { roleAllows } from '../../core/schema/org.js';
import type { Me, Role } from '../../core/schema/org.js';

export const MeContext = createContext<Me | null>(null);

export function useMe(): Me | null {
  return useContext(MeContext);
}

/** whether the signed-in user has at least `role` (false while unknown) */
export function useCan(role: Role): boolean {
  const me = useMe();
  return me !== null && roleAllows(me.role, role);
}

const VIEW_KEY = 'tunaio.orgView';

/** the organisation a platform admin looks at, or null for all of them */
export function orgView(): number | null {
  const v = Number(sessionStorage.getItem(VIEW_KEY));
  return Number.isInteger(v) && v > 0 ? v : null;
}

export function setOrgView(id: number | null): void {
  if (id === null) sessionStorage.removeItem(VIEW_KEY);
  else sessionStorage.setItem(VIEW_KEY, String(id));
}
