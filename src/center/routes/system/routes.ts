// Health (public), Prometheus metrics and the OpenAPI document.
import type { FastifyInstance } from 'fastify';
import { SESSION_STATUSES } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { openApiDocument } from './openapi.js';

export const CENTER_VERSION = '0.1.0';

export function systemRoutes(app: FastifyInstance, ctx: CenterContext, countSessions: () => Promise<Record<string, number>>): void {
  app.get('/api/health', { config: { auth: 'public' } }, async () => ({ status: 'ok' as const, version: CENTER_VERSION }));

  // a platform admin (it counts every organisation's sessions), or the scrape token (--metrics-token / TUNAIO_METRICS_TOKEN) that reads nothing else
  app.get('/metrics', { config: { auth: 'metrics' } }, async (_req, reply) => {
    const counts = await countSessions();
    for (const s of SESSION_STATUSES) ctx.metrics.sessions.set({ status: s }, counts[s] ?? 0);
    ctx.metrics.reconcilerLeader.set({}, ctx.agents.isLeading ? 1 : 0);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics.render());
  });

  const doc = openApiDocument(CENTER_VERSION);
  app.get('/api/docs', { config: { auth: 'viewer' } }, async () => doc);
}
