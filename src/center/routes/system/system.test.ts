// Health, Prometheus metrics, the OpenAPI document, and the error format of unknown routes.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { op, tempDataDir, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';
import { ROUTES } from './openapi.js';

let c: TestCenter;
beforeEach(async () => {
  c = await testCenter();
});
afterEach(async () => {
  await c.close();
});

describe('GET /api/health', () => {
  it('GET /api/health answers without credentials', async () => {
    const r = await c.app.inject({ url: '/api/health' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok' });
  });
});

describe('GET /metrics', () => {
  it('GET /metrics renders Prometheus text with requests by route/status, ingest, SSE clients and sessions', async () => {
    await c.app.inject({ url: '/api/sessions', headers: op });
    await c.app.inject({ url: '/api/sessions/ffffffffffffffffffff', headers: op });
    const r = await c.app.inject({ url: '/metrics', headers: op });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const lines = r.body.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?\d+(\.\d+)?)$/);
    expect(r.body).toContain('tunaio_http_requests_total{method="GET",route="/api/sessions",status="200"} 1');
    expect(r.body).toContain('tunaio_http_requests_total{method="GET",route="/api/sessions/:id",status="404"} 1');
    expect(r.body).toContain('tunaio_sse_clients 0');
    expect(r.body).toContain('tunaio_sessions{status="running"} 0');
    expect(r.body).toContain('# TYPE tunaio_ingest_events_total counter');
  });
});

describe('GET /api/docs', () => {
  it('GET /api/docs is an OpenAPI 3 document listing every registered route with its schemas', async () => {
    const r = await c.app.inject({ url: '/api/docs', headers: op });
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    for (const route of ROUTES) {
      expect(c.app.hasRoute({ method: route.method, url: route.path.replace(/\{(\w+)\}/g, ':$1') }), `${route.method} ${route.path}`).toBe(true);
    }
    expect(documented.sort()).toEqual(ROUTES.map((x) => `${x.method} ${x.path.replace(/\{(\w+)\}/g, ':$1')}`).sort());
    const create = doc.paths['/api/sessions'].post;
    expect(create.requestBody.content['application/json'].schema.properties.criteria.properties).toHaveProperty('provider_ip');
    expect(create.responses['201'].content['application/json'].schema.required).toEqual(['id', 'status', 'expires_at', 'agents', 'stream']);
  });
});

describe('errors', () => {
  it('an unknown route → 404 in the error format, never a stack trace', async () => {
    const r = await c.app.inject({ url: '/api/nothing', headers: op });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /api/nothing' } });
  });
});

describe('web UI', () => {
  it('with webRoot the UI is served at / without credentials while the API keeps its auth and JSON 404', async () => {
    const web = tempDataDir();
    fs.writeFileSync(path.join(web, 'index.html'), '<!doctype html><div id="root"></div>');
    await c.close();
    c = await testCenter({ webRoot: web });
    const ui = await c.app.inject({ url: '/sessions/0123456789abcdef0123' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('id="root"');
    expect((await c.app.inject({ url: '/api/sessions' })).statusCode).toBe(401);
    const miss = await c.app.inject({ url: '/api/nothing', headers: op });
    expect(miss.statusCode).toBe(404);
    expect(miss.json().error.code).toBe('not_found');
  });
});

describe('GET /metrics with the scrape token (TUNAIO_METRICS_TOKEN)', () => {
  it('the metrics token reads /metrics and nothing else; operators still read it; no or a wrong token → 401', async () => {
    await c.close();
    const scrape = 'scrape-token-0123456789abcdefghijklmnop';
    c = await testCenter({ metricsToken: scrape });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const m = await c.app.inject({ url: '/metrics', headers: as(scrape) });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('# TYPE tunaio_http_requests_total counter');
    expect((await c.app.inject({ url: '/metrics', headers: op })).statusCode).toBe(200);
    expect((await c.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await c.app.inject({ url: '/metrics', headers: as('not-the-scrape-token-000000000000') })).statusCode).toBe(401);
    for (const [method, url] of [['GET', '/api/sessions'], ['GET', '/api/agents'], ['POST', '/api/sessions'], ['POST', '/api/ingest'], ['GET', '/api/docs']] as const) {
      const r = await c.app.inject({ method, url, headers: as(scrape), ...(method === 'POST' ? { payload: {} } : {}) });
      expect(r.statusCode, `${method} ${url}`).toBe(403);
      expect(r.json().error.code).toBe('forbidden');
    }
  });
});
