// /api/agents: list, and add or update by name (DESIGN §3). A new agent needs a token; an update
// without one keeps the stored token. Tokens are stored as sha256 digests only.
import type { FastifyInstance } from 'fastify';
import { TunaError } from '../../../core/errors.js';
import { agentUpsertSchema } from '../../../core/schema/index.js';
import type { AgentUpsert, AgentView } from '../../../core/schema/index.js';
import { hashToken } from '../../auth/secrets.js';
import type { CenterContext } from '../../context.js';
import { presentAgent } from './present.js';

export async function upsertAgent(ctx: CenterContext, body: AgentUpsert): Promise<{ agent: AgentView; created: boolean }> {
  const existing = await ctx.storage.getAgentByName(body.name);
  if (!existing && body.token === undefined) {
    throw new TunaError('validation_failed', `token: agent "${body.name}" is new and needs a token`);
  }
  const digest = body.token === undefined ? undefined : hashToken(body.token);
  if (digest !== undefined) {
    const owner = await ctx.storage.getAgentByTokenHash(digest);
    if (owner && owner.name !== body.name) throw new TunaError('conflict', 'this token is already used by another agent');
    const op = await ctx.storage.getUserByTokenHash(digest);
    if (op) throw new TunaError('conflict', 'this token is an operator token; give the agent its own');
  }
  const now = ctx.config.now();
  const { agent, created } = await ctx.storage.upsertAgent(
    { name: body.name, url: body.url, token_hash: digest, enabled: body.enabled, tags: body.tags },
    now,
  );
  // the plaintext, sealed in the data folder: the center calls the agent's command API with it
  if (body.token !== undefined) await ctx.agents.rememberToken(body.name, body.token);
  return { agent: presentAgent(agent, now, ctx.config.agentOfflineSeconds * 1000, ctx.agents.reachOf(agent.id)), created };
}

export function agentRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.get('/api/agents', async (): Promise<{ agents: AgentView[] }> => {
    const now = ctx.config.now();
    return { agents: (await ctx.storage.listAgents()).map((a) =>
        presentAgent(a, now, ctx.config.agentOfflineSeconds * 1000, ctx.agents.reachOf(a.id)),
      ) };
  });

  app.post('/api/agents', async (req, reply) => {
    const { agent, created } = await upsertAgent(ctx, agentUpsertSchema.parse(req.body ?? {}));
    return reply.status(created ? 201 : 200).send(agent);
  });
}
