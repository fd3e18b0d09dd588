// /api/agents: list, add or update by name (DESIGN §3), and an operator's tag change. A new agent
// needs a token; an update without one keeps the stored token. Tokens are stored as sha256 digests
// only. Agents belong to one organisation; names are unique per organisation. Org admins add agents
// to their own organisation; a platform admin may name another with `org_id`.
import type { FastifyInstance } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import { agentTagsSchema, agentUpsertSchema, idSchema } from '../../../core/schema/index.js';
import type { AgentUpsert, AgentView } from '../../../core/schema/index.js';
import { hashToken } from '../../auth/secrets.js';
import { audit } from '../../auth/audit.js';
import { caller, sees } from '../../http/auth.js';
import type { Caller } from '../../http/auth.js';
import type { CenterContext } from '../../context.js';
import type { AgentRecord } from '../../storage/types.js';
import { presentAgent } from './present.js';

const agentIdParamsSchema = z.object({ id: z.coerce.number().pipe(idSchema) }).strict();

/** The organisation a new or updated agent goes to: the body's org_id (platform admins only) or the caller's. */
async function agentOrg(ctx: CenterContext, who: Caller, orgId: number | undefined): Promise<number> {
  if (orgId === undefined) return who.org;
  if (who.role !== 'platform_admin') {
    if (orgId === who.user.org_id) return orgId;
    throw new TunaError('forbidden', 'org_id: only a platform_admin adds agents to another organisation');
  }
  if (!(await ctx.storage.getOrg(orgId))) throw new TunaError('not_found', `org_id: no organisation ${orgId}`);
  return orgId;
}

export async function upsertAgent(
  ctx: CenterContext,
  body: AgentUpsert,
  orgId: number,
): Promise<{ agent: AgentView; record: AgentRecord; created: boolean }> {
  const existing = await ctx.storage.getAgentByName(orgId, body.name);
  if (!existing && body.token === undefined) {
    throw new TunaError('validation_failed', `token: agent "${body.name}" is new and needs a token`);
  }
  const digest = body.token === undefined ? undefined : hashToken(body.token);
  if (digest !== undefined) {
    const owner = await ctx.storage.getAgentByTokenHash(digest);
    if (owner && owner.id !== existing?.id) throw new TunaError('conflict', 'this token is already used by another agent');
    if ((await ctx.storage.getUserByTokenHash(digest)) || (await ctx.storage.getApiTokenByHash(digest))) {
      throw new TunaError('conflict', 'this token is a user or API token; give the agent its own');
    }
  }
  const now = ctx.config.now();
  const { agent, created } = await ctx.storage.upsertAgent(
    { org_id: orgId, name: body.name, url: body.url, token_hash: digest, enabled: body.enabled, tags: body.tags },
    now,
  );
  // the plaintext, sealed in the data folder: the center calls the agent's command API with it
  if (body.token !== undefined) await ctx.agents.rememberToken(agent, body.token);
  return { agent: present(ctx, agent), record: agent, created };
}

const present = (ctx: CenterContext, a: AgentRecord): AgentView =>
  presentAgent(a, ctx.config.now(), ctx.config.agentOfflineSeconds * 1000, ctx.agents.reachOf(a.id));

export function agentRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.get('/api/agents', { config: { auth: 'viewer' } }, async (req): Promise<{ agents: AgentView[] }> => {
    return { agents: (await ctx.storage.listAgents(caller(req).scope)).map((a) => present(ctx, a)) };
  });

  app.post('/api/agents', { config: { auth: 'org_admin' } }, async (req, reply) => {
    const who = caller(req);
    const body = agentUpsertSchema.parse(req.body ?? {});
    const { agent, record, created } = await upsertAgent(ctx, body, await agentOrg(ctx, who, body.org_id));
    await audit(ctx, req, {
      action: created ? 'agent.create' : 'agent.update',
      org_id: record.org_id,
      resource: `agent:${record.id}`,
      detail: `${record.name} ${record.url}${record.enabled ? '' : ' (disabled)'}${body.token !== undefined && !created ? ', new token' : ''}`,
    });
    return reply.status(created ? 201 : 200).send(agent);
  });

  // operators tag agents (which agents a session by agent_tags picks); everything else is the org admin's
  app.post('/api/agents/:id/tags', { config: { auth: 'operator' } }, async (req) => {
    const who = caller(req);
    const { id } = agentIdParamsSchema.parse(req.params);
    const { tags } = agentTagsSchema.parse(req.body ?? {});
    const a = (await ctx.storage.listAgents(who.scope)).find((x) => x.id === id);
    if (!a || !sees(who, a.org_id)) throw new TunaError('not_found', `no agent ${id}`);
    const updated = (await ctx.storage.setAgentTags(id, tags, ctx.config.now())) as AgentRecord;
    await audit(ctx, req, { action: 'agent.tags', org_id: a.org_id, resource: `agent:${id}`, detail: tags.join(',') });
    return present(ctx, updated);
  });
}
