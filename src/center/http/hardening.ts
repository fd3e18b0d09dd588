// Transport-level protection every route gets, whatever it does (issue 16):
// - cross-origin state changes: a browser request that changes state (not GET/HEAD/OPTIONS) and
//   carries no Authorization header, i.e. one that rides on the login cookie or logs in, must come
//   from the center's own origin (Fetch Metadata `Sec-Fetch-Site`, else `Origin`). SameSite=Strict
//   alone does not stop it: another port or subdomain of the same site is "same-site".
// - `X-Content-Type-Options: nosniff` on every answer (a JSON error holding user input must never be
//   sniffed as HTML), and a CSP that lets nothing run on every answer but the web UI's page;
// - Fastify's and Node's own answers (path segment over the router's limit, malformed URL, malformed
//   HTTP, headers too large) in the API's error shape;
// - share tokens (and the web page of a share link) never written to the log in request URLs;
// - a body sent to a route that takes none (`config: { body: false }`) is refused, not ignored.
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { TunaError } from '../../core/errors.js';
import { errorBody } from './errors.js';

/** longest path segment the router accepts (ids, share tokens); longer gets 414 `uri_too_long` */
export const MAX_PATH_SEGMENT = 256;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origins a state-changing browser request may come from: --public-url's, and the Host it was sent to. */
/** The center's own URL as the caller reaches it: the configured public URL (behind a proxy), else the request's scheme and Host; null for a malformed Host. */
export function centerUrl(req: FastifyRequest, publicUrl: string | undefined): string | null {
  if (publicUrl !== undefined) return publicUrl;
  const host = req.headers.host;
  return host !== undefined && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host) ? `${req.protocol}://${host}` : null;
}

export function isSameOrigin(req: FastifyRequest, publicUrl: string | undefined): boolean {
  const site = req.headers['sec-fetch-site'];
  // Fetch Metadata (every current browser): decisive when present. `none` is a user action
  // (address bar, bookmark), never a page of another origin.
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  const origin = req.headers.origin;
  // neither header: not a browser (curl, scripts), or one too old to send them; the SameSite=Strict
  // cookie is the protection there
  if (origin === undefined) return true;
  if (typeof origin !== 'string' || origin === 'null') return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (publicUrl !== undefined && o.origin === new URL(publicUrl).origin) return true;
  // behind a TLS-terminating proxy the scheme the center sees is not the browser's: compare host:port
  const host = req.headers.host;
  return typeof host === 'string' && o.host.toLowerCase() === host.toLowerCase();
}

/** Refuses a cross-origin state change that is not bearer-authenticated (cookie or login). */
export function checkOrigin(req: FastifyRequest, publicUrl: string | undefined): void {
  if (SAFE_METHODS.has(req.method) || req.headers.authorization !== undefined) return;
  if (isSameOrigin(req, publicUrl)) return;
  throw new TunaError(
    'forbidden',
    `cross-origin request refused: ${req.method} from ${String(req.headers.origin ?? req.headers['sec-fetch-site'])} with the login cookie; ` +
      'use the TunaIO web UI on its own address (set --public-url behind a reverse proxy), or send Authorization: Bearer <operator token>',
  );
}

/** `/api/share/<token>/…` and `/share/<token>` with the token replaced, for logs. */
export const redactUrl = (url: string): string => url.replace(/(\/share\/)[^/?#]*/g, '$1[redacted]');

/** pino serializer of requests: Fastify's fields, with the URL redacted. */
export function requestSerializer(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
  };
}

export const URI_TOO_LONG_MESSAGE = `a path segment (id or token) is limited to ${MAX_PATH_SEGMENT} characters`;

/** True when a path has a segment over MAX_PATH_SEGMENT (the UI's catch-all route sees those: answer 414 all the same). */
export const hasOverlongSegment = (urlPath: string): boolean => urlPath.split('/').some((s) => s.length > MAX_PATH_SEGMENT);

/** Fastify's own errors raised before routing (bad URL, path segment too long) → the API's error shape. */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (err, _req, reply: FastifyReply) => {
  const code = (err as { code?: string }).code;
  void reply.header('x-content-type-options', 'nosniff').type('application/json; charset=utf-8');
  if (code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return reply.status(414).send(errorBody('uri_too_long', URI_TOO_LONG_MESSAGE));
  }
  if (code === 'FST_ERR_BAD_URL') return reply.status(400).send(errorBody('bad_request', 'malformed URL (bad percent-encoding)'));
  return reply.status(400).send(errorBody('bad_request', 'bad request'));
};

/**
 * CSP of every answer that is not the web UI's page (which sets its own): nothing in it may run or load
 * anything. This is what makes `ladder.svg` opened in a tab (it is served inline) inert: an SVG document
 * could otherwise run script, and its labels come from captured traffic.
 */
export const INERT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox";

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false`: the route takes no body, and a request that sends one gets 400 (never silently ignored) */
    body?: false;
  }
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (malformed request line or headers,
 * headers over Node's 16 KiB, a client too slow to send them): the API's error shape, not Fastify's.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'payload_too_large', 'request headers (URL included) are larger than the limit of 16 KiB']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'bad_request', 'the request was not received in time']
        : [400, 'Bad Request', 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json; charset=utf-8\r\nx-content-type-options: nosniff\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

export function registerHardening(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.config.body === false && req.body !== undefined) {
      throw new TunaError('bad_request', `${req.method} ${req.routeOptions.url} takes no body; send none`);
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', INERT_CSP);
    return payload;
  });
}
