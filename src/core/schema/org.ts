// Organisations, users, roles, API tokens and the audit log (docs/organisations.md): the wire schemas
// of /api/orgs, /api/users, /api/tokens, /api/me and /api/audit.
import * as z from 'zod';
import { idSchema } from './common.js';
import { tagsSchema } from './agent.js';

/** Weakest first: each role has every power of the roles before it. */
export const ROLES = ['viewer', 'operator', 'org_admin', 'platform_admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES);

export const roleRank = (r: Role): number => ROLES.indexOf(r);
/** true when `have` has at least the powers of `need` */
export const roleAllows = (have: Role, need: Role): boolean => roleRank(have) >= roleRank(need);
/** the weaker of two roles (an API token never has more than its user) */
export const weakerRole = (a: Role, b: Role): Role => (roleRank(a) <= roleRank(b) ? a : b);

/** the organisation data made before organisations existed belongs to (migration 3) */
export const DEFAULT_ORG_ID = 1;

const nameSchema = (what: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(64, `${what} is limited to 64 characters`)
    .regex(/^[A-Za-z0-9][A-Za-z0-9 _.@-]*$/, `${what} uses letters, digits, spaces, "-", "_", "." and "@"`);

export const orgCreateSchema = z.object({ name: nameSchema('an organisation name') }).strict();
export const orgViewSchema = z.object({ id: idSchema, name: z.string(), created_at: z.string() });
export type OrgView = z.infer<typeof orgViewSchema>;

export const userCreateSchema = z
  .object({
    username: nameSchema('a user name'),
    password: z.string().min(12, 'a password needs at least 12 characters').max(1024),
    role: roleSchema,
    /** defaults to the caller's organisation */
    org_id: idSchema.optional(),
  })
  .strict();
/** PATCH /api/users/{id}: a user's role changed in place, under the same rules as creating one */
export const userUpdateSchema = z.object({ role: roleSchema }).strict();

export const userViewSchema = z.object({
  id: idSchema,
  username: z.string(),
  role: roleSchema,
  org_id: idSchema,
  created_at: z.string(),
});
export type UserView = z.infer<typeof userViewSchema>;

export const tokenCreateSchema = z.object({ name: nameSchema('a token name'), role: roleSchema }).strict();
export const tokenCreatedSchema = z.object({ id: idSchema, token: z.string() });
export const tokenViewSchema = z.object({
  id: idSchema,
  name: z.string(),
  role: roleSchema,
  org_id: idSchema,
  user_id: idSchema,
  username: z.string(),
  created_at: z.string(),
});
export type TokenView = z.infer<typeof tokenViewSchema>;

export const meSchema = z.object({
  username: z.string(),
  role: roleSchema,
  org: orgViewSchema,
  /** how this request was authenticated; `token` names the API token */
  via: z.enum(['cookie', 'token']),
  token: z.string().nullable(),
});
export type Me = z.infer<typeof meSchema>;

export const AUDIT_ACTIONS = [
  'login',
  'login.failed',
  'logout',
  'session.create',
  'session.stop',
  'session.purge',
  'share.create',
  'share.revoke',
  'export.download',
  'agent.create',
  'agent.update',
  'agent.tags',
  'user.create',
  'user.delete',
  'user.role',
  'token.create',
  'token.delete',
  'org.create',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const auditEntrySchema = z.object({
  id: idSchema,
  at: z.string(),
  /** null for entries of no organisation (a failed login with an unknown user name) */
  org_id: idSchema.nullable(),
  /** user name, `user/token` for an API token, `share link` for a share token */
  actor: z.string(),
  ip: z.string(),
  action: z.enum(AUDIT_ACTIONS),
  /** `session:<id>`, `agent:<id>`, `user:<id>`, `token:<id>`, `org:<id>`, or null */
  resource: z.string().nullable(),
  detail: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

export const auditQuerySchema = z
  .object({
    after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export const auditPageSchema = z.object({ entries: z.array(auditEntrySchema), next_after: z.number().int(), more: z.boolean() });
export type AuditPage = z.infer<typeof auditPageSchema>;

/** POST /api/agents/{id}/tags: an operator's one change to an agent */
export const agentTagsSchema = z.object({ tags: tagsSchema }).strict();
