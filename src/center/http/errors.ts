// The one error handler: turns TunaError, zod errors and Fastify's own errors into
// `{"error":{"code","message"}}` with the catalogue's status. Unknown errors become 500 `internal`
// with a generic message; the stack goes to the log, never to the client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../core/errors.js';
import type { ErrorCode } from '../../core/errors.js';

export const errorBody = (code: ErrorCode | string, message: string) => ({ error: { code, message } });

/** "criteria.provider_ip: provider_ip must be …; label: …" from the first issues of a zod error. */
export function describeZodError(err: z.ZodError, max = 3): string {
  return err.issues
    .slice(0, max)
    .map((i) => {
      const where = i.path.length > 0 ? i.path.map(String).join('.') : 'body';
      if (i.code === 'unrecognized_keys') return `${where}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

const mib = (bytes: number): string => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`);

/** `bodyLimit`: the route's body limit in bytes, named in the 413 message */
export function toErrorResponse(err: unknown, bodyLimit?: number): { status: number; code: string; message: string; internal: boolean } {
  if (err instanceof TunaError) return { status: err.status, code: err.code, message: err.message, internal: false };
  if (err instanceof z.ZodError) {
    return { status: 400, code: 'validation_failed', message: describeZodError(err), internal: false };
  }
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'payload_too_large',
        message: bodyLimit !== undefined ? `request body is larger than this route's limit of ${mib(bodyLimit)}` : 'request body is too large',
        internal: false,
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'bad_request', message: 'body is not valid JSON', internal: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 400, code: 'bad_request', message: 'send the body as application/json', internal: false };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'bad_request', message: 'Content-Length does not match the body', internal: false };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 404 ? 'not_found' : 'bad_request';
    return { status: fe.statusCode === 413 || fe.statusCode === 404 ? fe.statusCode : 400, code, message: fe.message ?? 'bad request', internal: false };
  }
  return { status: 500, code: 'internal', message: 'internal error; see the center log', internal: true };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const r = toErrorResponse(err, req.routeOptions.bodyLimit);
    if (r.internal) req.log.error({ err }, 'unhandled error');
    if (err instanceof TunaError && err.code === 'rate_limited' && typeof err.details === 'number') {
      void reply.header('retry-after', String(Math.ceil(err.details / 1000)));
    }
    void reply.status(r.status).type('application/json; charset=utf-8').send(errorBody(r.code, r.message));
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    void reply.status(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
