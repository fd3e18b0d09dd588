// The audit log (GET /api/audit): who did what to which resource, when and from where. Written by the
// routes after the action succeeded (failed logins too); read per organisation (docs/organisations.md).
import type { FastifyRequest } from 'fastify';
import type { AuditAction } from '../../core/schema/index.js';
import type { CenterContext } from '../context.js';

/** who made the request: the user, `user/token` for an API token, `share link`, or `fallback` */
export function actorOf(req: FastifyRequest, fallback = 'anonymous'): string {
  const p = req.principal;
  if (p?.kind === 'user') return p.token ? `${p.user.username}/${p.token.name}` : p.user.username;
  if (p?.kind === 'agent') return `agent ${p.agent.name}`;
  return fallback;
}

export interface AuditWhat {
  action: AuditAction;
  /** the organisation whose admins see the entry; null: platform admins only */
  org_id: number | null;
  resource?: string;
  detail?: string;
  /** the actor when the request carries no principal (a login, a share link) */
  actor?: string;
}

export async function audit(ctx: CenterContext, req: FastifyRequest, what: AuditWhat): Promise<void> {
  await ctx.storage.appendAudit({
    at: ctx.config.now(),
    org_id: what.org_id,
    actor: what.actor ?? actorOf(req),
    ip: req.ip,
    action: what.action,
    resource: what.resource ?? null,
    detail: what.detail ?? null,
  });
}
