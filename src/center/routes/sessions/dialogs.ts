// The call list and the per-call events page (DESIGN §9, docs/api.md "Call list"), shared by the
// operator routes (/api/sessions/{id}/…) and the share routes (/api/share/{token}/…).
import * as z from 'zod';
import { presentDialog } from '../../../core/dialogs/aggregate.js';
import { TunaError } from '../../../core/errors.js';
import { dialogsQuerySchema } from '../../../core/schema/index.js';
import type { DialogPage, EventPage } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { presentEvent } from './present.js';

export const EVENTS_PAGE_MAX = 1000;
/** Call-IDs one events request may name (a call's linked legs) */
export const EVENTS_CALL_IDS_MAX = 20;

export const eventsQuerySchema = z
  .object({
    after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(EVENTS_PAGE_MAX, `limit is at most ${EVENTS_PAGE_MAX}`).default(500),
    /** only this call's events: one Call-ID, or a call's legs comma-separated (a Call-ID has no comma, RFC 3261 §25.1) */
    call_id: z
      .string()
      .min(1)
      .max(EVENTS_CALL_IDS_MAX * 1025)
      .transform((v, c) => {
        const ids = v.split(',').filter((x) => x !== '');
        if (ids.length === 0 || ids.length > EVENTS_CALL_IDS_MAX || ids.some((x) => x.length > 1024)) {
          c.addIssue({ code: 'custom', message: `call_id: 1 to ${EVENTS_CALL_IDS_MAX} Call-IDs of at most 1024 characters, comma-separated` });
          return z.NEVER;
        }
        return ids;
      })
      .optional(),
  })
  .strict();

export async function eventsPage(ctx: CenterContext, sessionId: string, query: unknown): Promise<EventPage> {
  const q = eventsQuerySchema.parse(query);
  const { events, more } = await ctx.storage.listEvents(sessionId, q.after, q.limit, q.call_id ? { call_ids: q.call_id } : {});
  return {
    events: events.map(presentEvent),
    next_after: events.length > 0 ? events[events.length - 1].id : q.after,
    more,
  };
}

export async function dialogsPage(ctx: CenterContext, sessionId: string, query: unknown): Promise<DialogPage> {
  const q = dialogsQuerySchema.parse(query);
  // read before the rows: a view streaming from it may see a row's event twice, never miss one
  const lastEventId = await ctx.storage.lastEventId(sessionId);
  const page = await ctx.storage.listDialogs(sessionId, {
    q: q.q,
    states: q.state,
    changed_after: q.changed_after,
    after: q.after,
    limit: q.limit,
  });
  if (page === null) throw new TunaError('bad_request', `after: no call ${q.after} in this session`);
  const { dialogs, more } = page;
  return {
    dialogs: dialogs.map((r) => presentDialog(r.id, r.version, r.dialog)),
    next_after: dialogs.length > 0 ? dialogs[dialogs.length - 1].id : q.after,
    more,
    last_event_id: lastEventId,
  };
}
