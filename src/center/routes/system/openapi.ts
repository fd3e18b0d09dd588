// The OpenAPI 3.1 document served at /api/docs, generated from the same zod schemas the routes use
// (zod 4's z.toJSONSchema). ROUTES is also the table the tests walk (auth matrix, docs coverage).
import * as z from 'zod';
import {
  agentUpsertSchema,
  agentViewSchema,
  dialogPageSchema,
  dialogsQuerySchema,
  errorBodySchema,
  eventPageSchema,
  FRAMES_CONTENT_TYPE,
  FRAMES_MAX_PER_BATCH,
  framesQuerySchema,
  framesResultSchema,
  ingestBodySchema,
  ingestEventSchema,
  ingestResultSchema,
  agentTagsSchema,
  auditPageSchema,
  auditQuerySchema,
  loginSchema,
  meSchema,
  orgCreateSchema,
  orgViewSchema,
  tokenCreateSchema,
  tokenCreatedSchema,
  tokenViewSchema,
  userCreateSchema,
  userUpdateSchema,
  userViewSchema,
  sessionCreateSchema,
  sessionCreatedSchema,
  sessionDetailSchema,
  sessionListSchema,
} from '../../../core/schema/index.js';
import { deleteQuerySchema, listQuerySchema, streamQuerySchema } from '../sessions/routes.js';
import { eventsQuerySchema } from '../sessions/dialogs.js';
import { dialogPcapQuerySchema } from '../export/dialog-pcap.js';
import { ladderQuerySchema } from '../export/ladder.js';
import type { AuthRequirement } from '../../http/auth.js';

/** who may call a route (http/auth.ts): a role, agent tokens, metrics (platform admin or scrape token), or anyone */
export type Auth = AuthRequirement;

export interface RouteDoc {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  auth: Auth;
  summary: string;
  body?: z.ZodType;
  /** a body that is not JSON: its content type (described as binary) */
  bodyType?: string;
  query?: z.ZodObject;
  responses: Record<number, { description: string; schema?: z.ZodType; type?: string }>;
}

const S = (schema: z.ZodType) => ({ schema });
const LADDER_BUSY = 'unavailable: 2 pictures being drawn and 16 waiting; bounded pictures say their cuts in x-ladder-rows / x-ladder-lanes';
const err = (description: string) => ({ description, schema: errorBodySchema });

const DIALOG_PCAP_RESPONSES = {
  200: { description: 'the pcap (X-Tunaio-Packets: how many)', type: 'application/vnd.tcpdump.pcap' },
  400: err('bad query'),
  404: err('session_not_found / share_not_found, not_found (no such call), no_packets'),
  409: err('conflict: the call spans link types (take export.tar)'),
  410: err('gone: PCAP retention deleted the packets'),
  413: err('payload_too_large: the call is past the bound (take export.tar)'),
};

export const ROUTES: RouteDoc[] = [
  {
    method: 'POST',
    path: '/api/sessions',
    auth: 'operator',
    summary: 'Create a capture session',
    body: sessionCreateSchema,
    responses: {
      201: { description: 'created', ...S(sessionCreatedSchema) },
      400: err('validation_failed, criteria_required, unknown_agents, disabled_agents, no_agents_selected'),
    },
  },
  {
    method: 'GET',
    path: '/api/sessions',
    auth: 'viewer',
    summary: 'List sessions, recent first; q (label, criteria, or a Call-ID seen), status, agent_id, shared filter on the center',
    query: listQuerySchema,
    responses: { 200: { description: 'a page of sessions', ...S(sessionListSchema) }, 400: err('bad query') },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}',
    auth: 'viewer',
    summary: 'One session with per-agent state, counts, pcap and share state, caps',
    responses: { 200: { description: 'the session', ...S(sessionDetailSchema) }, 404: err('session_not_found') },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/events',
    auth: 'viewer',
    summary: 'Events after an event id, ascending; ?call_id= for one call (or its legs, comma-separated)',
    query: eventsQuerySchema,
    responses: { 200: { description: 'a page of events', ...S(eventPageSchema) }, 400: err('bad query'), 404: err('session_not_found') },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/dialogs',
    auth: 'viewer',
    summary: 'The call list: one row per call (linked B2BUA legs grouped under the first leg, `legs`), in start-time order, paged by ?after=; ?q= searches, ?state= filters',
    query: dialogsQuerySchema,
    responses: { 200: { description: 'a page of calls', ...S(dialogPageSchema) }, 400: err('bad query'), 404: err('session_not_found') },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/stream',
    auth: 'viewer',
    summary: 'Server-sent events: history after ?after= or Last-Event-ID, then live; a final `status` event',
    query: streamQuerySchema,
    responses: { 200: { description: 'text/event-stream', type: 'text/event-stream' }, 404: err('session_not_found') },
  },
  {
    method: 'DELETE',
    path: '/api/sessions/{id}',
    auth: 'operator',
    summary: 'Stop a session (idempotent); ?purge=1 deletes an ended session, its events and files',
    query: deleteQuerySchema,
    responses: {
      200: { description: 'the stopped session', ...S(sessionDetailSchema) },
      204: { description: 'purged' },
      404: err('session_not_found'),
      409: err('session_running (purge of a running session)'),
    },
  },
  {
    method: 'GET',
    path: '/api/agents',
    auth: 'viewer',
    summary: 'List agents (never their tokens)',
    responses: { 200: { description: 'agents', ...S(z.object({ agents: z.array(agentViewSchema) })) } },
  },
  {
    method: 'POST',
    path: '/api/agents',
    auth: 'org_admin',
    summary: 'Add (201) or update (200) an agent by name',
    body: agentUpsertSchema,
    responses: {
      200: { description: 'updated', ...S(agentViewSchema) },
      201: { description: 'created', ...S(agentViewSchema) },
      400: err('validation_failed'),
      409: err('conflict: token already in use'),
    },
  },
  {
    method: 'POST',
    path: '/api/ingest',
    auth: 'agent',
    summary: 'Agents post event batches (≤1000 events, ≤8 MB); idempotent on (session_id, agent, seq)',
    body: ingestBodySchema.extend({ events: z.array(ingestEventSchema).max(1000) }),
    responses: {
      200: { description: 'batch result', ...S(ingestResultSchema) },
      400: err('validation_failed'),
      413: err('payload_too_large'),
    },
  },
  {
    method: 'POST',
    path: '/api/ingest/frames',
    auth: 'agent',
    summary:
      'Agents post frames-only batches for the per-agent PCAP (every RTP/RTCP frame of capture_pcap + capture_rtp sessions, the earlier frames of ' +
      'split SIP messages): binary records (u16 link type, u16 0, u32 s, u32 µs, u32 original length, u32 captured length, bytes; little-endian), ' +
      `≤${FRAMES_MAX_PER_BATCH} frames, ≤8 MB; idempotent on (session_id, agent, frame number from first_seq); frames count against the session byte cap`,
    bodyType: FRAMES_CONTENT_TYPE,
    query: framesQuerySchema,
    responses: {
      200: { description: 'how the frames were judged: refused whole (reason no_pcap, unknown_session, not_assigned, session_closed) or the tail past the byte cap (session_capped)', ...S(framesResultSchema) },
      400: err('bad_request: malformed body or query'),
      413: err('payload_too_large'),
    },
  },
  {
    method: 'POST',
    path: '/api/login',
    auth: 'public',
    summary: 'Operator login: sets the HttpOnly SameSite=Strict session cookie',
    body: loginSchema,
    responses: {
      200: { description: 'logged in', ...S(z.object({ username: z.string() })) },
      401: err('wrong username or password'),
      429: err('rate_limited (Retry-After)'),
    },
  },
  {
    method: 'GET',
    path: '/api/sso',
    auth: 'public',
    summary: 'Whether single sign-on (OpenID Connect) is configured, and the name of its login button',
    responses: { 200: { description: 'single sign-on', ...S(z.object({ enabled: z.boolean(), name: z.string().nullable() })) } },
  },
  {
    method: 'GET',
    path: '/api/sso/login',
    auth: 'public',
    summary: 'Start a single sign-on login: 302 to the identity provider (state, nonce and PKCE verifier kept in the database for 10 minutes)',
    responses: {
      302: { description: 'to the identity provider' },
      404: err('not_found: single sign-on is not configured'),
      503: err('unavailable: the identity provider cannot be reached'),
    },
  },
  {
    method: 'GET',
    path: '/api/sso/callback',
    auth: 'public',
    summary:
      "The identity provider's redirect: 303 to / with the login cookie, or to /login?sso_error=<reason> when refused (unknown organisation or role, expired state, another browser)",
    responses: { 303: { description: 'to the UI, logged in or with the reason of the refusal' }, 404: err('not_found: single sign-on is not configured') },
  },
  {
    method: 'POST',
    path: '/api/logout',
    auth: 'viewer',
    summary: 'Clear the session cookie',
    responses: { 204: { description: 'logged out' } },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/export.tar',
    auth: 'viewer',
    summary: 'Tar of one pcap per agent (<agent-name>.pcap) and session.json, streamed; a consistent snapshot of a running session',
    responses: {
      200: { description: 'the tar', type: 'application/x-tar' },
      404: err('session_not_found, no_packets'),
      410: err('gone: PCAP retention deleted the packets'),
    },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/dialog.pcap',
    auth: 'viewer',
    summary: "One call's packets (its SIP messages and RTP/RTCP samples; ?call_id= one Call-ID or its legs comma-separated) as one classic pcap, in time order",
    query: dialogPcapQuerySchema,
    responses: DIALOG_PCAP_RESPONSES,
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/ladder.svg',
    auth: 'viewer',
    summary: 'The SIP ladder as the UI draws it, rendered server-side (?call_id= picks a dialog)',
    query: ladderQuerySchema,
    responses: { 200: { description: 'SVG', type: 'image/svg+xml' }, 404: err('session_not_found, not_found (Call-ID)'), 503: err(LADDER_BUSY) },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/ladder.png',
    auth: 'viewer',
    summary: 'The SIP ladder as PNG (resvg, embedded DejaVu fonts; ?call_id= picks a dialog)',
    query: ladderQuerySchema,
    responses: { 200: { description: 'PNG', type: 'image/png' }, 404: err('session_not_found, not_found (Call-ID)'), 503: err(LADDER_BUSY) },
  },
  {
    method: 'POST',
    path: '/api/sessions/{id}/share',
    auth: 'operator',
    summary: 'Create the public read-only link; a second POST rotates it (the old token stops working)',
    responses: {
      201: { description: 'the link', ...S(z.object({ token: z.string(), url: z.string() })) },
      404: err('session_not_found'),
    },
  },
  {
    method: 'GET',
    path: '/api/sessions/{id}/share',
    auth: 'operator',
    summary: 'The current link again (its token is kept sealed with the center key); does not rotate it',
    responses: {
      200: { description: 'the link', ...S(z.object({ token: z.string(), url: z.string(), created_at: z.string() })) },
      404: err('session_not_found, share_not_found'),
      409: err('conflict: made before links were kept, or the secret key changed: make a new link'),
    },
  },
  {
    method: 'DELETE',
    path: '/api/sessions/{id}/share',
    auth: 'operator',
    summary: 'Revoke the link: its token answers 404 and its open streams close',
    responses: { 204: { description: 'revoked (or there was no link)' }, 404: err('session_not_found') },
  },
  {
    method: 'GET',
    path: '/api/share/{token}',
    auth: 'public',
    summary: 'The shared session (allow-listed fields only)',
    responses: { 200: { description: 'the session' }, 404: err('share_not_found') },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/events',
    auth: 'public',
    summary: 'Events of the shared session (paging as /api/sessions/{id}/events)',
    query: eventsQuerySchema,
    responses: { 200: { description: 'a page of events', ...S(eventPageSchema) }, 404: err('share_not_found') },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/dialogs',
    auth: 'public',
    summary: 'The call list of the shared session (as /api/sessions/{id}/dialogs)',
    query: dialogsQuerySchema,
    responses: { 200: { description: 'a page of calls', ...S(dialogPageSchema) }, 400: err('bad query'), 404: err('share_not_found') },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/stream',
    auth: 'public',
    summary: 'SSE of the shared session; closed when the link is revoked',
    query: streamQuerySchema,
    responses: { 200: { description: 'event stream', type: 'text/event-stream' }, 404: err('share_not_found') },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/export.tar',
    auth: 'public',
    summary: 'export.tar of the shared session',
    responses: { 200: { description: 'the tar', type: 'application/x-tar' }, 404: err('share_not_found, no_packets'), 410: err('gone') },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/ladder.svg',
    auth: 'public',
    summary: 'Ladder SVG of the shared session',
    query: ladderQuerySchema,
    responses: { 200: { description: 'SVG', type: 'image/svg+xml' }, 404: err('share_not_found'), 503: err(LADDER_BUSY) },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/ladder.png',
    auth: 'public',
    summary: 'Ladder PNG of the shared session',
    query: ladderQuerySchema,
    responses: { 200: { description: 'PNG', type: 'image/png' }, 404: err('share_not_found'), 503: err(LADDER_BUSY) },
  },
  {
    method: 'GET',
    path: '/api/share/{token}/dialog.pcap',
    auth: 'public',
    summary: 'One call of the shared session as a pcap (as /api/sessions/{id}/dialog.pcap)',
    query: dialogPcapQuerySchema,
    responses: DIALOG_PCAP_RESPONSES,
  },
  {
    method: 'GET',
    path: '/api/health',
    auth: 'public',
    summary: 'Liveness',
    responses: { 200: { description: 'ok', ...S(z.object({ status: z.literal('ok'), version: z.string() })) } },
  },
  {
    method: 'GET',
    path: '/metrics',
    auth: 'metrics',
    summary: 'Prometheus metrics (text format 0.0.4): a platform admin, or the scrape token (TUNAIO_METRICS_TOKEN) that reads nothing else',
    responses: { 200: { description: 'metrics', type: 'text/plain' } },
  },
  {
    method: 'GET',
    path: '/api/docs',
    auth: 'viewer',
    summary: 'This OpenAPI document',
    responses: { 200: { description: 'OpenAPI 3.1 JSON' } },
  },
  {
    method: 'POST',
    path: '/api/agents/{id}/tags',
    auth: 'operator',
    summary: "Replace an agent's tags (operators tag; everything else about agents is the org admin's)",
    body: agentTagsSchema,
    responses: { 200: { description: 'the agent', ...S(agentViewSchema) }, 400: err('validation_failed'), 404: err('not_found') },
  },
  {
    method: 'POST',
    path: '/api/orgs',
    auth: 'platform_admin',
    summary: 'Create an organisation',
    body: orgCreateSchema,
    responses: { 201: { description: 'created', ...S(orgViewSchema) }, 400: err('validation_failed'), 409: err('conflict: the name is taken') },
  },
  {
    method: 'GET',
    path: '/api/orgs',
    auth: 'platform_admin',
    summary: 'List organisations',
    responses: { 200: { description: 'organisations', ...S(z.object({ orgs: z.array(orgViewSchema) })) } },
  },
  {
    method: 'GET',
    path: '/api/me',
    auth: 'viewer',
    summary: 'The caller: user name, role (of the API token when one is used) and organisation',
    responses: { 200: { description: 'the caller', ...S(meSchema) } },
  },
  {
    method: 'POST',
    path: '/api/users',
    auth: 'org_admin',
    summary: "Create a user (org_id defaults to the caller's organisation; org_admin and platform_admin users only by platform admins)",
    body: userCreateSchema,
    responses: {
      201: { description: 'created', ...S(userViewSchema.omit({ created_at: true })) },
      400: err('validation_failed'),
      403: err('forbidden: the role asked for needs platform_admin'),
      404: err('not_found: no such organisation'),
      409: err('conflict: the user name is taken'),
    },
  },
  {
    method: 'GET',
    path: '/api/users',
    auth: 'org_admin',
    summary: "List the organisation's users (a platform admin: every user)",
    responses: { 200: { description: 'users', ...S(z.object({ users: z.array(userViewSchema) })) } },
  },
  {
    method: 'PATCH',
    path: '/api/users/{id}',
    auth: 'org_admin',
    summary: "Change a user's role (to or from org_admin and platform_admin only by platform admins; not your own; not the last platform_admin)",
    body: userUpdateSchema,
    responses: {
      200: { description: 'the user as it is now', ...S(userViewSchema) },
      400: err('validation_failed'),
      403: err('forbidden: the role given or taken needs platform_admin'),
      404: err('not_found'),
      409: err('conflict: yourself, the last platform_admin, or platform_admin for a single sign-on user'),
    },
  },
  {
    method: 'DELETE',
    path: '/api/users/{id}',
    auth: 'org_admin',
    summary: 'Delete a user, its logins and its API tokens',
    responses: { 204: { description: 'deleted' }, 404: err('not_found'), 409: err('conflict: yourself, or the last platform_admin') },
  },
  {
    method: 'POST',
    path: '/api/tokens',
    auth: 'operator',
    summary: "Create an API token for the caller, with at most the caller's role; the secret is shown once",
    body: tokenCreateSchema,
    responses: { 201: { description: 'created', ...S(tokenCreatedSchema) }, 400: err('validation_failed'), 403: err("forbidden: a role above the caller's") },
  },
  {
    method: 'GET',
    path: '/api/tokens',
    auth: 'operator',
    summary: "API tokens, never their secrets: the caller's own (org admins: the organisation's; platform admins: all)",
    responses: { 200: { description: 'tokens', ...S(z.object({ tokens: z.array(tokenViewSchema) })) } },
  },
  {
    method: 'DELETE',
    path: '/api/tokens/{id}',
    auth: 'operator',
    summary: 'Revoke an API token (your own; org admins any of the organisation)',
    responses: { 204: { description: 'revoked' }, 404: err('not_found') },
  },
  {
    method: 'GET',
    path: '/api/audit',
    auth: 'org_admin',
    summary: "The audit log in id order (org admins: their organisation's entries; platform admins: all)",
    query: auditQuerySchema,
    responses: { 200: { description: 'a page of entries', ...S(auditPageSchema) }, 400: err('bad query') },
  },
];

const json = (schema: z.ZodType, io: 'input' | 'output'): unknown => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

export function openApiDocument(version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const parameters: unknown[] = [];
    if (r.path.includes('{id}')) {
      const numeric = !r.path.startsWith('/api/sessions/');
      parameters.push({
        name: 'id',
        in: 'path',
        required: true,
        schema: numeric ? { type: 'integer', minimum: 1 } : { type: 'string', pattern: '^[0-9a-f]{20}$' },
      });
    }
    if (r.path.includes('{token}')) {
      parameters.push({ name: 'token', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{22,128}$' } });
    }
    if (r.query) {
      for (const [name, s] of Object.entries(r.query.shape)) {
        parameters.push({ name, in: 'query', required: false, schema: json(s as z.ZodType, 'input') });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, d] of Object.entries(r.responses)) {
      responses[status] = {
        description: d.description,
        ...(d.schema ? { content: { 'application/json': { schema: json(d.schema, 'output') } } } : {}),
        ...(d.type ? { content: { [d.type]: { schema: { type: 'string' } } } } : {}),
      };
    }
    const errorContent = { content: { 'application/json': { schema: json(errorBodySchema, 'output') } } };
    if (r.auth !== 'public') responses['401'] = { description: 'no or invalid credentials', ...errorContent };
    const role = ['public', 'agent', 'metrics'].includes(r.auth) ? null : r.auth;
    const unsafe = r.method !== 'GET';
    if (r.auth !== 'public' || unsafe) {
      const why = [
        (responses['403'] as { description?: string } | undefined)?.description ?? '',
        r.auth === 'public' ? '' : role === null ? 'wrong kind of credentials' : `wrong kind of credentials, or a role below ${role} (the message names it)`,
        unsafe ? 'cross-origin request with the login cookie (Origin / Sec-Fetch-Site)' : '',
      ];
      responses['403'] = { description: why.filter((x) => x !== '').join('; '), ...errorContent };
    }
    if (r.method === 'POST' || r.method === 'PATCH') responses['413'] ??= { description: 'payload_too_large: the body is over the route limit (named in the message)', ...errorContent };
    if (/\{(id|token)\}/.test(r.path)) responses['414'] = { description: 'uri_too_long: a path segment over 256 characters', ...errorContent };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: role === null ? r.summary : `${r.summary} (role: ${role} or higher)`,
      security:
        r.auth === 'public'
          ? []
          : r.auth === 'agent'
            ? [{ agentToken: [] }]
            : [{ operatorToken: [] }, { cookie: [] }, ...(r.auth === 'metrics' ? [{ metricsToken: [] }] : [])],
      parameters,
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: json(r.body, 'input') } } } }
        : r.bodyType
          ? { requestBody: { required: true, content: { [r.bodyType]: { schema: { type: 'string', format: 'binary' } } } } }
          : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'TunaIO command center', version },
    components: {
      securitySchemes: {
        operatorToken: { type: 'http', scheme: 'bearer', description: "API token (POST /api/tokens) or the admin's token; acts with its role" },
        agentToken: { type: 'http', scheme: 'bearer', description: 'agent token (POST /api/ingest only)' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'scrape token (TUNAIO_METRICS_TOKEN): GET /metrics only' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'tunaio_session' },
      },
    },
    paths,
  };
}
