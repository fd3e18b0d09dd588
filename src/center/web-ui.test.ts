import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWebUi } from './web-ui.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-webui-'));
const app = Fastify();

beforeAll(async () => {
  fs.mkdirSync(path.join(root, 'assets'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><div id="root"></div>');
  fs.writeFileSync(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(root, '.secret'), 'no');
  fs.writeFileSync(path.join(os.tmpdir(), 'outside-webui.txt'), 'OUTSIDE-CONTENT-7731');
  app.get('/api/health', async () => ({ ok: true }));
  await registerWebUi(app, { root });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(path.join(os.tmpdir(), 'outside-webui.txt'), { force: true });
});

describe('registerWebUi', () => {
  it('serves index.html at / and for every UI route (SPA fallback), with a strict CSP and no Referer', async () => {
    for (const url of ['/', '/sessions/0123456789abcdef0123', '/share/abcDEF_-123', '/agents', '/sessions/new?x=1']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.body).toContain('<div id="root">');
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      expect(r.headers['cache-control']).toBe('no-cache');
    }
  });

  it('serves hashed assets with long caching', async () => {
    const r = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('console.log(1)');
    expect(r.headers['cache-control']).toContain('immutable');
    expect(r.headers['content-type']).toMatch(/javascript/);
  });

  it('answers 404 for a missing file, never the app', async () => {
    const r = await app.inject({ method: 'GET', url: '/assets/index-old999.js' });
    expect(r.statusCode).toBe(404);
    expect(r.body).not.toContain('root');
  });

  it('keeps /api paths JSON: real routes win, unknown ones are the API 404', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/health' })).json()).toEqual({ ok: true });
    const r = await app.inject({ method: 'GET', url: '/api/nope' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /api/nope' } });
  });

  it('never serves dot files or files outside the root', async () => {
    for (const url of ['/.secret', '/..%2foutside-webui.txt', '/assets/..%2f..%2foutside-webui.txt', '/%2e%2e/outside-webui.txt']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.body, url).not.toContain('OUTSIDE-CONTENT');
      expect(r.body, url).not.toBe('no');
    }
  });

  it('says so when the UI is not built', async () => {
    const bare = Fastify();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-webui-empty-'));
    await registerWebUi(bare, { root: empty });
    const r = await bare.inject({ method: 'GET', url: '/sessions/new' });
    expect(r.statusCode).toBe(503);
    expect(r.json().error.message).toMatch(/npm run build/);
    await bare.close();
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
