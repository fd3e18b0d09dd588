// Authentication and authorisation of every request, in one place. Credentials: `Authorization:
// Bearer <token>` (a user's own token, an API token, an agent token or the metrics scrape token) or
// the login cookie. Each route declares who may call it in its config, `auth`: a role (`viewer` <
// `operator` < `org_admin` < `platform_admin`, each with the powers of the ones before it), `agent`
// (agent tokens only: ingest), `metrics` (a platform admin or the scrape token) or `public`. A route
// without a declaration cannot be registered (requireDeclaredAuth). A caller below the role gets 403
// naming the role needed. Runs onRequest, before the body is read, so nobody without credentials can
// make the center parse a large body. Which organisation's rows a caller sees is decided by
// `caller(req).scope` in the handlers: another organisation's resource answers 404 like a missing one.
// State-changing requests without a bearer token must come from the center's own origin (hardening.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TunaError } from '../../core/errors.js';
import { roleAllows, weakerRole } from '../../core/schema/index.js';
import type { Role } from '../../core/schema/index.js';
import { digestsEqual, hashToken } from '../auth/secrets.js';
import { checkOrigin } from './hardening.js';
import type { CenterContext } from '../context.js';
import type { AgentRecord, ApiTokenRecord, OrgScope, UserRecord } from '../storage/types.js';

export const SESSION_COOKIE = 'tunaio_session';

export type AuthRequirement = Role | 'agent' | 'metrics' | 'public';

export type Principal =
  | {
      kind: 'user';
      user: UserRecord;
      /** the user's role, or the API token's when weaker */
      role: Role;
      via: 'token' | 'cookie';
      /** the API token used, if any */
      token: ApiTokenRecord | null;
    }
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
    if (user?.token_hash && digestsEqual(user.token_hash, digest)) return { kind: 'user', user, role: user.role, via: 'token', token: null };
    const token = await ctx.storage.getApiTokenByHash(digest);
    if (token && digestsEqual(token.token_hash, digest)) {
      const owner = await ctx.storage.getUser(token.user_id);
      // a token never has more than its user has now (a user's role may have been lowered since)
      if (owner) return { kind: 'user', user: owner, role: weakerRole(token.role, owner.role), via: 'token', token };
    }
    const agent = await ctx.storage.getAgentByTokenHash(digest);
    if (agent && digestsEqual(agent.token_hash, digest)) return { kind: 'agent', agent };
    throw new TunaError('unauthorized', 'invalid token');
  }
  const cookie = req.cookies?.[SESSION_COOKIE];
  if (cookie !== undefined && cookie !== '') {
    const user = await ctx.storage.getWebSessionUser(hashToken(cookie), ctx.config.now());
    if (!user) throw new TunaError('unauthorized', 'your login has expired; log in again');
    return { kind: 'user', user, role: user.role, via: 'cookie', token: null };
  }
  return null;
}

/** A registered route, as Fastify has it (HEAD twins of GET routes left out). */
export interface RegisteredRoute {
  method: string;
  /** Fastify's pattern, e.g. `/api/sessions/:id` */
  url: string;
  /** who may call it (the route's config.auth) */
  auth: AuthRequirement;
}

/**
 * Refuses to register a route that does not declare who may call it (`config.auth`), and returns the
 * list of routes registered from now on, each with its declaration (Center.routes).
 */
export function requireDeclaredAuth(app: FastifyInstance): readonly RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    const auth = (route.config as { auth?: AuthRequirement } | undefined)?.auth;
    if (auth === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no config.auth (a role, agent, metrics or public)`);
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url, auth });
  });
  return routes;
}

export function registerAuth(app: FastifyInstance, ctx: CenterContext): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    // unmatched routes have no config: the not-found handler answers 404 for everyone
    if (req.routeOptions.url === undefined) return;
    // before anything else: a cross-origin page must not change state with the user's cookie (nor log in)
    checkOrigin(req, ctx.config.publicUrl);
    const need = req.routeOptions.config.auth;
    if (need === undefined) throw new TunaError('internal', 'this route declares no access rule');
    if (need === 'public') return;
    const who = await identify(ctx, req);
    if (!who) {
      throw new TunaError(
        'unauthorized',
        need === 'agent'
          ? 'agent token required: Authorization: Bearer <agent token>'
          : 'authentication required: log in, or send Authorization: Bearer <API token>',
      );
    }
    if (need === 'agent') {
      if (who.kind !== 'agent') throw new TunaError('forbidden', '/api/ingest takes agent tokens only, not user credentials');
      if (!who.agent.enabled) throw new TunaError('forbidden', `agent "${who.agent.name}" is disabled`);
    } else if (who.kind === 'scraper') {
      if (need !== 'metrics') throw new TunaError('forbidden', 'the metrics token may only read /metrics; this route needs user credentials');
    } else if (who.kind === 'agent') {
      throw new TunaError('forbidden', 'agent tokens may only post to /api/ingest; this route needs user credentials');
    } else {
      const role: Role = need === 'metrics' ? 'platform_admin' : need;
      if (!roleAllows(who.role, role)) {
        throw new TunaError('forbidden', `this needs the role ${role} or higher; ${who.via === 'token' && who.token ? 'this API token has' : 'you have'} ${who.role}`);
      }
    }
    req.principal = who;
  });
}

/** The signed-in user of a role-checked route. */
export interface Caller {
  user: UserRecord;
  role: Role;
  via: 'token' | 'cookie';
  token: ApiTokenRecord | null;
  /** the organisations whose rows this caller sees: its own, or every one for a platform admin (or the one of its view) */
  scope: OrgScope;
  /** the organisation new users and agents go to by default: the caller's own, or a platform admin's view */
  org: number;
}

/**
 * A platform admin may look at the center as one organisation sees it (the UI's organisation picker):
 * `X-TunaIO-Org: <id>` narrows every list to that organisation, answers 404 for others' resources and
 * makes it the default organisation of new users and agents. Nobody else may send it.
 */
export const ORG_VIEW_HEADER = 'x-tunaio-org';

export function caller(req: FastifyRequest): Caller {
  const p = req.principal;
  if (p?.kind !== 'user') throw new TunaError('forbidden', 'user credentials required');
  const base = { user: p.user, role: p.role, via: p.via, token: p.token };
  const view = req.headers[ORG_VIEW_HEADER];
  if (view === undefined) return { ...base, scope: p.role === 'platform_admin' ? 'all' : p.user.org_id, org: p.user.org_id };
  if (p.role !== 'platform_admin') throw new TunaError('forbidden', `the ${ORG_VIEW_HEADER} header (an organisation view) needs the role platform_admin`);
  const id = typeof view === 'string' && /^[1-9][0-9]{0,15}$/.test(view) ? Number(view) : NaN;
  if (!Number.isSafeInteger(id)) throw new TunaError('bad_request', `${ORG_VIEW_HEADER} must be an organisation id, got ${JSON.stringify(view).slice(0, 40)}`);
  return { ...base, scope: id, org: id };
}

/** whether a row of organisation `orgId` exists for this caller */
export const sees = (c: Caller, orgId: number): boolean => c.scope === 'all' || c.scope === orgId;

export function agentOf(req: FastifyRequest): AgentRecord {
  if (req.principal?.kind !== 'agent') throw new TunaError('forbidden', 'agent token required');
  return req.principal.agent;
}
