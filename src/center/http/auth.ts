// Authentication of every request: `Authorization: Bearer <token>` (operator API token or agent
// token) or the login cookie (operators only). Each route declares who may call it in its config
// (`auth: 'operator' | 'agent' | 'metrics' | 'public'`, operator when omitted: secure by default). An agent
// token on an operator route, or operator credentials on the ingest route, get 403. Runs onRequest,
// before the body is read, so nobody without credentials can make the center parse a large body.
// State-changing requests without a bearer token must come from the center's own origin (hardening.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TunaError } from '../../core/errors.js';
import { digestsEqual, hashToken } from '../auth/secrets.js';
import { checkOrigin } from './hardening.js';
import type { CenterContext } from '../context.js';
import type { AgentRecord, UserRecord } from '../storage/types.js';

export const SESSION_COOKIE = 'tunaio_session';

/** `metrics`: an operator, or the scrape token (--metrics-token) that may read /metrics and nothing else */
export type AuthRequirement = 'operator' | 'agent' | 'metrics' | 'public';

export type Principal =
  | { kind: 'operator'; user: UserRecord; via: 'token' | 'cookie' }
  | { kind: 'agent'; agent: AgentRecord }
  | { kind: 'scraper' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    auth?: AuthRequirement;
  }
}

async function identify(ctx: CenterContext, req: FastifyRequest): Promise<Principal | null> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+([\x21-\x7e]{1,512})\s*$/i.exec(header);
    if (!m) throw new TunaError('unauthorized', 'the Authorization header must be "Bearer <token>"');
    const digest = hashToken(m[1]);
    if (ctx.metricsTokenHash !== null && digestsEqual(ctx.metricsTokenHash, digest)) return { kind: 'scraper' };
    const user = await ctx.storage.getUserByTokenHash(digest);
    if (user?.token_hash && digestsEqual(user.token_hash, digest)) return { kind: 'operator', user, via: 'token' };
    const agent = await ctx.storage.getAgentByTokenHash(digest);
    if (agent && digestsEqual(agent.token_hash, digest)) return { kind: 'agent', agent };
    throw new TunaError('unauthorized', 'invalid token');
  }
  const cookie = req.cookies?.[SESSION_COOKIE];
  if (cookie !== undefined && cookie !== '') {
    const user = await ctx.storage.getWebSessionUser(hashToken(cookie), ctx.config.now());
    if (!user) throw new TunaError('unauthorized', 'your login has expired; log in again');
    return { kind: 'operator', user, via: 'cookie' };
  }
  return null;
}

export function registerAuth(app: FastifyInstance, ctx: CenterContext): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    // unmatched routes have no config: the not-found handler answers 404 for everyone
    if (req.routeOptions.url === undefined) return;
    // before anything else: a cross-origin page must not change state with the user's cookie (nor log in)
    checkOrigin(req, ctx.config.publicUrl);
    const need: AuthRequirement = req.routeOptions.config.auth ?? 'operator';
    if (need === 'public') return;
    const who = await identify(ctx, req);
    if (!who) {
      throw new TunaError(
        'unauthorized',
        need === 'agent'
          ? 'agent token required: Authorization: Bearer <agent token>'
          : 'authentication required: log in, or send Authorization: Bearer <operator token>',
      );
    }
    if (who.kind === 'scraper' && need !== 'metrics') {
      throw new TunaError('forbidden', 'the metrics token may only read /metrics; this route needs operator credentials');
    }
    if ((need === 'operator' || need === 'metrics') && who.kind === 'agent') {
      throw new TunaError('forbidden', 'agent tokens may only post to /api/ingest; this route needs operator credentials');
    }
    if (need === 'agent') {
      if (who.kind !== 'agent') throw new TunaError('forbidden', '/api/ingest takes agent tokens only, not operator credentials');
      if (!who.agent.enabled) throw new TunaError('forbidden', `agent "${who.agent.name}" is disabled`);
    }
    req.principal = who;
  });
}

export function operator(req: FastifyRequest): UserRecord {
  if (req.principal?.kind !== 'operator') throw new TunaError('forbidden', 'operator credentials required');
  return req.principal.user;
}

export function agentOf(req: FastifyRequest): AgentRecord {
  if (req.principal?.kind !== 'agent') throw new TunaError('forbidden', 'agent token required');
  return req.principal.agent;
}
