import { describe, expect, it } from 'vitest';
import {
  agentUpsertSchema,
  captureCommandSchema,
  criteriaSchema,
  eventSchema,
  hasSearchCriterion,
  ingestEventSchema,
  sessionCreateSchema,
} from './index.js';
import { SEED_SESSION_BODIES as SEED_BODIES } from './seed-examples.js';


describe('criteriaSchema', () => {
  it('accepts every criterion, trims, uppercases the method', () => {
    const c = criteriaSchema.parse({
      from: ' 15554430191 ',
      to: '+1 (555) 867-2044',
      tenant: 'acme',
      domain: 'pbx.example.com',
      provider_ip: '203.0.113.0/24',
      text: 'marker',
      call_id: 'abc@host',
      method: 'invite',
    });
    expect(c.from).toBe('15554430191');
    expect(c.method).toBe('INVITE');
  });

  it.each(['203.0.113.7', '2001:db8::1', '203.0.113.0/24', '2001:db8::/32', '::ffff:192.0.2.1'])(
    'provider_ip accepts %s',
    (ip) => expect(criteriaSchema.safeParse({ provider_ip: ip }).success).toBe(true),
  );

  it.each(['256.1.1.1', '10.0.0.0/33', '2001:db8::/129', '1.2.3', 'example.com', '10.0.0.1/', '01.2.3.4'])(
    'provider_ip rejects %s',
    (ip) => expect(criteriaSchema.safeParse({ provider_ip: ip }).success).toBe(false),
  );

  it('rejects unknown fields, over-long values, short text and non-token methods', () => {
    expect(criteriaSchema.safeParse({ caller: '1' }).success).toBe(false);
    expect(criteriaSchema.safeParse({ from: 'x'.repeat(257) }).success).toBe(false);
    expect(criteriaSchema.safeParse({ text: 'ab' }).success).toBe(false);
    expect(criteriaSchema.safeParse({ method: 'INV ITE' }).success).toBe(false);
    expect(criteriaSchema.safeParse({ from: 5 }).success).toBe(false);
  });

  it('treats empty strings as absent, so method alone or blanks are not a search criterion', () => {
    const c = criteriaSchema.parse({ from: '  ', method: 'INVITE' });
    expect(c.from).toBeUndefined();
    expect(hasSearchCriterion(c)).toBe(false);
    expect(hasSearchCriterion(criteriaSchema.parse({ domain: 'example.com' }))).toBe(true);
  });
});

describe('sessionCreateSchema', () => {
  it.each(SEED_BODIES.map((b) => [b.label, b]))('accepts the seed body "%s" as written', (_l, body) => {
    const r = sessionCreateSchema.safeParse(body);
    expect(r.success).toBe(true);
  });

  it('applies defaults', () => {
    const s = sessionCreateSchema.parse({ criteria: { from: '1' }, agent_tags: ['edge'] });
    expect(s).toMatchObject({ duration_seconds: 3600, capture_rtp: false, capture_pcap: false, label: '', agent_ids: [] });
  });

  it('bounds the duration and the label, rejects unknown fields', () => {
    expect(sessionCreateSchema.safeParse({ duration_seconds: 9 }).success).toBe(false);
    expect(sessionCreateSchema.safeParse({ duration_seconds: 86_401 }).success).toBe(false);
    expect(sessionCreateSchema.safeParse({ duration_seconds: 60.5 }).success).toBe(false);
    expect(sessionCreateSchema.safeParse({ duration_seconds: 86_400 }).success).toBe(true);
    expect(sessionCreateSchema.safeParse({ label: 'x'.repeat(201) }).success).toBe(false);
    expect(sessionCreateSchema.safeParse({ agents: [1] }).success).toBe(false);
    expect(sessionCreateSchema.safeParse({ agent_ids: [0] }).success).toBe(false);
  });
});

describe('event schemas', () => {
  const base = {
    session_id: 'd8e3a6b8f0c24c7a93fb',
    seq: 0,
    ts: 1_780_000_000_000_000,
    kind: 'sip',
    transport: 'udp',
    src: { ip: '192.0.2.1', port: 5060 },
    dst: { ip: '2001:db8::2', port: 5060 },
    call_id: 'a@b',
    sip: { method: 'INVITE', has_sdp: true },
    payload: 'INVITE sip:x SIP/2.0\r\n\r\n',
  };

  it('fills nullable parts with null and keeps the frame on ingest only', () => {
    const e = ingestEventSchema.parse({ ...base, frame: { link_type: 1, data: 'AAEC', orig_len: 3 } });
    expect(e.rtp).toBeNull();
    expect(e.frame).toEqual({ link_type: 1, data: 'AAEC', orig_len: 3 });
    expect(eventSchema.safeParse({ ...e, id: 1, agent_id: 1 }).success).toBe(false); // frame not allowed in lists
    const { frame: _f, ...rest } = e;
    expect(eventSchema.safeParse({ ...rest, id: 1, agent_id: 1 }).success).toBe(true);
  });

  it('a log event has no addresses and no transport', () => {
    const e = ingestEventSchema.parse({ session_id: base.session_id, seq: 1, ts: 1, kind: 'log', payload: 'line', log: { source: '/var/log/x' } });
    expect(e).toMatchObject({ transport: null, src: null, dst: null, call_id: null });
  });

  it.each([
    ['bad kind', { kind: 'http' }],
    ['negative seq', { seq: -1 }],
    ['fractional ts', { ts: 1.5 }],
    ['bad ip', { src: { ip: '999.1.1.1', port: 1 } }],
    ['bad port', { src: { ip: '192.0.2.1', port: 70000 } }],
    ['bad session id', { session_id: 'ABC' }],
    ['huge payload', { payload: 'x'.repeat(64 * 1024 + 1) }],
    ['agent_id from the agent', { agent_id: 3 }],
    ['id from the agent', { id: 3 }],
    ['frame not base64', { frame: { link_type: 1, data: '***', orig_len: 1 } }],
  ])('rejects %s', (_n, over) => {
    expect(ingestEventSchema.safeParse({ ...base, ...over }).success).toBe(false);
  });
});

describe('agentUpsertSchema', () => {
  it('takes tags as the seed says (comma-separated) or as an array', () => {
    const a = agentUpsertSchema.parse({ name: 'edge-1', url: 'http://10.0.0.5:9070', token: 't'.repeat(22), tags: 'edge, PBX SBC,,edge' });
    expect(a.tags).toEqual(['edge', 'PBX SBC']);
    expect(a.enabled).toBe(true);
    expect(agentUpsertSchema.parse({ name: 'x', url: 'https://h', tags: ['a', 'b'] }).tags).toEqual(['a', 'b']);
  });

  it('rejects short tokens, bad names and non-http URLs', () => {
    expect(agentUpsertSchema.safeParse({ name: 'x', url: 'http://h', token: 'short' }).success).toBe(false);
    expect(agentUpsertSchema.safeParse({ name: 'a b', url: 'http://h' }).success).toBe(false);
    expect(agentUpsertSchema.safeParse({ name: 'x', url: 'ftp://h' }).success).toBe(false);
  });
});

describe('captureCommandSchema', () => {
  it('is the body the center PUTs to an agent', () => {
    const cmd = {
      session_id: 'd8e3a6b8f0c24c7a93fb',
      criteria: { from: '15554430191', method: 'INVITE' },
      capture_rtp: true,
      capture_pcap: false,
      expires_at: '2026-06-20T21:30:00Z',
      ingest_url: 'http://127.0.0.1:8080/api/ingest',
    };
    expect(captureCommandSchema.parse(cmd)).toEqual(cmd);
    expect(captureCommandSchema.safeParse({ ...cmd, expires_at: 'tomorrow' }).success).toBe(false);
  });
});
