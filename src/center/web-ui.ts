// Serves the built web UI (dist/web, from `vite build`) at `/`: hashed assets with long caching,
// index.html for every other non-API path (the SPA fallback, so /sessions/{id} and /share/{token} deep
// links work). GET/HEAD only; /api paths that no route matched still answer the API's JSON 404.
// Register it before the app is ready: `await registerWebUi(app, { root })`.
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { URI_TOO_LONG_MESSAGE, hasOverlongSegment } from './http/hardening.js';

export interface WebUiOptions {
  /** folder holding index.html and assets/ (dist/web) */
  root: string;
}

const INDEX = 'index.html';

// The UI loads only its own files; the PNG export draws a data: SVG; EventSource and fetch stay same-origin.
const CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export async function registerWebUi(app: FastifyInstance, opts: WebUiOptions): Promise<void> {
  const root = path.resolve(opts.root);
  await app.register(fastifyStatic, { root, serve: false, decorateReply: true });

  const sendIndex = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (!fs.existsSync(path.join(root, INDEX))) {
      return reply
        .status(503)
        .type('application/json; charset=utf-8')
        .send({ error: { code: 'unavailable', message: `the web UI is not built (no ${path.join(root, INDEX)}); run npm run build` } });
    }
    // a share token in the URL must not leak to other sites through Referer
    return reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .sendFile(INDEX, root, { cacheControl: false });
  };

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const urlPath = req.url.split('?')[0];
    if (urlPath === '/api' || urlPath.startsWith('/api/')) {
      // an id past the router's limit falls through to this catch-all: the same 414 as without the UI
      if (hasOverlongSegment(urlPath)) {
        return reply.status(414).type('application/json; charset=utf-8').send({ error: { code: 'uri_too_long', message: URI_TOO_LONG_MESSAGE } });
      }
      return reply
        .status(404)
        .type('application/json; charset=utf-8')
        .send({ error: { code: 'not_found', message: `no route ${req.method} ${urlPath}` } });
    }
    let rel: string;
    try {
      rel = decodeURIComponent(urlPath).replace(/^\/+/, '');
    } catch {
      return reply.status(400).type('application/json; charset=utf-8').send({ error: { code: 'bad_request', message: 'malformed URL' } });
    }
    const file = path.resolve(root, rel);
    if (rel !== '' && file.startsWith(root + path.sep) && !rel.split('/').some((p) => p.startsWith('.'))) {
      // a name the file system refuses (ENAMETOOLONG, ENOTDIR…) is no file: the app answers
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(file, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (st?.isFile()) {
        // vite names assets by content hash: they never change under the same name
        const hashed = rel.startsWith('assets/');
        return reply
          .header('x-content-type-options', 'nosniff')
          .sendFile(rel, root, hashed ? { immutable: true, maxAge: '365d' } : { maxAge: 0 });
      }
      // a missing file with an extension is a 404, not the app (a stale asset must not get HTML)
      if (/\.[A-Za-z0-9]{1,8}$/.test(rel)) {
        return reply.status(404).type('text/plain; charset=utf-8').send(`not found: ${urlPath}`);
      }
    }
    return sendIndex(req, reply);
  };

  app.route({ method: 'GET', url: '/', config: { auth: 'public' }, handler });
  app.route({ method: 'GET', url: '/*', config: { auth: 'public' }, handler });
}
