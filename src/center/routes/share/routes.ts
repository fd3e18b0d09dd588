// Share links (DESIGN §3, §8): an operator creates or revokes a session's public read-only link; anyone
// holding the token reads that one session — detail, events, live stream, export.tar, ladder — with no
// credentials. Decisions (docs/api.md "Share links"):
// - the token is 256 random bits (base64url); only its sha256 is stored, compared in constant time;
// - GET shows the current link again (an operator opening "Show share link" must not break the link
//   already handed out): the token is kept sealed with the center's secret key (AES-256-GCM, the
//   session id as associated data, agents/token-vault.ts), so a stolen database alone reveals no
//   link; a link made before tokens were sealed cannot be shown (409: make a new one);
// - a POST rotates: a new token replaces the old one, and the old link stops working at once;
// - DELETE revokes: the token answers 404 from then on, and SSE streams opened through the link are
//   closed at once, on every center (hub tag 'share', sse/feed.ts abortTagged); DELETE is idempotent
//   (204 with or without a link);
// - an unknown, malformed or revoked token is 404 `share_not_found`, the same answer for each.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import { isoTime, sessionIdParamsSchema } from '../../../core/schema/index.js';
import type { DialogPage, EventPage } from '../../../core/schema/index.js';
import { digestsEqual, hashToken, newToken } from '../../auth/secrets.js';
import type { CenterContext } from '../../context.js';
import { audit } from '../../auth/audit.js';
import { caller } from '../../http/auth.js';
import { centerUrl } from '../../http/hardening.js';
import { serveStream } from '../../sse/stream.js';
import type { SessionRecord } from '../../storage/types.js';
import { sendLadder } from '../export/ladder.js';
import { sendDialogPcap } from '../export/dialog-pcap.js';
import { sendExportTar } from '../export/tar.js';
import { dialogsPage, eventsPage } from '../sessions/dialogs.js';
import { streamQuerySchema } from '../sessions/routes.js';
import { getSessionOr404, sessionDetail } from '../sessions/service.js';
import { presentSharedSession } from './present.js';

/** hub tag of SSE clients that came through a share link */
export const SHARE_STREAM_TAG = 'share';

const tokenParamsSchema = z.object({ token: z.string() }).strict();
const TOKEN_RE = /^[A-Za-z0-9_-]{22,128}$/;

const notFound = (): TunaError =>
  new TunaError('share_not_found', 'this share link is not valid: it was revoked, replaced by a newer link, or never existed');

/** The session a share token opens, or 404. */
export async function sessionOfToken(ctx: CenterContext, token: string): Promise<SessionRecord> {
  if (!TOKEN_RE.test(token)) throw notFound();
  const digest = hashToken(token);
  const share = await ctx.storage.getShareByTokenHash(digest);
  if (!share || !digestsEqual(share.token_hash, digest)) throw notFound();
  const s = await ctx.storage.getSession(share.session_id);
  if (!s) throw notFound();
  return s;
}

/** associated data of a sealed share token: it opens only for its session */
const shareAad = (sessionId: string): string => `share:${sessionId}`;

/** The link to hand out: on the configured public URL when there is one (behind a proxy), else on the host the operator called. */
function shareUrl(ctx: CenterContext, req: FastifyRequest, token: string): string {
  return `${centerUrl(req, ctx.config.publicUrl) ?? ''}/share/${token}`;
}

export function shareRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.post('/api/sessions/:id/share', { config: { auth: 'operator', body: false } }, async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const s = await getSessionOr404(ctx, id, caller(req));
    const token = newToken();
    const sealed = await ctx.secrets.sealSecret(token, shareAad(s.id));
    if (!(await ctx.storage.putShare(s.id, hashToken(token), sealed, ctx.config.now()))) throw new TunaError('session_not_found', `no session ${id}`);
    // a rotated link is a revoked link: close what the old one opened
    await ctx.feed.abortTagged(s.id, SHARE_STREAM_TAG);
    await audit(ctx, req, { action: 'share.create', org_id: s.org_id, resource: `session:${s.id}` });
    return reply.status(201).send({ token, url: shareUrl(ctx, req, token) });
  });

  app.get('/api/sessions/:id/share', { config: { auth: 'operator' } }, async (req) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const s = await getSessionOr404(ctx, id, caller(req));
    const share = await ctx.storage.getShare(s.id);
    if (!share) throw new TunaError('share_not_found', `session ${s.id} has no share link`);
    const token = share.token_sealed === null ? null : await ctx.secrets.openSecret(share.token_sealed, shareAad(s.id));
    if (token === null) {
      throw new TunaError(
        'conflict',
        'this share link cannot be shown again (it was made before links were kept, or the secret key changed); make a new link, which stops the old one',
      );
    }
    return { token, url: shareUrl(ctx, req, token), created_at: isoTime(share.created_at) };
  });

  app.delete('/api/sessions/:id/share', { config: { auth: 'operator', body: false } }, async (req, reply) => {
    const { id } = sessionIdParamsSchema.parse(req.params);
    const s = await getSessionOr404(ctx, id, caller(req));
    if (await ctx.storage.deleteShare(s.id)) await audit(ctx, req, { action: 'share.revoke', org_id: s.org_id, resource: `session:${s.id}` });
    await ctx.feed.abortTagged(s.id, SHARE_STREAM_TAG);
    return reply.status(204).send();
  });

  const pub = { config: { auth: 'public' as const } };
  const session = async (req: FastifyRequest): Promise<{ s: SessionRecord; token: string }> => {
    const { token } = tokenParamsSchema.parse(req.params);
    return { s: await sessionOfToken(ctx, token), token };
  };

  app.get('/api/share/:token', pub, async (req) => {
    const { s, token } = await session(req);
    return presentSharedSession(await sessionDetail(ctx, s), token);
  });

  app.get('/api/share/:token/events', pub, async (req): Promise<EventPage> => {
    const { s } = await session(req);
    return eventsPage(ctx, s.id, req.query);
  });

  app.get('/api/share/:token/dialogs', pub, async (req): Promise<DialogPage> => {
    const { s } = await session(req);
    return dialogsPage(ctx, s.id, req.query);
  });

  app.get('/api/share/:token/stream', pub, async (req, reply) => {
    const { s, token } = await session(req);
    const q = streamQuerySchema.parse(req.query);
    const header = req.headers['last-event-id'];
    let after = q.after ?? 0;
    if (typeof header === 'string' && header.trim() !== '') {
      after = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).parse(header.trim(), {
        error: () => 'Last-Event-ID must be an event id',
      });
    }
    const valid = (): Promise<boolean> => sessionOfToken(ctx, token).then(() => true, () => false);
    await serveStream(ctx, req, reply, s.id, after, { tag: SHARE_STREAM_TAG, valid });
  });

  app.get('/api/share/:token/dialog.pcap', pub, async (req, reply) => {
    const { s } = await session(req);
    const sent = await sendDialogPcap(ctx, reply, s, req.query);
    await audit(ctx, req, { action: 'export.download', org_id: s.org_id, resource: `session:${s.id}`, actor: 'share link' });
    return sent;
  });

  app.get('/api/share/:token/export.tar', pub, async (req, reply) => {
    const { s } = await session(req);
    const sent = await sendExportTar(ctx, reply, s, 'share');
    await audit(ctx, req, { action: 'export.download', org_id: s.org_id, resource: `session:${s.id}`, actor: 'share link' });
    return sent;
  });

  for (const format of ['svg', 'png'] as const) {
    app.get(`/api/share/:token/ladder.${format}`, pub, async (req, reply) => {
      const { s } = await session(req);
      return sendLadder(ctx, reply, s, format, req.query);
    });
  }
}
