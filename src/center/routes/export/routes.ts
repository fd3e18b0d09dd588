// The session's hand-off artefacts for operators (DESIGN §3): export.tar (per-agent PCAPs +
// session.json), one call's packets (dialog.pcap?call_id=) and the ladder as SVG or PNG (`?call_id=`
// picks a dialog). The share link serves the
// same artefacts through routes/share with its own access check.
import type { FastifyInstance } from 'fastify';
import { sessionIdParamsSchema } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { audit } from '../../auth/audit.js';
import { caller } from '../../http/auth.js';
import { getSessionOr404 } from '../sessions/service.js';
import { sendLadder } from './ladder.js';
import { sendDialogPcap } from './dialog-pcap.js';
import { sendExportTar } from './tar.js';

export function exportRoutes(app: FastifyInstance, ctx: CenterContext): void {
  const viewer = { config: { auth: 'viewer' as const } };

  app.get('/api/sessions/:id/export.tar', viewer, async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const s = await getSessionOr404(ctx, id, caller(req));
    const sent = await sendExportTar(ctx, reply, s);
    // after the checks: a refused export (no packets, deleted by retention) is not a download
    await audit(ctx, req, { action: 'export.download', org_id: s.org_id, resource: `session:${s.id}` });
    return sent;
  });

  app.get('/api/sessions/:id/dialog.pcap', viewer, async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const s = await getSessionOr404(ctx, id, caller(req));
    const sent = await sendDialogPcap(ctx, reply, s, req.query);
    await audit(ctx, req, { action: 'export.download', org_id: s.org_id, resource: `session:${s.id}` });
    return sent;
  });

  for (const format of ['svg', 'png'] as const) {
    app.get(`/api/sessions/:id/ladder.${format}`, viewer, async (req, reply) => {
      const { id } = sessionIdParamsSchema.parse(req.params);
      return sendLadder(ctx, reply, await getSessionOr404(ctx, id, caller(req)), format, req.query);
    });
  }
}
