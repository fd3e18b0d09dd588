// Test factories for the center's tests: a center on a temp data folder with known credentials,
// agents with tokens, sessions and events. Not used by production code.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { IngestEvent, IngestResult } from '../core/schema/index.js';
import { createCenter } from './app.js';
import type { Center } from './app.js';
import type { CenterConfig } from './config.js';

export const OPERATOR_TOKEN = 'operator-token-0123456789abcdefghijklmnopqrstuv';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export const tempDataDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-center-'));

export const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export type IngestReply = IngestResult & { error?: { code: string; message: string } };

export interface TestCenter extends Center {
  dataDir: string;
  addAgent(name: string, opts?: { tags?: string[]; enabled?: boolean }): Promise<{ id: number; token: string }>;
  /** POST /api/sessions as the operator; throws unless 201 */
  newSession(body: Record<string, unknown>): Promise<string>;
  ingest(token: string, events: unknown[], extra?: Record<string, unknown>): Promise<{ status: number; body: IngestReply }>;
}

export async function testCenter(overrides: Partial<CenterConfig> = {}): Promise<TestCenter> {
  const dataDir = overrides.dataDir ?? tempDataDir();
  const c = await createCenter({
    dataDir,
    logLevel: 'silent',
    scryptLog2N: 10,
    adminPassword: ADMIN_PASSWORD,
    adminToken: OPERATOR_TOKEN,
    ...overrides,
  });
  let n = 0;
  return {
    ...c,
    dataDir,
    async addAgent(name, opts = {}) {
      const token = `agent-token-${name}-${++n}-abcdefghijklmnopqrstuvwxyz`;
      const r = await c.app.inject({
        method: 'POST',
        url: '/api/agents',
        headers: op,
        payload: { name, url: 'http://127.0.0.1:9070', token, enabled: opts.enabled ?? true, tags: (opts.tags ?? []).join(',') },
      });
      if (r.statusCode !== 201) throw new Error(`addAgent ${name}: ${r.statusCode} ${r.body}`);
      return { id: r.json().id as number, token };
    },
    async newSession(body) {
      const r = await c.app.inject({ method: 'POST', url: '/api/sessions', headers: op, payload: body });
      if (r.statusCode !== 201) throw new Error(`newSession: ${r.statusCode} ${r.body}`);
      return r.json().id as string;
    },
    async ingest(token, events, extra = {}) {
      const r = await c.app.inject({ method: 'POST', url: '/api/ingest', headers: bearer(token), payload: { events, ...extra } });
      return { status: r.statusCode, body: r.json() };
    },
  };
}

let seqCounter = 0;
/** A SIP INVITE event as an agent would post it. */
export function sipEvent(session_id: string, seq: number, over: Partial<IngestEvent> = {}): Record<string, unknown> {
  const callId = over.call_id ?? `call-${++seqCounter}@test`;
  return {
    session_id,
    seq,
    ts: 1_780_000_000_000_000 + seq,
    kind: 'sip',
    transport: 'udp',
    src: { ip: '192.0.2.10', port: 5060 },
    dst: { ip: '198.51.100.20', port: 5060 },
    call_id: callId,
    sip: { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: '15554430191', to_user: '15558672044', has_sdp: false },
    payload: `INVITE sip:15558672044@example.com SIP/2.0\r\nCall-ID: ${callId}\r\n\r\n`,
    ...over,
  };
}

/** The center listening on an ephemeral loopback port, for tests that need real sockets (SSE). */
export async function testServer(overrides: Partial<CenterConfig> = {}): Promise<TestCenter & { url: string }> {
  const c = await testCenter({ ...overrides });
  await c.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = c.app.server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  return Object.assign(c, { url: `http://127.0.0.1:${addr.port}` });
}

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** A minimal SSE client over node:http that records messages and comments. */
export interface SseClient {
  messages: SseMessage[];
  comments: string[];
  status: number;
  ended: Promise<void>;
  isEnded(): boolean;
  waitFor(pred: (c: SseClient) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let buf = '';
      let ended = false;
      let endResolve: () => void = () => undefined;
      const client: SseClient = {
        messages: [],
        comments: [],
        status: res.statusCode ?? 0,
        ended: new Promise<void>((r) => (endResolve = r)),
        isEnded: () => ended,
        async waitFor(pred, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (!pred(client)) {
            if (Date.now() > deadline) throw new Error(`SSE wait timed out (${client.messages.length} messages)`);
            await new Promise((r) => setTimeout(r, 10));
          }
        },
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const msg: SseMessage = { event: 'message', data: '' };
          let isMessage = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) client.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) msg.id = line.slice(4);
            else if (line.startsWith('event: ')) msg.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              msg.data = line.slice(6);
              isMessage = true;
            }
          }
          if (isMessage) client.messages.push(msg);
        }
      });
      const finish = () => {
        ended = true;
        endResolve();
      };
      res.on('end', finish);
      res.on('close', finish);
      resolve(client);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

/** An HTTP server answering like an agent's command API (the center may not import the agent); `reply` decides each answer. */
export class FakeAgent {
  seen: Seen[] = [];
  captures: { session_id: string; counters: Record<string, unknown> }[] = [];
  reply: (s: Seen) => { status: number; body: unknown } | null = () => null;
  private server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body: text ? JSON.parse(text) : null };
      this.seen.push(s);
      const r = this.reply(s) ?? this.default(s);
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
    });
  });
  url = '';

  private default(s: Seen): { status: number; body: unknown } {
    if (s.method === 'GET' && s.url === '/v1/status') {
      return {
        status: 200,
        body: { name: 'x', version: '9.9.9', sources: [{ name: 'hep:udp:127.0.0.1:9060', kind: 'hep', state: 'running', counters: {} }], captures: this.captures },
      };
    }
    if (s.method === 'PUT') return { status: 201, body: {} };
    if (s.method === 'DELETE') return { status: 200, body: {} };
    return { status: 404, body: { error: { code: 'not_found', message: 'no' } } };
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
