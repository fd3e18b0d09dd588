// /api/agents in-process: add, update by name, list without tokens, validation and conflicts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { op, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

let c: TestCenter;
beforeEach(async () => {
  c = await testCenter();
});
afterEach(async () => {
  await c.close();
});

const post = (payload: object) => c.app.inject({ method: 'POST', url: '/api/agents', headers: op, payload });
const TOKEN = 'tok-0123456789abcdefghijklmnop';

describe('POST /api/agents', () => {
  it('POST /api/agents adds (201) then updates by name (200), keeping the token when none is sent', async () => {
    const r = await post({ name: 'edge-fra-1', url: 'http://10.0.0.5:9070', token: TOKEN, enabled: true, tags: 'edge, fra,PBX SBC' });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toEqual({
      id: 1,
      org_id: 1,
      name: 'edge-fra-1',
      url: 'http://10.0.0.5:9070',
      enabled: true,
      tags: ['edge', 'fra', 'PBX SBC'],
      status: 'offline',
      last_seen: null,
      version: null,
      sources: [],
    });
    const u = await post({ name: 'edge-fra-1', url: 'http://10.0.0.6:9070', enabled: false, tags: ['edge'] });
    expect(u.statusCode).toBe(200);
    expect(u.json()).toMatchObject({ id: 1, url: 'http://10.0.0.6:9070', enabled: false, tags: ['edge'] });
    // the kept token still authenticates the agent (403 because it is now disabled, not 401)
    await post({ name: 'edge-fra-1', url: 'http://10.0.0.6:9070', enabled: true });
    const ing = await c.app.inject({ method: 'POST', url: '/api/ingest', headers: { authorization: `Bearer ${TOKEN}` }, payload: { events: [] } });
    expect(ing.statusCode).toBe(200);
  });

  it('POST /api/agents: a new agent without a token, bad fields or unknown fields → 400', async () => {
    for (const body of [
      { name: 'a', url: 'http://h' },
      { name: 'a b', url: 'http://h', token: TOKEN },
      { name: 'a', url: 'not a url', token: TOKEN },
      { name: 'a', url: 'http://h', token: 'short' },
      { name: 'a', url: 'http://h', token: TOKEN, secret: 1 },
      { name: 'a', url: 'http://h', token: TOKEN, enabled: 'yes' },
    ]) {
      const r = await post(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().error.code).toBe('validation_failed');
    }
    expect((await c.app.inject({ url: '/api/agents', headers: op })).json().agents).toEqual([]);
  });

  it('POST /api/agents: a token already used by another agent or by an operator → 409', async () => {
    await post({ name: 'a', url: 'http://h', token: TOKEN });
    const dup = await post({ name: 'b', url: 'http://h', token: TOKEN });
    expect(dup.statusCode).toBe(409);
    const opTok = await post({ name: 'c', url: 'http://h', token: op.authorization.slice(7) });
    expect(opTok.statusCode).toBe(409);
  });
});

describe('GET /api/agents', () => {
  it('GET /api/agents lists agents with the contract fields and never a token', async () => {
    await post({ name: 'a', url: 'http://h', token: TOKEN, tags: 'x' });
    await post({ name: 'b', url: 'https://h2', token: `${TOKEN}-b`, enabled: false });
    const r = await c.app.inject({ url: '/api/agents', headers: op });
    expect(r.statusCode).toBe(200);
    const agents = r.json().agents;
    expect(agents.map((a: { name: string }) => a.name)).toEqual(['a', 'b']);
    expect(Object.keys(agents[0]).sort()).toEqual(['enabled', 'id', 'last_seen', 'name', 'org_id', 'sources', 'status', 'tags', 'url', 'version']);
    expect(r.body).not.toContain(TOKEN);
    expect(r.body).not.toContain('token');
  });
});
