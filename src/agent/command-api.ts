// The agent's command API (DESIGN §4), the small HTTP server the center calls on `--listen`:
//   GET    /v1/status                   name, version, sources, running captures with counters
//   PUT    /v1/captures/{session_id}    idempotent start/update (core captureCommandSchema)
//   DELETE /v1/captures/{session_id}    stop
//   POST   /v1/captures/{session_id}/follow  {"call_ids":[…]}: capture these dialogs too (another
//                                        agent of the session matched them; docs/agents.md)
//   GET    /v1/health                   liveness, no auth
// Every other route needs `Authorization: Bearer <agent token>`, compared in constant time. Errors are
// `{"error":{"code","message"}}` with the status of the core error catalogue. Owns HTTP only: what a
// capture is belongs to the capture manager.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { TunaError, type ErrorCode } from '../core/errors.js';
import { captureCommandSchema, followCommandSchema } from '../core/schema/command.js';
import { CRITERIA_REQUIRED_MESSAGE, hasSearchCriterion } from '../core/schema/criteria.js';
import { sessionIdSchema } from '../core/schema/common.js';

export interface CommandBackend {
  status(): unknown;
  /** throws TunaError on refusal; returns whether the capture is new and its view */
  putCapture(cmd: z.infer<typeof captureCommandSchema>): { created: boolean; capture: unknown };
  deleteCapture(id: string): unknown | undefined;
  /** the session's capture follows these Call-IDs; undefined when no capture of that session runs */
  followCalls(id: string, callIds: string[]): unknown | undefined;
}

export interface CommandApiOptions {
  token: string;
  backend: CommandBackend;
  /** largest request body accepted */
  maxBodyBytes?: number;
}

const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time token check: both sides hashed to equal length first, so length leaks nothing. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(sha(given), sha(expected));
}

/** "criteria.provider_ip: provider_ip must be …; expires_at: …" */
export function describeZodError(e: z.ZodError): string {
  return e.issues
    .map((i) => {
      const path = i.path.map(String).join('.');
      let msg = i.message;
      if (i.code === 'unrecognized_keys') msg = `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      else if (i.code === 'invalid_type' && /received undefined/.test(i.message)) msg = 'is required';
      return path ? `${path}: ${msg}` : msg;
    })
    .join('; ');
}

export class CommandApi {
  private readonly o: CommandApiOptions;
  private server: Server | undefined;

  constructor(opts: CommandApiOptions) {
    if (!opts.token) throw new TunaError('bad_request', 'the agent needs a token (--token) for its command API');
    this.o = opts;
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const srv = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    });
    srv.requestTimeout = 30_000;
    srv.headersTimeout = 10_000;
    this.server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new TunaError(
            'unavailable',
            e.code === 'EADDRINUSE'
              ? `cannot listen on ${host}:${port} for the command API: the port is in use`
              : `cannot listen on ${host}:${port} for the command API: ${e.message}`,
          ),
        ),
      );
      srv.listen(port, host, () => resolve());
    });
    const a = srv.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private fail(res: ServerResponse, e: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof TunaError) {
      this.send(res, e.status, { error: { code: e.code, message: e.message } });
      return;
    }
    if (e instanceof z.ZodError) {
      this.send(res, 400, { error: { code: 'validation_failed', message: describeZodError(e) } });
      return;
    }
    this.send(res, 500, { error: { code: 'internal', message: 'internal error in the agent' } });
  }

  private error(code: ErrorCode, message: string): TunaError {
    return new TunaError(code, message);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';

    if (path === '/v1/health') {
      if (method !== 'GET' && method !== 'HEAD') throw this.methodNotAllowed(method, path);
      this.send(res, 200, { ok: true });
      return;
    }
    if (!path.startsWith('/v1/')) throw this.error('not_found', `no such route: ${method} ${path}`);
    this.authenticate(req);

    if (path === '/v1/status') {
      if (method !== 'GET') throw this.methodNotAllowed(method, path);
      this.send(res, 200, this.o.backend.status());
      return;
    }
    const m = /^\/v1\/captures\/([^/]+)(\/follow)?$/.exec(path);
    if (!m) throw this.error('not_found', `no such route: ${method} ${path}`);
    const id = decodeURIComponent(m[1]);
    if (!sessionIdSchema.safeParse(id).success) {
      throw this.error('bad_request', `"${id.slice(0, 64)}" is not a session id (20 lowercase hex digits)`);
    }
    if (m[2] !== undefined) {
      if (method !== 'POST') throw this.methodNotAllowed(method, path);
      const cmd = followCommandSchema.parse(await this.readJson(req));
      const v = this.o.backend.followCalls(id, cmd.call_ids);
      if (v === undefined) throw this.error('not_found', `no capture for session ${id} is running on this agent`);
      this.send(res, 200, v);
      return;
    }
    if (method === 'PUT') {
      const body = await this.readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw this.error('bad_request', 'the body must be a JSON object (a capture command)');
      }
      const obj = body as Record<string, unknown>;
      if (obj.session_id === undefined) obj.session_id = id;
      else if (obj.session_id !== id) {
        throw this.error('bad_request', `session_id in the body (${String(obj.session_id).slice(0, 64)}) differs from the URL (${id})`);
      }
      const cmd = captureCommandSchema.parse(obj);
      if (!hasSearchCriterion(cmd.criteria)) throw this.error('criteria_required', CRITERIA_REQUIRED_MESSAGE);
      const r = this.o.backend.putCapture(cmd);
      this.send(res, r.created ? 201 : 200, r.capture);
      return;
    }
    if (method === 'DELETE') {
      const v = this.o.backend.deleteCapture(id);
      if (v === undefined) throw this.error('not_found', `no capture for session ${id} is running on this agent`);
      this.send(res, 200, v);
      return;
    }
    throw this.methodNotAllowed(method, path);
  }

  private methodNotAllowed(method: string, path: string): TunaError {
    // 405 is not in the shared catalogue; the closest stable code is bad_request.
    return this.error('bad_request', `${method} is not allowed on ${path}`);
  }

  private authenticate(req: IncomingMessage): void {
    const h = req.headers.authorization;
    if (h === undefined || h === '') {
      throw this.error('unauthorized', 'missing credentials: send Authorization: Bearer <agent token>');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) throw this.error('unauthorized', 'the Authorization header must be "Bearer <agent token>"');
    if (!tokenMatches(m[1], this.o.token)) throw this.error('unauthorized', 'invalid agent token');
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const max = this.o.maxBodyBytes ?? 64 * 1024;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      throw this.error('payload_too_large', `the body is ${declared} bytes; at most ${max} are accepted`);
    }
    const chunks: Buffer[] = [];
    let len = 0;
    for await (const c of req) {
      const b = c as Buffer;
      len += b.length;
      if (len > max) {
        req.resume();
        throw this.error('payload_too_large', `the body is larger than ${max} bytes`);
      }
      chunks.push(b);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') throw this.error('bad_request', 'the body is empty; send a capture command as JSON');
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw this.error('bad_request', `the body is not valid JSON: ${(e as Error).message}`);
    }
  }
}
