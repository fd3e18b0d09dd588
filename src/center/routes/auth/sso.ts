// Single sign-on routes (docs/organisations.md "Single sign-on"): GET /api/sso tells the login page
// whether to offer it; /api/sso/login sends the browser to the provider; the provider sends it back to
// /api/sso/callback, which makes the login session or sends the browser to the login page with the
// reason for a refusal. The state, nonce and PKCE verifier of each login in flight live in the database
// (one use, 10 minutes), so the callback may land on another center than the one the login started on.
// A cookie set at the start (SameSite=Lax: the provider's redirect is a cross-site navigation) binds
// the login to the browser that started it, so nobody can hand their login to someone else.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TunaError } from '../../../core/errors.js';
import { userCreateSchema } from '../../../core/schema/index.js';
import { audit } from '../../auth/audit.js';
import { SsoRefused, mapClaims } from '../../auth/oidc.js';
import type { OidcProvider } from '../../auth/oidc.js';
import { digestsEqual, hashToken, newToken } from '../../auth/secrets.js';
import type { CenterContext } from '../../context.js';
import { centerUrl } from '../../http/hardening.js';
import type { UserRecord } from '../../storage/types.js';
import { startWebSession } from './routes.js';

const SSO_COOKIE = 'tunaio_sso';
const CALLBACK = '/api/sso/callback';
const LOGIN_TTL_MS = 10 * 60_000;
/** a password hash no password matches (verifyPassword accepts only `scrypt$…`): SSO users have none */
const NO_PASSWORD = '!single-sign-on';

export function ssoRoutes(app: FastifyInstance, ctx: CenterContext): void {
  const provider = (): OidcProvider => {
    if (!ctx.oidc) throw new TunaError('not_found', 'single sign-on is not configured on this center (--oidc-issuer)');
    return ctx.oidc;
  };
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, path: CALLBACK, secure: ctx.config.cookieSecure };

  app.get('/api/sso', { config: { auth: 'public' } }, async () => ({ enabled: ctx.oidc !== null, name: ctx.oidc?.cfg.name ?? null }));

  app.get('/api/sso/login', { config: { auth: 'public' } }, async (req, reply) => {
    const oidc = provider();
    const base = centerUrl(req, ctx.config.publicUrl);
    if (base === null) throw new TunaError('bad_request', 'the Host header is malformed; set --public-url');
    const redirectUri = `${base}${CALLBACK}`;
    let start;
    try {
      start = await oidc.start(redirectUri);
    } catch (e) {
      req.log.warn({ err: e }, 'single sign-on: provider discovery failed');
      throw new TunaError('unavailable', `the identity provider ${oidc.cfg.issuer} cannot be reached: ${(e as Error).message}`);
    }
    const browser = newToken();
    await ctx.storage.putOidcLogin({
      state_hash: hashToken(start.state),
      browser_hash: hashToken(browser),
      nonce: start.nonce,
      code_verifier: start.codeVerifier,
      redirect_uri: redirectUri,
      expires_at: ctx.config.now() + LOGIN_TTL_MS,
    });
    void reply.setCookie(SSO_COOKIE, browser, { ...cookieOptions, maxAge: LOGIN_TTL_MS / 1000 });
    return reply.redirect(start.url, 302);
  });

  app.get(CALLBACK, { config: { auth: 'public' } }, async (req, reply) => {
    const oidc = provider();
    void reply.clearCookie(SSO_COOKIE, cookieOptions);
    try {
      const user = await completeLogin(ctx, oidc, req);
      await startWebSession(ctx, reply, user.id);
      await audit(ctx, req, {
        action: 'login',
        org_id: user.org_id,
        actor: user.username,
        resource: `user:${user.id}`,
        detail: `single sign-on (${oidc.cfg.issuer}) as ${user.role}`,
      });
      return reply.redirect('/', 303);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      ctx.metrics.loginFailures.inc();
      await audit(ctx, req, { action: 'login.failed', org_id: e.orgId, actor: e.actor ?? 'single sign-on', detail: `single sign-on: ${e.message}` });
      return reply.redirect(`/login?sso_error=${encodeURIComponent(e.message)}`, 303);
    }
  });
}

/** a refused login: shown on the login page, audited (with the organisation when known) */
class Refusal extends Error {
  constructor(
    message: string,
    readonly actor: string | null = null,
    readonly orgId: number | null = null,
  ) {
    super(message);
  }
}

async function completeLogin(ctx: CenterContext, oidc: OidcProvider, req: FastifyRequest): Promise<UserRecord> {
  const q = req.query as Record<string, unknown>;
  if (typeof q.error === 'string') {
    const why = typeof q.error_description === 'string' ? `: ${q.error_description.slice(0, 200)}` : '';
    throw new Refusal(`the identity provider refused the login (${q.error.slice(0, 64)}${why})`);
  }
  const state = typeof q.state === 'string' ? q.state : '';
  const login = state === '' ? null : await ctx.storage.takeOidcLogin(hashToken(state), ctx.config.now());
  if (!login) throw new Refusal('this single sign-on login has expired or was already used; log in again');
  const browser = req.cookies[SSO_COOKIE];
  if (browser === undefined || !digestsEqual(hashToken(browser), login.browser_hash)) {
    throw new Refusal('this single sign-on login was started in another browser; log in again');
  }
  // the redirect URI the provider was given, with the query it sent back (code, state, iss)
  const callbackUrl = new URL(login.redirect_uri);
  callbackUrl.search = new URL(req.url, 'http://center').search;
  let identity;
  try {
    const claims = await oidc.finish(callbackUrl, { state, nonce: login.nonce, codeVerifier: login.code_verifier });
    identity = mapClaims(claims, oidc.cfg);
  } catch (e) {
    if (e instanceof SsoRefused) throw new Refusal(e.message);
    req.log.warn({ err: e }, 'single sign-on: the provider answer was refused');
    throw new Refusal(`the identity provider's answer could not be verified (${(e as Error).message})`);
  }
  const org = (await ctx.storage.listOrgs()).find((o) => o.name === identity.orgName);
  if (!org) {
    throw new Refusal(
      `organisation "${identity.orgName}" (claim "${oidc.cfg.orgClaim}") does not exist on this center; a platform admin creates it first`,
      identity.username,
    );
  }
  const existing = await ctx.storage.getUserByOidcSubject(identity.subject);
  if (existing) {
    // the provider's claims are the truth at every login: role and organisation follow them
    if (existing.role === identity.role && existing.org_id === org.id) return existing;
    return (await ctx.storage.updateUser(existing.id, { role: identity.role, org_id: org.id })) as UserRecord;
  }
  const name = userCreateSchema.shape.username.safeParse(identity.username);
  if (!name.success) {
    throw new Refusal(`the user name "${identity.username.slice(0, 80)}" (claim "${oidc.cfg.usernameClaim}") is not usable here: ${name.error.issues[0].message}`, null, org.id);
  }
  const created = await ctx.storage.createUser(name.data, { password_hash: NO_PASSWORD, org_id: org.id, role: identity.role, oidc_subject: identity.subject });
  if (!created) {
    throw new Refusal(`the user name "${name.data}" is taken by another user of this center; single sign-on does not take over a local user`, name.data, org.id);
  }
  return created;
}

