// The session's hand-off artefacts for operators (DESIGN §3): export.tar (per-agent PCAPs +
// session.json) and the ladder as SVG or PNG (`?call_id=` picks a dialog). The share link serves the
// same artefacts through routes/share with its own access check.
import type { FastifyInstance } from 'fastify';
import { sessionIdParamsSchema } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { getSessionOr404 } from '../sessions/service.js';
import { sendLadder } from './ladder.js';
import { sendExportTar } from './tar.js';

export function exportRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.get('/api/sessions/:id/export.tar', async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    return sendExportTar(ctx, reply, await getSessionOr404(ctx, id));
  });

  for (const format of ['svg', 'png'] as const) {
    app.get(`/api/sessions/:id/ladder.${format}`, async (req, reply) => {
      const { id } = sessionIdParamsSchema.parse(req.params);
      return sendLadder(ctx, reply, await getSessionOr404(ctx, id), format, req.query);
    });
  }
}
