// End-to-end harness of the web UI: the UI built by vite into a temp folder, a real center serving
// it (startCenter with webRoot, temp data folder, port 0), a pass-through proxy in front of it whose
// only job is to cut SSE connections on demand (reconnect tests), an agent registered through the
// API, and real traffic: sipp calls on loopback captured by tcpdump and decoded with the
// protocol package into the events an agent posts to /api/ingest.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { build } from 'vite';
import { startCenter } from '../../src/center/index.js';
import type { RunningCenter } from '../../src/center/index.js';
import { readCaptureFile } from '../../src/protocol/capture-file.js';
import { Dissector } from '../../src/protocol/dissector.js';
import { isParseError } from '../../src/protocol/errors.js';
import { looksLikeSip, parseSipDatagram } from '../../src/protocol/sip.js';
import { looksLikeRtp, parseRtp } from '../../src/protocol/rtp.js';
import { RtpStream, STATIC_PAYLOAD_TYPES } from '../../src/core/match/rtp-stats.js';

export const CHROMIUM = '/usr/lib/chromium/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const ADMIN_PASSWORD = 'web-ui test password 42';
export const OPERATOR_TOKEN = 'web-ui-operator-token-0123456789abcdefghij';
export const ARTIFACTS = path.resolve(process.cwd(), 'test-artifacts');

const tmp = (p: string): string => fs.mkdtempSync(path.join(os.tmpdir(), p));

export async function buildWebUi(): Promise<string> {
  const outDir = tmp('tunaio-web-');
  // vitest sets NODE_ENV=test, which would make vite bundle React's development build
  const env = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: path.resolve(process.cwd(), 'src/web/vite.config.ts'),
      mode: 'production',
      logLevel: 'error',
      build: { outDir, emptyOutDir: true, sourcemap: false },
    });
  } finally {
    process.env.NODE_ENV = env;
  }
  return outDir;
}

export interface Stack {
  /** the UI's origin (front server) */
  url: string;
  center: RunningCenter;
  agent: { id: number; name: string; token: string };
  /** operator API call through the front, with the operator token */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of every shape, read by the tests
  api(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }>;
  ingest(events: unknown[]): Promise<{ accepted: number; rejected: unknown[] }>;
  /** cuts every open SSE connection, as a flaky network would; returns how many were cut */
  dropStreams(): number;
  close(): Promise<void>;
}

export async function startStack(webRoot: string): Promise<Stack> {
  const dataDir = tmp('tunaio-web-data-');
  const center = await startCenter({
    dataDir,
    port: 0,
    host: '127.0.0.1',
    adminPassword: ADMIN_PASSWORD,
    adminToken: OPERATOR_TOKEN,
    logLevel: 'silent',
    webRoot,
  });
  const target = new URL(center.url);
  const streams = new Set<http.ServerResponse>();
  // every request goes to the center byte for byte (SSE included); open streams are remembered
  const front = http.createServer((req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    if (req.url?.includes('/stream')) {
      streams.add(res);
      res.on('close', () => streams.delete(res));
    }
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  const addr = front.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(url + p, {
      method,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text === '' ? null : JSON.parse(text) };
  };
  const name = 'lo-agent';
  const token = 'web-ui-agent-token-abcdefghijklmnopqrstuvwxyz';
  const reg = await api('POST', '/api/agents', { name, url: 'http://127.0.0.1:9', token, enabled: true, tags: 'lab,loopback' });
  if (reg.status !== 201 && reg.status !== 200) throw new Error(`agent registration: ${reg.status} ${JSON.stringify(reg.json)}`);
  return {
    url,
    center,
    agent: { id: reg.json.id ?? reg.json.agent?.id, name, token },
    api,
    async ingest(events) {
      const r = await fetch(`${center.url}/api/ingest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      const j = (await r.json()) as { accepted: number; rejected: unknown[] };
      if (r.status !== 200) throw new Error(`ingest ${r.status}: ${JSON.stringify(j)}`);
      return j;
    },
    dropStreams() {
      const n = streams.size;
      for (const res of streams) res.destroy();
      return n;
    },
    async close() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await center.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// --- traffic ------------------------------------------------------------------------------------

/** An event as an agent posts it, without session_id and seq (added per session). */
export type WireEvent = Record<string, unknown> & { ts: number; kind: string };

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re} (${buf})`)), ms);
    child[stream]!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(t);
        resolve(buf);
      }
    });
  });
}

/** Ports of one sipp call: UAS and UAC signalling, and the media bases (each takes 4 ports). */
export interface SippPorts {
  uas: number;
  uac: number;
  uasMedia: number;
  uacMedia: number;
}

/**
 * Ten consecutive ports under the kernel's ephemeral range (so no socket is handed them meanwhile),
 * at a random base (other suites run sipp on loopback at the same time): `portrange first-last`
 * covers the whole call for a capture filter.
 */
export function sippPorts(): SippPorts & { first: number; last: number } {
  const first = 21_000 + 10 * Math.floor(Math.random() * 900);
  return { uas: first, uac: first + 1, uasMedia: first + 2, uacMedia: first + 6, first, last: first + 9 };
}

/** sipp scenario files (UAS and UAC) for a call flow the built-in scenarios do not make */
export interface SippScenario {
  uas: string;
  uac: string;
}

/**
 * Runs one real sipp call on loopback: built-in uas/uac (with `rtp`, uac_pcap with RTP echo), or the
 * given scenario files.
 */
export async function runSippCall(ports: SippPorts, rtp: boolean, scenario?: SippScenario, calls = 1): Promise<void> {
  const dir = tmp('tunaio-sipp-');
  try {
    if (rtp) fs.symlinkSync('/usr/share/sip-tester', path.join(dir, 'pcap'));
    const uasArgs = [...(scenario ? ['-sf', scenario.uas] : ['-sn', 'uas']), '-i', '127.0.0.1', '-p', String(ports.uas), '-bg', '-nostdin'];
    if (rtp) uasArgs.push('-rtp_echo', '-mp', String(ports.uasMedia));
    // sipp -bg exits 99 once the background process is started, printing its PID
    const uas = spawnSync('sipp', uasArgs, { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    const pid = Number(/PID=\[(\d+)\]/.exec(uas.stdout ?? '')?.[1]);
    if (!(pid > 0)) throw new Error(`sipp uas did not start: ${uas.stdout} ${uas.stderr}`);
    try {
      const uacArgs = [...(scenario ? ['-sf', scenario.uac] : ['-sn', rtp ? 'uac_pcap' : 'uac']), `127.0.0.1:${ports.uas}`, '-i', '127.0.0.1', '-p', String(ports.uac), '-m', String(calls), '-r', '100', '-nostdin', '-timeout', '30s'];
      if (rtp) uacArgs.push('-mp', String(ports.uacMedia));
      execFileSync('sipp', uacArgs, { cwd: dir, stdio: 'ignore', timeout: 40_000 });
    } finally {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One real sipp call captured by tcpdump and decoded into SIP events and, with `rtp`, RTP samples
 * and final stream stats: what an agent would post, for tests that drive ingest themselves.
 */
export async function sippCall(rtp = false, scenario?: SippScenario, calls = 1): Promise<WireEvent[]> {
  const ports = sippPorts();
  const dir = tmp('tunaio-sippcap-');
  const pcap = path.join(dir, 'call.pcap');
  const dump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '4096', '-B', '8192', '-Z', 'root', '-w', pcap, `udp and portrange ${ports.first}-${ports.last}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    try {
      await waitFor(dump, 'stderr', /listening on/, 10_000);
      await runSippCall(ports, rtp, scenario, calls);
      await new Promise((r) => setTimeout(r, 300)); // let tcpdump write the last packets
    } finally {
      dump.kill('SIGINT');
      await new Promise((r) => dump.once('exit', r));
    }
    return decodeCapture(fs.readFileSync(pcap));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const userOf = (v: string | undefined): string | undefined => /sips?:([^@;>]+)@/i.exec(v ?? '')?.[1];

export function decodeCapture(buf: Buffer): WireEvent[] {
  const { records } = readCaptureFile(buf);
  const d = new Dissector();
  const out: WireEvent[] = [];
  const streams = new Map<string, { s: RtpStream; samples: number; callId: string | null }>();
  let callId: string | null = null;
  for (const rec of records) {
    for (const u of d.push(rec)) {
      if (u.transport !== 'udp') continue;
      const src = { ip: u.src.ip, port: u.src.port };
      const dst = { ip: u.dst.ip, port: u.dst.port };
      if (looksLikeSip(u.payload)) {
        const msg = parseSipDatagram(u.payload);
        if (isParseError(msg)) continue;
        callId = msg.callId ?? callId;
        out.push({
          ts: u.tsUs,
          kind: 'sip',
          transport: 'udp',
          src,
          dst,
          call_id: msg.callId ?? null,
          sip: {
            ...(msg.isRequest ? { method: msg.method } : { status: msg.statusCode, reason: msg.reason }),
            cseq_seq: msg.cseq?.seq,
            cseq_method: msg.cseq?.method,
            from_user: userOf(msg.header('from')),
            to_user: userOf(msg.header('to')),
            has_sdp: msg.body.length > 0 && /application\/sdp/i.test(msg.header('content-type') ?? ''),
          },
          payload: msg.raw.toString('utf8'),
        });
      } else if (looksLikeRtp(u.payload)) {
        const h = parseRtp(u.payload);
        if (isParseError(h) || h.payloadType >= 72) continue;
        const key = `${src.ip}:${src.port}>${dst.ip}:${dst.port}#${h.ssrc}`;
        let st = streams.get(key);
        if (!st) {
          st = { s: new RtpStream(h.ssrc, src.ip, src.port, dst.ip, dst.port), samples: 0, callId };
          streams.set(key, st);
        }
        st.s.update(h.sequence, h.timestamp, h.payloadType, u.tsUs, STATIC_PAYLOAD_TYPES[h.payloadType], h.marker);
        if (st.samples < 3) {
          st.samples++;
          out.push({
            ts: u.tsUs,
            kind: 'rtp',
            transport: 'udp',
            src,
            dst,
            call_id: callId,
            rtp: { ssrc: h.ssrc, pt: h.payloadType, seq: h.sequence, ts: h.timestamp, marker: h.marker },
          });
        }
      }
    }
  }
  for (const { s, callId: cid } of streams.values()) {
    const snap = s.snapshot();
    out.push({
      ts: snap.lastTsUs,
      kind: 'rtp',
      transport: 'udp',
      src: snap.src,
      dst: snap.dst,
      call_id: cid,
      stats: {
        ssrc: snap.ssrc,
        packets: snap.packets,
        expected: snap.expected,
        lost: snap.lost,
        jitter_ms: snap.jitterMs,
        max_delta_ms: snap.maxDeltaMs,
        mos: snap.mos ?? null,
        codec: snap.codec ?? null,
        final: true,
      },
    });
  }
  return out.sort((a, b) => a.ts - b.ts);
}

let seq = 0;
export const forSession = (sessionId: string, evs: WireEvent[]): unknown[] =>
  evs.map((e) => ({ ...e, session_id: sessionId, seq: ++seq }));

/**
 * A generated session of `n` SIP events: calls of 7 messages (INVITE, 100, 180, 200, ACK, BYE, 200),
 * one in seven answered 486 instead (INVITE, 100, 180, 486, ACK), 50 ms apart, full SIP text. For
 * the large-session test and benchmark: what a busy trunk gives in a few minutes.
 */
export function generatedCalls(n: number, t0 = 1_780_000_000_000_000): WireEvent[] {
  const out: WireEvent[] = [];
  const a = { ip: '198.51.100.10', port: 5060 };
  const b = { ip: '203.0.113.20', port: 5060 };
  for (let c = 0; out.length < n; c++) {
    const callId = `gen-${c}-${(c * 2654435761) % 1e9}@198.51.100.10`;
    const from = `1555${String(1_000_000 + c).slice(1)}`;
    const to = `1666${String(1_000_000 + ((c * 7) % 999_983)).slice(1)}`;
    const busy = c % 7 === 3;
    const flow: [string | number, string, boolean][] = busy
      ? [['INVITE', 'INVITE', true], [100, 'INVITE', false], [180, 'INVITE', false], [486, 'INVITE', false], ['ACK', 'ACK', true]]
      : [['INVITE', 'INVITE', true], [100, 'INVITE', false], [180, 'INVITE', false], [200, 'INVITE', false], ['ACK', 'ACK', true], ['BYE', 'BYE', true], [200, 'BYE', false]];
    flow.forEach(([m, cseqMethod, fromCaller], i) => {
      if (out.length >= n) return;
      const isReq = typeof m === 'string';
      const reason = m === 100 ? 'Trying' : m === 180 ? 'Ringing' : m === 486 ? 'Busy Here' : 'OK';
      const cseq = cseqMethod === 'BYE' ? 2 : 1;
      const start = isReq ? `${m} sip:${to}@203.0.113.20 SIP/2.0` : `SIP/2.0 ${m} ${reason}`;
      const toTag = i > 1 ? `;tag=t${c}` : '';
      const payload =
        `${start}\r\nVia: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-${c}-${cseqMethod}\r\nFrom: <sip:${from}@198.51.100.10>;tag=f${c}\r\n` +
        `To: <sip:${to}@203.0.113.20>${toTag}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${cseqMethod}\r\n` +
        `${isReq ? 'User-Agent: gen-uac/1.0\r\nMax-Forwards: 70\r\n' : 'Server: gen-uas/2.0\r\n'}Content-Length: 0\r\n\r\n`;
      out.push({
        ts: t0 + c * 50_000 + i * 1000,
        kind: 'sip',
        transport: 'udp',
        src: fromCaller ? a : b,
        dst: fromCaller ? b : a,
        call_id: callId,
        sip: {
          ...(isReq ? { method: m } : { status: m, reason }),
          cseq_seq: cseq,
          cseq_method: cseqMethod,
          from_user: from,
          to_user: to,
          has_sdp: false,
        },
        payload,
      });
    });
  }
  return out;
}
