// POST /api/login and /api/logout: the operator's cookie session. The cookie holds a random token
// (stored as its sha256 digest, with an expiry), is HttpOnly, SameSite=Strict, Path=/. Failed logins
// are limited per address + username and per address (429 with Retry-After), and password checks
// are gated (auth/rate-limit.ts).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TunaError } from '../../../core/errors.js';
import { loginSchema } from '../../../core/schema/index.js';
import { hashToken, newToken, verifyPassword } from '../../auth/secrets.js';
import type { CenterContext } from '../../context.js';
import { audit } from '../../auth/audit.js';
import { SESSION_COOKIE, caller } from '../../http/auth.js';

// verified when the user does not exist, so timing does not reveal user names
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** A login session for the user: the random cookie, its sha256 stored with an expiry (password and single sign-on logins alike). */
export async function startWebSession(ctx: CenterContext, reply: FastifyReply, userId: number): Promise<void> {
  const token = newToken();
  const ttl = ctx.config.webSessionHours * 3_600_000;
  await ctx.storage.createWebSession(hashToken(token), userId, ctx.config.now() + ttl);
  void reply.setCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: ctx.config.cookieSecure,
    maxAge: Math.floor(ttl / 1000),
  });
}

export function authRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.post('/api/login', { config: { auth: 'public' } }, async (req, reply) => {
    const body = loginSchema.parse(req.body ?? {});
    const now = ctx.config.now();
    await ctx.loginLimiter.check(req.ip, body.username, now);
    const user = await ctx.storage.getUserByName(body.username);
    const ok = await ctx.loginLimiter.verify(() => verifyPassword(body.password, user?.password_hash ?? DUMMY_HASH));
    if (!user || !ok) {
      await ctx.loginLimiter.fail(req.ip, body.username, now);
      ctx.metrics.loginFailures.inc();
      // an unknown user name belongs to no organisation: only platform admins see that entry
      await audit(ctx, req, { action: 'login.failed', org_id: user?.org_id ?? null, actor: body.username, detail: 'wrong username or password' });
      throw new TunaError('unauthorized', 'wrong username or password');
    }
    await ctx.loginLimiter.succeed(req.ip, body.username);
    await startWebSession(ctx, reply, user.id);
    await audit(ctx, req, { action: 'login', org_id: user.org_id, actor: user.username, resource: `user:${user.id}` });
    return { username: user.username, role: user.role, org_id: user.org_id };
  });

  app.post('/api/logout', { config: { auth: 'viewer', body: false } }, async (req, reply) => {
    const who = caller(req);
    await audit(ctx, req, { action: 'logout', org_id: who.user.org_id, resource: `user:${who.user.id}` });
    const cookie = req.cookies[SESSION_COOKIE];
    if (cookie) await ctx.storage.deleteWebSession(hashToken(cookie));
    void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: ctx.config.cookieSecure });
    return reply.status(204).send();
  });
}
