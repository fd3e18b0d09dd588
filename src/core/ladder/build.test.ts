import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { buildLadder } from './build.js';
import { UTC_ZONE, clockZone, formatClock, formatDate, renderLadderSvg, titleLines } from './svg.js';
import { rowOfArrow, rowWindow, visibleRows } from './window.js';
import { sipEventsFromCapture } from './testing/pcap-events.js';
import type { LadderEvent } from './types.js';

const B2BUA = path.resolve(process.cwd(), '../shared/pcaps/sip_websocket_and_udp_b2bua_407__heplify.pcap');

/** tshark, the oracle: Call-ID and CSeq of every SIP message, in capture order. */
function tsharkMessages(file: string): string[] {
  const out = execFileSync('tshark', ['-r', file, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID', '-e', 'sip.CSeq', '-E', 'occurrence=a'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .flatMap((l) => {
      const [ids, cseqs] = l.split('\t');
      const c = cseqs.split(',');
      return ids.split(',').map((id, i) => `${id} ${c[i]}`);
    });
}

describe('buildLadder on the B2BUA capture (WebSocket and UDP legs, 407)', () => {
  const events = sipEventsFromCapture(B2BUA);
  const ladder = buildLadder(events, { agentNames: { 1: 'edge' } });

  it('draws one arrow per SIP message tshark sees, in capture order', () => {
    const oracle = tsharkMessages(B2BUA);
    expect(oracle.length).toBe(39);
    expect(ladder.arrows.map((a) => `${a.callId} ${a.cseq}`)).toEqual(oracle);
    for (let i = 1; i < ladder.arrows.length; i++) {
      expect(ladder.arrows[i].ts).toBeGreaterThanOrEqual(ladder.arrows[i - 1].ts);
      expect(ladder.arrows[i].deltaUs).toBe(ladder.arrows[i].ts - ladder.arrows[i - 1].ts);
    }
  });

  it('puts the caller (the WebSocket client) first and follows the INVITE through the B2BUA', () => {
    expect(ladder.lanes.map((l) => l.key)).toEqual([
      '10.243.17.55:43380', // SIP.js over WebSocket
      '10.243.0.157:8080', // OpenSIPS WS side
      '10.243.0.157:5060', // OpenSIPS UDP side
      '10.243.0.143:5060', // FreeSWITCH (B2BUA)
      '10.243.1.36:5090',
      '18.214.104.248:5090',
      '10.243.0.157:5070', // OPTIONS pinger, not part of the call
    ]);
    expect(ladder.lanes[0].name).toBe('SIP.js/0.11.5');
    expect(ladder.lanes[3].name).toMatch(/^FreeSWITCH/);
    const first = ladder.arrows.find((a) => a.method === 'INVITE')!;
    expect([first.from, first.to, first.transport]).toEqual([0, 1, 'ws']);
  });

  it('groups the two legs of the B2BUA as two calls with their dialogs', () => {
    expect(ladder.calls.map((c) => [c.callId, c.method, c.messages])).toEqual([
      ['455c5fcd57ea6b6e-8191@0.0.0.0', 'OPTIONS', 2],
      ['kovfhoptshgn59q712sr', 'INVITE', 19],
      ['926ffd16-6154-1237-09ba-0270b3230128', 'INVITE', 18],
    ]);
    const aLeg = ladder.calls[1];
    // the 407 closes one dialog (its To-tag), the retried INVITE makes the confirmed one
    expect(aLeg.dialogs.map((d) => [d.toTag, d.state])).toEqual([
      ['ecce342ff79169ddc3122ad3983ac8b6.a3a3', 'failed'],
      ['Hg3pt6QU3Dycj', 'confirmed'],
    ]);
    expect(ladder.calls[2].dialogs.map((d) => d.state)).toEqual(['confirmed']);
  });

  it('marks the resent reliable 183s as retransmissions, on both hops, and nothing else', () => {
    const re = ladder.arrows.filter((a) => a.retransmission);
    expect(re.map((a) => [a.label, a.from, a.to])).toEqual([
      ['183 Session Progress', 4, 2],
      ['183 Session Progress', 2, 3],
      ['183 Session Progress', 4, 2],
      ['183 Session Progress', 2, 3],
    ]);
  });

  it('colours by transaction: responses share their request colour, each hop its own', () => {
    const invite = ladder.arrows.find((a) => a.method === 'INVITE' && a.cseq === '2206 INVITE')!;
    const resp407 = ladder.arrows.find((a) => a.status === 407)!;
    expect(resp407.colour).toBe(invite.colour);
    const hops = ladder.arrows.filter((a) => a.method === 'INVITE' && a.callId?.startsWith('926ffd16'));
    expect(hops).toHaveLength(2);
    expect(hops[0].colour).not.toBe(hops[1].colour);
  });

  it('shows one Call-ID when the dialog selector picks it, and keeps the full call list', () => {
    const one = buildLadder(events, { callId: '926ffd16-6154-1237-09ba-0270b3230128' });
    expect(one.arrows).toHaveLength(18);
    expect(one.calls).toHaveLength(3);
    expect(new Set(one.arrows.map((a) => a.callId))).toEqual(new Set(['926ffd16-6154-1237-09ba-0270b3230128']));
    expect(one.lanes[0].key).toBe('10.243.0.143:5060'); // FreeSWITCH calls out on this leg
  });

  it('renders an SVG with every lane IP:port, every arrow and escaped text', () => {
    const svg = renderLadderSvg(ladder, { testIds: true, title: 'b2bua <test>' });
    expect(svg.match(/data-testid="ladder-arrow"/g)).toHaveLength(39);
    for (const l of ladder.lanes) expect(svg).toContain(`>${l.key}<`);
    expect(svg).toContain('b2bua &lt;test&gt;');
    expect(svg).toContain('407 Proxy Authentication Required');
  });

  it('wraps a long title to the picture width instead of clipping it (issue 14: PNG title clipped)', () => {
    const two = buildLadder([], {}); // no lanes: the narrowest picture
    const narrow = renderLadderSvg(two, { title: 'short' });
    const width = Number(/width="(\d+)"/.exec(narrow)![1]);
    const title = `ticket 4711 busy line · 0123456789abcdef0123 · Call-ID a84b4c76e66710-very-long-call-identifier@pc33.example.com · 2026-12-04 16:02:11.201 UTC`;
    const lines = titleLines(title, width);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length * 9 + 16).toBeLessThanOrEqual(Math.max(width, 12 * 9 + 16));
    expect(lines.join('').replace(/\s+/g, '')).toBe(title.replace(/\s+/g, ''));
    const svg = renderLadderSvg(two, { title });
    expect(svg.match(/font-weight="700"/g)).toHaveLength(lines.length);
    expect(Number(/height="(\d+)"/.exec(svg)![1])).toBe(Number(/height="(\d+)"/.exec(narrow)![1]) + 18 * (lines.length - 1));
  });

  it('writes the time column in a zone, with the date and the zone in the header and the day on rows past midnight', () => {
    expect(formatClock(Date.UTC(2026, 11, 4, 23, 59, 59, 500) * 1000, clockZone(330))).toBe('05:29:59.500');
    expect(clockZone(-180).name).toBe('-03:00');
    expect(clockZone(0)).toBe(UTC_ZONE);
    const svg = renderLadderSvg(ladder, { zone: clockZone(330) });
    expect(svg).toContain(`>${formatDate(ladder.rows[0].ts, clockZone(330))} +05:30 · delta<`);
    expect(renderLadderSvg(ladder)).toContain(' UTC · delta<');
    // rows on the next day (in this zone) carry their date
    const late = { ...ladder, rows: ladder.rows.map((r, i) => ({ ...r, ts: Date.UTC(2026, 11, 4, 18, 29, 0) * 1000 + i * 60_000_000 })) };
    const body = renderLadderSvg(late, { zone: clockZone(330) });
    expect(body).toContain('>23:59:00.000<');
    expect(body).toContain('>12-05 00:00:00.000<');
  });

  it('is an SVG a server-side rasteriser (resvg) draws at its declared size', () => {
    const svg = renderLadderSvg(ladder, { title: 'b2bua' });
    const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    const png = new Resvg(svg, { font: { loadSystemFonts: true } }).render();
    expect([png.width, png.height]).toEqual([w, h]);
    expect(h).toBe(28 + 58 + 39 * 32 + 16);
    expect(png.asPng().length).toBeGreaterThan(20_000);
  });
});

// --- synthetic traffic --------------------------------------------------------------------------

let nextId = 1;
function sip(
  agent: number,
  ts: number,
  src: string,
  dst: string,
  first: string,
  h: { callId?: string; cseq: string; branch: string; fromTag?: string; toTag?: string; ua?: string },
): LadderEvent {
  const [sip1, sport] = src.split(':');
  const [dip, dport] = dst.split(':');
  const callId = h.callId ?? 'fork-1@test';
  const isReq = !first.startsWith('SIP/2.0');
  const [seq, method] = h.cseq.split(' ');
  const payload =
    (isReq ? `${first} sip:bob@example.com SIP/2.0` : first) +
    `\r\nVia: SIP/2.0/UDP ${src};branch=${h.branch}\r\nFrom: <sip:alice@example.com>;tag=${h.fromTag ?? 'a1'}` +
    `\r\nTo: <sip:bob@example.com>${h.toTag ? `;tag=${h.toTag}` : ''}\r\nCall-ID: ${callId}\r\nCSeq: ${h.cseq}` +
    (h.ua ? `\r\nUser-Agent: ${h.ua}` : '') +
    '\r\nContent-Length: 0\r\n\r\n';
  const status = isReq ? undefined : Number(first.split(' ')[1]);
  return {
    id: nextId++,
    agent_id: agent,
    ts,
    kind: 'sip',
    transport: 'udp',
    src: { ip: sip1, port: Number(sport) },
    dst: { ip: dip, port: Number(dport) },
    call_id: callId,
    sip: isReq
      ? { method: first, cseq_seq: Number(seq), cseq_method: method, has_sdp: false }
      : { status, reason: first.split(' ').slice(2).join(' '), cseq_seq: Number(seq), cseq_method: method, has_sdp: false },
    payload,
  };
}

describe('buildLadder on synthetic traffic', () => {
  const A = '192.0.2.1:5060';
  const P = '192.0.2.2:5060';
  const B1 = '192.0.2.3:5060';
  const B2 = '192.0.2.4:5060';

  it('shows a forked INVITE as two early dialogs with one Call-ID and different To-tags', () => {
    const t = 1_780_000_000_000_000;
    const ev = [
      sip(1, t, A, P, 'INVITE', { cseq: '1 INVITE', branch: 'z9hG4bK-a' }),
      sip(1, t + 1000, P, B1, 'INVITE', { cseq: '1 INVITE', branch: 'z9hG4bK-p1' }),
      sip(1, t + 1100, P, B2, 'INVITE', { cseq: '1 INVITE', branch: 'z9hG4bK-p2' }),
      sip(1, t + 5000, B1, P, 'SIP/2.0 180 Ringing', { cseq: '1 INVITE', branch: 'z9hG4bK-p1', toTag: 'b1' }),
      sip(1, t + 6000, P, A, 'SIP/2.0 180 Ringing', { cseq: '1 INVITE', branch: 'z9hG4bK-a', toTag: 'b1' }),
      sip(1, t + 7000, B2, P, 'SIP/2.0 180 Ringing', { cseq: '1 INVITE', branch: 'z9hG4bK-p2', toTag: 'b2' }),
      sip(1, t + 8000, P, A, 'SIP/2.0 180 Ringing', { cseq: '1 INVITE', branch: 'z9hG4bK-a', toTag: 'b2' }),
    ];
    const l = buildLadder(ev);
    expect(l.calls).toHaveLength(1);
    expect(l.calls[0].dialogs.map((d) => [d.toTag, d.state])).toEqual([
      ['b1', 'early'],
      ['b2', 'early'],
    ]);
    const ringing = l.arrows.filter((a) => a.status === 180 && a.to === 0);
    expect(ringing).toHaveLength(2);
    expect(ringing[0].dialogId).not.toBe(ringing[1].dialogId);
    expect(ringing.every((a) => !a.retransmission)).toBe(true); // same response, different To-tag: not resent
    expect(l.lanes.map((x) => x.key)).toEqual([A, P, B1, B2]);
  });

  it('draws a message seen by two agents once, listing both, and marks a later resend', () => {
    const t = 1_780_000_000_000_000;
    const ev = [
      sip(2, t + 40, A, P, 'INVITE', { callId: 'dup@x', cseq: '1 INVITE', branch: 'z9hG4bK-d' }),
      sip(1, t, A, P, 'INVITE', { callId: 'dup@x', cseq: '1 INVITE', branch: 'z9hG4bK-d' }),
      // T1 later both agents see the retransmission
      sip(1, t + 500_000, A, P, 'INVITE', { callId: 'dup@x', cseq: '1 INVITE', branch: 'z9hG4bK-d' }),
      sip(2, t + 500_050, A, P, 'INVITE', { callId: 'dup@x', cseq: '1 INVITE', branch: 'z9hG4bK-d' }),
      sip(1, t + 600_000, P, A, 'SIP/2.0 100 Trying', { callId: 'dup@x', cseq: '1 INVITE', branch: 'z9hG4bK-d' }),
    ];
    const l = buildLadder(ev, { agentNames: new Map([[1, 'edge-a'], [2, 'edge-b']]) });
    expect(l.arrows.map((a) => [a.label, a.retransmission, a.agentNames])).toEqual([
      ['INVITE', false, ['edge-a', 'edge-b']],
      ['INVITE', true, ['edge-a', 'edge-b']],
      ['100 Trying', false, ['edge-a']],
    ]);
    expect(l.arrows[0].eventIds).toHaveLength(2);
    // the same agent seeing the same message twice is a resend, even within the window
    const same = buildLadder([ev[1], { ...ev[1], id: 999, ts: ev[1].ts + 10 }]);
    expect(same.arrows.map((a) => a.retransmission)).toEqual([false, true]);
  });

  it('gives an ACK to a non-2xx final the colour of its INVITE transaction', () => {
    const t = 1_780_000_000_000_000;
    const l = buildLadder([
      sip(1, t, A, P, 'INVITE', { callId: 'ack@x', cseq: '1 INVITE', branch: 'z9hG4bK-i' }),
      sip(1, t + 10, P, A, 'SIP/2.0 486 Busy Here', { callId: 'ack@x', cseq: '1 INVITE', branch: 'z9hG4bK-i', toTag: 'x' }),
      sip(1, t + 20, A, P, 'ACK', { callId: 'ack@x', cseq: '1 ACK', branch: 'z9hG4bK-i', toTag: 'x' }),
      sip(1, t + 30, A, P, 'OPTIONS', { callId: 'ack@x', cseq: '2 OPTIONS', branch: 'z9hG4bK-o' }),
    ]);
    expect(l.arrows.map((a) => a.colour)).toEqual([0, 0, 0, 1]);
  });

  it('puts media on the lane of the same IP and logs on the same timeline', () => {
    const t = 1_780_000_000_000_000;
    const invite = sip(1, t, A, P, 'INVITE', { callId: 'm@x', cseq: '1 INVITE', branch: 'z9hG4bK-m', ua: 'phone/1' });
    const rtp = (ts: number, seq: number): LadderEvent => ({
      id: nextId++,
      agent_id: 1,
      ts,
      kind: 'rtp',
      src: { ip: '192.0.2.1', port: 40000 },
      dst: { ip: '198.51.100.9', port: 30000 },
      call_id: 'm@x',
      sip: null,
      payload: null,
      rtp: { ssrc: 0x1234, pt: 0, seq, ts: seq * 160, marker: false },
    });
    const stats: LadderEvent = {
      ...rtp(t + 3_000_000, 0),
      rtp: null,
      stats: { ssrc: 0x1234, packets: 95, expected: 100, lost: 5, jitter_ms: 2.5, max_delta_ms: 40, mos: 4.1, codec: null, final: true },
    };
    const log: LadderEvent = {
      id: nextId++, agent_id: 1, ts: t + 1000, kind: 'log', src: null, dst: null, call_id: 'm@x', sip: null,
      payload: 'NOTICE: new call callid=m@x', log: { source: '/var/log/kamailio.log' },
    };
    const l = buildLadder([stats, rtp(t + 2_000_000, 2), log, rtp(t + 1_000_000, 1), invite], { agentNames: { 1: 'edge' } });
    expect(l.rows.map((r) => r.type)).toEqual(['arrow', 'log', 'media']);
    expect(l.lanes.map((x) => [x.key, x.name])).toEqual([
      [A, 'phone/1'],
      [P, null],
      ['198.51.100.9', null],
    ]);
    expect(l.media).toHaveLength(1);
    expect(l.media[0]).toMatchObject({ from: 0, to: 2, codec: 'PCMU', packets: 95, lossPct: 5, jitterMs: 2.5, mos: 4.1, final: true });
    expect(l.logs[0]).toMatchObject({ source: 'edge /var/log/kamailio.log', text: 'NOTICE: new call callid=m@x' });
  });

  it('puts RTP on the lanes of the endpoints that announced its addresses in SDP, even on one IP', () => {
    const t = 1_780_000_000_000_000;
    const withSdp = (e: LadderEvent, port: number): LadderEvent => ({
      ...e,
      sip: { ...e.sip!, has_sdp: true },
      payload: e.payload!.replace('Content-Length: 0\r\n\r\n', '') +
        `Content-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8\r\n`,
    });
    const caller = '127.0.0.1:5061';
    const callee = '127.0.0.1:5062';
    const rtp = (ts: number, from: number, to: number): LadderEvent => ({
      id: nextId++, agent_id: 1, ts, kind: 'rtp', src: { ip: '127.0.0.1', port: from }, dst: { ip: '127.0.0.1', port: to },
      call_id: 'sdp@x', sip: null, payload: null, rtp: { ssrc: from, pt: 8, seq: 1, ts: 160, marker: false },
    });
    const l = buildLadder([
      withSdp(sip(1, t, caller, callee, 'INVITE', { callId: 'sdp@x', cseq: '1 INVITE', branch: 'z9hG4bK-s' }), 40000),
      withSdp(sip(1, t + 10, callee, caller, 'SIP/2.0 200 OK', { callId: 'sdp@x', cseq: '1 INVITE', branch: 'z9hG4bK-s', toTag: 'b' }), 30000),
      rtp(t + 20, 40000, 30000),
      rtp(t + 21, 30000, 40000),
    ]);
    expect(l.lanes.map((x) => x.key)).toEqual([caller, callee]);
    expect(l.media.map((m) => [m.src, m.from, m.to, m.codec])).toEqual([
      ['127.0.0.1:40000', 0, 1, 'PCMA'],
      ['127.0.0.1:30000', 1, 0, 'PCMA'],
    ]);
  });

  it('windows large ladders', () => {
    expect(visibleRows(10_000, 3200, 640, 32, 5)).toEqual({ first: 95, end: 125 });
    expect(visibleRows(0, 0, 640, 32)).toEqual({ first: 0, end: 0 });
    expect(rowWindow({ rows: new Array(5000).fill({ type: 'arrow', ts: 0, arrow: 0 }) }, 1000, 4900)).toEqual({ first: 4000, end: 5000 });
    const t = 1_780_000_000_000_000;
    const many: LadderEvent[] = [];
    for (let i = 0; i < 10_000; i++) {
      many.push(sip(1, t + i * 1000, A, P, 'OPTIONS', { callId: `c${i % 500}@x`, cseq: `${i} OPTIONS`, branch: `z9hG4bK-${i}` }));
    }
    const l = buildLadder(many);
    expect(l.arrows).toHaveLength(10_000);
    expect(rowOfArrow(l, 9_999)).toBe(9_999);
    const svg = renderLadderSvg(l, { first: 5000, end: 5050, testIds: true });
    expect(svg.match(/data-testid="ladder-arrow"/g)).toHaveLength(50);
  });
});
