// Small building blocks shared by the wire schemas: trimmed bounded strings, ISO timestamps, the
// session id format. Pure zod, no I/O, safe for the browser (web imports core).
import * as z from 'zod';

/** A session id: 80 random bits as 20 lowercase hex digits (the seed's `d8e3a6b8f0c24c7a93fb`). */
export const sessionIdSchema = z.string().regex(/^[0-9a-f]{20}$/, 'a session id is 20 lowercase hex digits');

/** Integer ids assigned by the center (agents, events). */
export const idSchema = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Timestamps on the API are ISO 8601 UTC strings, e.g. `2026-06-20T21:30:00Z`. */
export const isoTimeSchema = z.string();

/** Renders epoch milliseconds as the API's ISO form, without milliseconds when they are zero. */
export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
