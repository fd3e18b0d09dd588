// Organisations, users, API tokens, the caller's own identity and the audit log
// (docs/organisations.md, docs/api.md "Organisations"). Each route declares its role (http/auth.ts);
// what lies in another organisation answers 404 like what does not exist.
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import {
  auditQuerySchema,
  idSchema,
  isoTime,
  orgCreateSchema,
  roleAllows,
  tokenCreateSchema,
  userCreateSchema,
  userUpdateSchema,
} from '../../../core/schema/index.js';
import type { AuditAction, AuditPage, Me, OrgView, TokenView, UserView } from '../../../core/schema/index.js';
import { audit } from '../../auth/audit.js';
import { hashPassword, hashToken, newToken } from '../../auth/secrets.js';
import type { CenterContext } from '../../context.js';
import { caller, sees } from '../../http/auth.js';
import type { ApiTokenRecord, OrgRecord, UserRecord } from '../../storage/types.js';

const idParamsSchema = z.object({ id: z.coerce.number().pipe(idSchema) }).strict();

const presentOrg = (o: OrgRecord): OrgView => ({ id: o.id, name: o.name, created_at: isoTime(o.created_at) });
const presentUser = (u: UserRecord): UserView => ({ id: u.id, username: u.username, role: u.role, org_id: u.org_id, created_at: isoTime(u.created_at) });
const presentToken = (t: ApiTokenRecord): TokenView => ({
  id: t.id,
  name: t.name,
  role: t.role,
  org_id: t.org_id,
  user_id: t.user_id,
  username: t.username,
  created_at: isoTime(t.created_at),
});

export function orgRoutes(app: FastifyInstance, ctx: CenterContext): void {
  const platformAdmin = { config: { auth: 'platform_admin' as const } };
  const orgAdmin = { config: { auth: 'org_admin' as const } };
  const operator = { config: { auth: 'operator' as const } };
  const viewer = { config: { auth: 'viewer' as const } };

  // ---- organisations (platform admins)

  app.post('/api/orgs', platformAdmin, async (req, reply) => {
    const { name } = orgCreateSchema.parse(req.body ?? {});
    const org = await ctx.storage.createOrg(name, ctx.config.now());
    if (!org) throw new TunaError('conflict', `an organisation named "${name}" exists`);
    await audit(ctx, req, { action: 'org.create', org_id: org.id, resource: `org:${org.id}`, detail: name });
    return reply.status(201).send(presentOrg(org));
  });

  app.get('/api/orgs', platformAdmin, async (): Promise<{ orgs: OrgView[] }> => ({ orgs: (await ctx.storage.listOrgs()).map(presentOrg) }));

  // ---- who am I (every signed-in user: the UI shows the role and hides what it does not allow)

  app.get('/api/me', viewer, async (req): Promise<Me> => {
    const who = caller(req);
    const org = (await ctx.storage.getOrg(who.user.org_id)) as OrgRecord;
    return { username: who.user.username, role: who.role, org: presentOrg(org), via: who.via, token: who.token?.name ?? null };
  });

  // ---- users (org admins: their organisation's operators and viewers; platform admins: anyone)

  app.post('/api/users', orgAdmin, async (req, reply) => {
    const who = caller(req);
    const body = userCreateSchema.parse(req.body ?? {});
    const orgId = body.org_id ?? who.org;
    if (!sees(who, orgId) || !(await ctx.storage.getOrg(orgId))) throw new TunaError('not_found', `org_id: no organisation ${orgId}`);
    if (roleAllows(body.role, 'org_admin') && who.role !== 'platform_admin') {
      throw new TunaError('forbidden', `creating a user with the role ${body.role} needs the role platform_admin`);
    }
    const user = await ctx.storage.createUser(body.username, {
      org_id: orgId,
      role: body.role,
      password_hash: await hashPassword(body.password, ctx.config.scryptLog2N),
    });
    if (!user) throw new TunaError('conflict', `the user name "${body.username}" is taken`);
    await audit(ctx, req, { action: 'user.create', org_id: orgId, resource: `user:${user.id}`, detail: `${user.username} (${user.role})` });
    return reply.status(201).send({ id: user.id, username: user.username, role: user.role, org_id: user.org_id });
  });

  app.get('/api/users', orgAdmin, async (req): Promise<{ users: UserView[] }> => ({
    users: (await ctx.storage.listUsers(caller(req).scope)).map(presentUser),
  }));

  // the same rules as creating and deleting: org admins handle their organisation's operators and
  // viewers; org_admin and platform_admin (given or taken) need a platform admin
  app.patch('/api/users/:id', orgAdmin, async (req): Promise<UserView> => {
    const who = caller(req);
    const { id } = idParamsSchema.parse(req.params);
    const { role } = userUpdateSchema.parse(req.body ?? {});
    const user = await ctx.storage.getUser(id);
    if (!user || !sees(who, user.org_id)) throw new TunaError('not_found', `no user ${id}`);
    if (user.id === who.user.id) throw new TunaError('conflict', 'you cannot change your own role');
    for (const r of [user.role, role]) {
      if (roleAllows(r, 'org_admin') && who.role !== 'platform_admin') {
        throw new TunaError('forbidden', `changing the role of a user to or from ${r} needs the role platform_admin`);
      }
    }
    // single sign-on never gives platform_admin, and the provider's claims set the role again at each login
    if (role === 'platform_admin' && user.oidc_subject !== null) {
      throw new TunaError('conflict', `${user.username} logs in by single sign-on, which never has the role platform_admin`);
    }
    if (role === user.role) return presentUser(user);
    if (user.role === 'platform_admin' && (await ctx.storage.countUsersWithRole('platform_admin')) <= 1) {
      throw new TunaError('conflict', 'this is the last platform_admin');
    }
    const updated = (await ctx.storage.updateUser(id, { role })) as UserRecord;
    await audit(ctx, req, { action: 'user.role', org_id: user.org_id, resource: `user:${id}`, detail: `${user.username}: ${user.role} → ${role}` });
    return presentUser(updated);
  });

  app.delete('/api/users/:id', { config: { auth: 'org_admin', body: false } }, async (req, reply) => {
    const who = caller(req);
    const { id } = idParamsSchema.parse(req.params);
    const user = await ctx.storage.getUser(id);
    if (!user || !sees(who, user.org_id)) throw new TunaError('not_found', `no user ${id}`);
    if (user.id === who.user.id) throw new TunaError('conflict', 'you cannot delete yourself');
    if (roleAllows(user.role, 'org_admin') && who.role !== 'platform_admin') {
      throw new TunaError('forbidden', `deleting a user with the role ${user.role} needs the role platform_admin`);
    }
    if (user.role === 'platform_admin' && (await ctx.storage.countUsersWithRole('platform_admin')) <= 1) {
      throw new TunaError('conflict', 'this is the last platform_admin');
    }
    await ctx.storage.deleteUser(id);
    await audit(ctx, req, { action: 'user.delete', org_id: user.org_id, resource: `user:${id}`, detail: `${user.username} (${user.role})` });
    return reply.status(204).send();
  });

  // ---- API tokens: for the calling user, at most the caller's role; org admins see and revoke their organisation's

  app.post('/api/tokens', operator, async (req, reply) => {
    const who = caller(req);
    const body = tokenCreateSchema.parse(req.body ?? {});
    if (!roleAllows(who.role, body.role)) {
      throw new TunaError('forbidden', `a token has at most the caller's role: you have ${who.role}, the token asks for ${body.role}`);
    }
    const token = newToken();
    const t = await ctx.storage.createApiToken({
      org_id: who.user.org_id,
      user_id: who.user.id,
      name: body.name,
      role: body.role,
      token_hash: hashToken(token),
      created_at: ctx.config.now(),
    });
    await audit(ctx, req, { action: 'token.create', org_id: t.org_id, resource: `token:${t.id}`, detail: `${t.name} (${t.role})` });
    return reply.status(201).send({ id: t.id, token });
  });

  const tokenVisible = (t: ApiTokenRecord, who: ReturnType<typeof caller>): boolean =>
    roleAllows(who.role, 'org_admin') ? sees(who, t.org_id) : t.user_id === who.user.id;

  app.get('/api/tokens', operator, async (req): Promise<{ tokens: TokenView[] }> => {
    const who = caller(req);
    const list = roleAllows(who.role, 'org_admin')
      ? await ctx.storage.listApiTokens(who.scope)
      : await ctx.storage.listApiTokens(who.user.org_id, who.user.id);
    return { tokens: list.map(presentToken) };
  });

  app.delete('/api/tokens/:id', { config: { auth: 'operator', body: false } }, async (req, reply) => {
    const who = caller(req);
    const { id } = idParamsSchema.parse(req.params);
    const t = await ctx.storage.getApiToken(id);
    if (!t || !tokenVisible(t, who)) throw new TunaError('not_found', `no token ${id}`);
    await ctx.storage.deleteApiToken(id);
    await audit(ctx, req, { action: 'token.delete', org_id: t.org_id, resource: `token:${id}`, detail: `${t.username}/${t.name}` });
    return reply.status(204).send();
  });

  // ---- audit log: org admins read their organisation's entries, platform admins every one

  app.get('/api/audit', orgAdmin, async (req): Promise<AuditPage> => {
    const q = auditQuerySchema.parse(req.query);
    const { entries, more } = await ctx.storage.listAudit(caller(req).scope, q.after, q.limit);
    return {
      entries: entries.map((e) => ({ ...e, at: isoTime(e.at), action: e.action as AuditAction })),
      next_after: entries.length > 0 ? entries[entries.length - 1].id : q.after,
      more,
    };
  });
}
