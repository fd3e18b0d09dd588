// /api/sessions: create, list, get, events, stream (SSE), stop and purge (DESIGN §3).
// Each handler: validate (zod) → action (service.ts) → present (present.ts).
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import { SESSION_STATUSES, sessionCreateSchema, sessionIdParamsSchema, sessionIdSchema } from '../../../core/schema/index.js';
import type { DialogPage, EventPage, SessionList, SessionStatus } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { audit } from '../../auth/audit.js';
import { caller, sees } from '../../http/auth.js';
import { serveStream } from '../../sse/stream.js';
import { dialogsPage, eventsPage } from './dialogs.js';
import { presentCreated, presentSummary } from './present.js';
import { createSession, getSessionOr404, purgeSession, sessionDetail } from './service.js';

export const listQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: sessionIdSchema.optional(),
    /** a part of the label or criteria (any case), or a Call-ID seen in the session */
    q: z.string().trim().max(200, 'q is at most 200 characters').optional(),
    /** comma-separated: running, stopped, expired */
    status: z
      .string()
      .transform((v, c) => {
        const list = v.split(',').filter((x) => x !== '');
        const bad = list.find((x) => !(SESSION_STATUSES as readonly string[]).includes(x));
        if (bad !== undefined) {
          c.addIssue({ code: 'custom', message: `status: "${bad}" is not one of ${SESSION_STATUSES.join(', ')}` });
          return z.NEVER;
        }
        return list as SessionStatus[];
      })
      .optional(),
    agent_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    shared: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  })
  .strict();

export const streamQuerySchema = z
  .object({ after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() })
  .strict();

export const deleteQuerySchema = z.object({ purge: z.enum(['0', '1', 'true', 'false']).optional() }).strict();

export function sessionRoutes(app: FastifyInstance, ctx: CenterContext): void {
  const viewer = { config: { auth: 'viewer' as const } };
  const operator = { config: { auth: 'operator' as const } };

  app.post('/api/sessions', operator, async (req, reply) => {
    const body = sessionCreateSchema.parse(req.body ?? {});
    const s = await createSession(ctx, body, caller(req));
    await audit(ctx, req, { action: 'session.create', org_id: s.org_id, resource: `session:${s.id}`, detail: s.label === '' ? undefined : s.label });
    return reply.status(201).send(presentCreated(s));
  });

  app.get('/api/sessions', viewer, async (req): Promise<SessionList> => {
    const q = listQuerySchema.parse(req.query);
    const who = caller(req);
    const cursor = q.before === undefined ? null : await ctx.storage.getSession(q.before);
    if (q.before !== undefined && !(cursor && sees(who, cursor.org_id))) {
      throw new TunaError('bad_request', `before: no session ${q.before}`);
    }
    const { sessions, more } = await ctx.storage.listSessions({
      scope: who.scope,
      limit: q.limit,
      before: q.before,
      q: q.q,
      statuses: q.status,
      agent_id: q.agent_id,
      shared: q.shared,
    });
    return {
      sessions: sessions.map(presentSummary),
      next_before: more && sessions.length > 0 ? sessions[sessions.length - 1].id : null,
      more,
    };
  });

  app.get('/api/sessions/:id', viewer, async (req) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    return sessionDetail(ctx, await getSessionOr404(ctx, id, caller(req)));
  });

  app.get('/api/sessions/:id/events', viewer, async (req): Promise<EventPage> => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    await getSessionOr404(ctx, id, caller(req));
    return eventsPage(ctx, id, req.query);
  });

  app.get('/api/sessions/:id/dialogs', viewer, async (req): Promise<DialogPage> => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    await getSessionOr404(ctx, id, caller(req));
    return dialogsPage(ctx, id, req.query);
  });

  app.get('/api/sessions/:id/stream', viewer, async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const q = streamQuerySchema.parse(req.query);
    const header = req.headers['last-event-id'];
    let after = q.after ?? 0;
    if (typeof header === 'string' && header.trim() !== '') {
      // Last-Event-ID (a reconnecting EventSource) wins over ?after=
      after = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).parse(header.trim(), {
        error: () => 'Last-Event-ID must be an event id',
      });
    }
    await getSessionOr404(ctx, id, caller(req));
    await serveStream(ctx, req, reply, id, after);
  });

  app.delete('/api/sessions/:id', { config: { auth: 'operator', body: false } }, async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const q = deleteQuerySchema.parse(req.query);
    const who = caller(req);
    const s = await getSessionOr404(ctx, id, who);
    if (q.purge === '1' || q.purge === 'true') {
      await purgeSession(ctx, s);
      await audit(ctx, req, { action: 'session.purge', org_id: s.org_id, resource: `session:${s.id}` });
      return reply.status(204).send();
    }
    // stopping a session that already ended is a no-op: DELETE is idempotent and answers the session
    if (s.status === 'running' && (await ctx.lifecycle.stop(id))) {
      void ctx.agents.pushStop(id);
      await audit(ctx, req, { action: 'session.stop', org_id: s.org_id, resource: `session:${s.id}` });
    }
    return sessionDetail(ctx, await getSessionOr404(ctx, id, who));
  });
}
