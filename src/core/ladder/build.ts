// buildLadder: session events → the ladder model (types.ts). One pure function, shared by the web UI
// and the server-side renderer, so both draw the same picture. It owns: lane choice and order,
// dedupe of a message seen by several agents, retransmission marking, transaction colours, dialog
// grouping (forked INVITEs = early dialogs with different To-tags), media streams and log lines on the
// same timeline. It does not draw (svg.ts does) and does no I/O.
import { buildMarks } from './marks.js';
import { branchOf, readSipText, tagOf } from './sip-text.js';
import type {
  CallInfo,
  DialogInfo,
  Ladder,
  LadderArrow,
  LadderEvent,
  LadderOptions,
  LadderRow,
  Lane,
  LogLine,
  MediaStream,
} from './types.js';

/** RFC 3261 §17.1.1.2: T1 = 500 ms is the first retransmission interval; sightings closer than this are one send. */
export const DEFAULT_DEDUPE_WINDOW_US = 250_000;

/** Static RTP payload types (RFC 3551 §6) for streams whose codec the agent did not name. */
const STATIC_PT: Record<number, string> = { 0: 'PCMU', 3: 'GSM', 4: 'G723', 8: 'PCMA', 9: 'G722', 13: 'CN', 18: 'G729' };

export const endpointKey = (ip: string, port: number | null): string => {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === null ? host : `${host}:${port}`;
};

interface Sighting {
  ev: LadderEvent;
  callId: string | null;
  fromTag: string | null;
  toTag: string | null;
  branch: string | null;
  product: string | null;
  isRequest: boolean;
  method: string | null;
  status: number | null;
  label: string;
  cseq: string | null;
  cseqMethod: string | null;
  /** "ip:port" of each m= line of an SDP body (RFC 4566 §5.7, §5.14): where this sender receives media */
  media: string[];
}

const WANTED: ReadonlySet<string> = new Set(['call-id', 'from', 'to', 'via', 'cseq', 'user-agent', 'server']);

// Reading the message text is most of the work; a live session rebuilds the ladder for every batch,
// so what each event says is remembered (per event object, released with it).
const described = new WeakMap<LadderEvent, Sighting>();

function describe(ev: LadderEvent): Sighting {
  let s = described.get(ev);
  if (s === undefined) {
    s = read(ev);
    described.set(ev, s);
  }
  return s;
}

function read(ev: LadderEvent): Sighting {
  const sip = ev.sip;
  const text = ev.payload ?? '';
  const parsed = text !== '' ? readSipText(text, WANTED) : null;
  const h = parsed?.headers;
  const status = sip?.status ?? null;
  const isRequest = status === null;
  let method = sip?.method ?? null;
  if (isRequest && method === null && parsed) method = parsed.startLine.split(' ')[0] || null;
  const reason = sip?.reason ?? '';
  const label = isRequest ? (method ?? '?') : `${status}${reason !== '' ? ' ' + reason : ''}`;
  let cseqMethod = sip?.cseq_method ?? null;
  let cseqSeq: number | null = sip?.cseq_seq ?? null;
  if ((cseqMethod === null || cseqSeq === null) && h?.get('cseq')) {
    const m = /^\s*(\d+)\s+(\S+)/.exec(h.get('cseq') ?? '');
    if (m) {
      cseqSeq ??= Number(m[1]);
      cseqMethod ??= m[2];
    }
  }
  // Proxies forward User-Agent and Server unchanged, so only trust them where the sender wrote the
  // message itself: a request with one Via (it originated there), a 100 Trying (hop-by-hop, §16.2).
  let product: string | null = null;
  if (h && isRequest && parsed.viaCount === 1) product = h.get('user-agent') ?? null;
  else if (h && status === 100) product = h.get('server') ?? h.get('user-agent') ?? null;
  const media = parsed && (sip?.has_sdp ?? false) ? sdpMedia(text.slice(parsed.bodyOffset)) : [];
  return {
    ev,
    media,
    callId: ev.call_id ?? h?.get('call-id') ?? null,
    fromTag: tagOf(h?.get('from')),
    toTag: tagOf(h?.get('to')),
    branch: branchOf(h?.get('via')),
    product: product === null ? null : product.slice(0, 40),
    isRequest,
    method,
    status,
    label,
    cseq: cseqSeq !== null && cseqMethod !== null ? `${cseqSeq} ${cseqMethod}` : null,
    cseqMethod,
  };
}

/** Media addresses of an SDP body: the connection address (media level wins over session level) and port of each m= line. */
export function sdpMedia(body: string): string[] {
  const out: string[] = [];
  let sessionIp: string | null = null;
  let port: number | null = null;
  let ip: string | null = null;
  const flush = (): void => {
    const addr = ip ?? sessionIp;
    if (port !== null && port > 0 && addr !== null) out.push(endpointKey(addr, port));
  };
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    // c=IN IP4 192.0.2.1 (RFC 4566 §5.7)
    const c = /^c=IN IP[46] ([0-9A-Fa-f.:]+)/.exec(line);
    if (c) {
      if (port === null) sessionIp = c[1];
      else ip = c[1];
      continue;
    }
    // m=audio 49170 RTP/AVP 0 (RFC 4566 §5.14)
    const m = /^m=\S+ (\d+)/.exec(line);
    if (m) {
      flush();
      port = Number(m[1]);
      ip = null;
    }
  }
  flush();
  return out;
}

const dialogIdOf = (callId: string | null, a: string | null, b: string | null): string => {
  if (callId === null) return '';
  const tags = [a, b].filter((t): t is string => t !== null).sort();
  return [callId, ...tags].join(';');
};

const nameOf = (names: LadderOptions['agentNames'], id: number): string | undefined =>
  names instanceof Map ? names.get(id) : names?.[id];

const byTime = (a: LadderEvent, b: LadderEvent): number => a.ts - b.ts || a.id - b.id;

export function buildLadder(events: readonly LadderEvent[], options: LadderOptions = {}): Ladder {
  const window = options.dedupeWindowUs ?? DEFAULT_DEDUPE_WINDOW_US;
  const selected = options.callId ?? null;
  const sorted = [...events].sort(byTime);

  const sightings: Sighting[] = [];
  const mediaEvents: LadderEvent[] = [];
  const logEvents: LadderEvent[] = [];
  const markEvents: LadderEvent[] = [];
  for (const ev of sorted) {
    if (ev.kind === 'log') logEvents.push(ev);
    else if (ev.kind === 'callstate' || ev.kind === 'route') markEvents.push(ev);
    else if (ev.kind === 'sip' && ev.sip && ev.src && ev.dst) sightings.push(describe(ev));
    // SIP over WebSocket arrives twice from an agent: as `sip` (drawn) and as a `webrtc` marker (skipped)
    else if ((ev.kind === 'rtp' || (ev.kind === 'webrtc' && !ev.sip)) && ev.src && ev.dst) mediaEvents.push(ev);
  }

  const calls = summariseCalls(sightings);
  // the selected call with its other legs (B2BUA/SBC)
  const legOf = new Map(calls.map((c) => [c.callId, c]));
  const picked = selected === null ? null : legOf.get(selected);
  const shown: ReadonlySet<string | null> | null = selected === null ? null : new Set([selected, ...(picked?.legs ?? [])]);
  const only = shown === null ? null : { has: (c: string | null) => shown.has(c) };

  // arrows: dedupe across agents, mark retransmissions
  const arrows: LadderArrow[] = [];
  const arrowSighting: Sighting[] = [];
  const lastByIdentity = new Map<string, { arrow: number; agents: Set<number>; ts: number }>();
  const inviteBranches = new Set<string>();
  const colours = new Map<string, number>();
  for (const s of sightings) {
    if (only !== null && !only.has(s.callId)) continue;
    const ev = s.ev;
    const src = endpointKey(ev.src!.ip, ev.src!.port);
    const dst = endpointKey(ev.dst!.ip, ev.dst!.port);
    const identity = `${s.callId}\u0000${src}\u0000${dst}\u0000${s.label}\u0000${s.cseq}\u0000${s.branch}\u0000${s.toTag}`;
    const prev = lastByIdentity.get(identity);
    if (prev && !prev.agents.has(ev.agent_id) && ev.ts - prev.ts <= window) {
      const a = arrows[prev.arrow];
      prev.agents.add(ev.agent_id);
      a.eventIds.push(ev.id);
      if (!a.agents.includes(ev.agent_id)) a.agents.push(ev.agent_id);
      continue;
    }
    // an ACK to a non-2xx final keeps the INVITE's branch (RFC 3261 §17.1.1.3): same transaction
    let txnMethod = s.cseqMethod ?? s.method ?? '';
    if (s.branch !== null && s.callId !== null) {
      const bkey = `${s.callId}\u0000${s.branch}`;
      if (txnMethod === 'INVITE') inviteBranches.add(bkey);
      else if (txnMethod === 'ACK' && inviteBranches.has(bkey)) txnMethod = 'INVITE';
    }
    const cseqNum = s.cseq === null ? '' : s.cseq.split(' ')[0];
    const transactionKey = `${s.callId ?? ''};${cseqNum};${txnMethod};${s.branch ?? ''}`;
    const byCall = options.colourBy === 'call';
    const colourKey = byCall ? (s.callId ?? '') : transactionKey;
    let colour = colours.get(colourKey);
    if (colour === undefined) {
      colour = colours.size;
      colours.set(colourKey, colour);
    }
    const index = arrows.length;
    lastByIdentity.set(identity, { arrow: index, agents: new Set([ev.agent_id]), ts: ev.ts });
    arrows.push({
      index,
      eventId: ev.id,
      eventIds: [ev.id],
      agents: [ev.agent_id],
      agentNames: [],
      from: -1,
      to: -1,
      label: s.label,
      method: s.isRequest ? s.method : null,
      status: s.status,
      cseq: s.cseq,
      hasSdp: ev.sip?.has_sdp ?? false,
      transport: ev.transport ?? null,
      ts: ev.ts,
      deltaUs: index === 0 ? 0 : ev.ts - arrows[index - 1].ts,
      transactionKey,
      colour,
      callTag: byCall ? `#${colour + 1} ${(s.callId ?? '?').slice(0, 14)}` : null,
      retransmission: prev !== undefined,
      callId: s.callId,
      dialogId: dialogIdOf(s.callId, s.fromTag, s.toTag),
      leg: s.callId === null ? null : (legOf.get(s.callId)?.leg ?? null),
      legInferred: s.callId === null ? false : (legOf.get(s.callId)?.legsInferred ?? false),
    });
    arrowSighting.push(s);
  }
  for (const a of arrows) {
    a.agents.sort((x, y) => x - y);
    a.agentNames = a.agents.map((id) => nameOf(options.agentNames, id) ?? `agent ${id}`);
  }

  const media = only === null ? mediaEvents : mediaEvents.filter((e) => only.has(e.call_id));
  const logs = only === null ? logEvents : logEvents.filter((e) => only.has(e.call_id));
  // who announced which media address in SDP: RTP from/to it belongs on that endpoint's lane
  const mediaOwner = new Map<string, string>();
  for (const s of arrowSighting) for (const m of s.media) mediaOwner.set(m, endpointKey(s.ev.src!.ip, s.ev.src!.port));
  const lanes = assignLanes(arrows, arrowSighting, media, mediaOwner, options);
  const streams = summariseMedia(media, lanes, mediaOwner);
  const sourceOf = (e: LadderEvent, s: string | undefined): string =>
    [nameOf(options.agentNames, e.agent_id) ?? `agent ${e.agent_id}`, s].filter(Boolean).join(' ');
  const marks = buildMarks(only === null ? markEvents : markEvents.filter((e) => only.has(e.call_id)), lanes, sourceOf);
  const logLines: LogLine[] = logs.map((e) => ({
    eventId: e.id,
    ts: e.ts,
    source: sourceOf(e, e.log?.source),
    text: e.payload ?? '',
    callId: e.call_id,
  }));

  const rows: LadderRow[] = [
    ...arrows.map((a, i): LadderRow => ({ type: 'arrow', ts: a.ts, arrow: i })),
    ...streams.map((m, i): LadderRow => ({ type: 'media', ts: m.firstTs, media: i })),
    ...logLines.map((l, i): LadderRow => ({ type: 'log', ts: l.ts, log: i })),
    ...marks.map((m, i): LadderRow => ({ type: 'mark', ts: m.ts, mark: i })),
  ];
  rows.sort((a, b) => a.ts - b.ts); // stable: arrows before media before logs at the same instant
  return {
    lanes,
    arrows,
    media: streams,
    logs: logLines,
    marks,
    calls,
    rows,
    startTs: rows.length > 0 ? rows[0].ts : null,
    endTs: rows.length > 0 ? Math.max(rows[rows.length - 1].ts, ...streams.map((m) => m.lastTs)) : null,
  };
}

/**
 * Lanes, left to right: the caller first (the source of the first dialog-creating request), then
 * every other endpoint in the order it first appears; media endpoints join the lane of the same IP
 * when there is one (RTP ports differ from SIP ports), else get their own lane at the right.
 */
function assignLanes(
  arrows: LadderArrow[],
  sightings: Sighting[],
  media: LadderEvent[],
  mediaOwner: Map<string, string>,
  options: LadderOptions,
): Lane[] {
  const lanes: Lane[] = [];
  const byKey = new Map<string, number>();
  const byIp = new Map<string, number>();
  const names = options.endpointNames ?? {};
  const add = (ip: string, port: number | null): number => {
    const key = endpointKey(ip, port);
    let i = byKey.get(key);
    if (i === undefined) {
      i = lanes.length;
      lanes.push({ index: i, key, ip, port, name: names[key] ?? names[ip] ?? null });
      byKey.set(key, i);
      if (!byIp.has(ip)) byIp.set(ip, i);
    }
    return i;
  };
  // the caller: the source of the first INVITE that opens a dialog, else of the first out-of-dialog request
  const opening = (s: Sighting): boolean => s.isRequest && s.toTag === null && s.method !== 'ACK' && s.method !== 'CANCEL';
  const caller = sightings.find((s) => opening(s) && s.method === 'INVITE') ?? sightings.find(opening);
  if (caller) add(caller.ev.src!.ip, caller.ev.src!.port);
  // calls first (the path of the INVITEs, left to right), then OPTIONS pings, REGISTERs and the rest
  const calls = new Set(sightings.filter((s) => opening(s) && s.method === 'INVITE').map((s) => s.callId));
  for (let i = 0; i < arrows.length; i++) {
    if (!calls.has(sightings[i].callId)) continue;
    add(sightings[i].ev.src!.ip, sightings[i].ev.src!.port);
    add(sightings[i].ev.dst!.ip, sightings[i].ev.dst!.port);
  }
  for (let i = 0; i < arrows.length; i++) {
    const ev = sightings[i].ev;
    arrows[i].from = add(ev.src!.ip, ev.src!.port);
    arrows[i].to = add(ev.dst!.ip, ev.dst!.port);
    const product = sightings[i].product;
    const lane = lanes[arrows[i].from];
    if (lane.name === null && product !== null) lane.name = product;
  }
  for (const e of media) {
    for (const ep of [e.src!, e.dst!]) {
      const key = endpointKey(ep.ip, ep.port);
      if (!byKey.has(key) && !mediaOwner.has(key) && !byIp.has(ep.ip)) add(ep.ip, null);
    }
  }
  return lanes;
}

function summariseMedia(events: LadderEvent[], lanes: Lane[], mediaOwner: Map<string, string>): MediaStream[] {
  // the lane of the endpoint that announced the address in SDP, else the same IP:port, else the same IP
  const laneOf = (ip: string, port: number): number => {
    const k = endpointKey(ip, port);
    const owner = mediaOwner.get(k);
    const exact = lanes.find((l) => l.key === owner) ?? lanes.find((l) => l.key === k);
    return (exact ?? lanes.find((l) => l.ip === ip) ?? lanes[0]).index;
  };
  const streams = new Map<string, MediaStream & { samples: number }>();
  for (const e of events) {
    const ssrc = e.stats?.ssrc ?? e.rtp?.ssrc ?? null;
    const src = endpointKey(e.src!.ip, e.src!.port);
    const dst = endpointKey(e.dst!.ip, e.dst!.port);
    const key = `${src}>${dst}#${ssrc ?? ''}`;
    let m = streams.get(key);
    if (!m) {
      m = {
        key,
        kind: e.kind === 'webrtc' ? 'webrtc' : 'rtp',
        from: laneOf(e.src!.ip, e.src!.port),
        to: laneOf(e.dst!.ip, e.dst!.port),
        src,
        dst,
        ssrc,
        codec: null,
        packets: 0,
        expected: null,
        lost: null,
        lossPct: null,
        jitterMs: null,
        mos: null,
        firstTs: e.ts,
        lastTs: e.ts,
        callId: e.call_id,
        final: false,
        samples: 0,
      };
      streams.set(key, m);
    }
    m.lastTs = Math.max(m.lastTs, e.ts);
    m.callId ??= e.call_id;
    if (e.rtp) {
      m.samples++;
      m.codec ??= e.rtp.codec ?? STATIC_PT[e.rtp.pt] ?? `PT ${e.rtp.pt}`;
    }
    if (e.stats) {
      // stats are cumulative per stream: the latest report wins
      const s = e.stats;
      m.packets = s.packets;
      m.expected = s.expected;
      m.lost = s.lost;
      m.lossPct = s.expected > 0 ? Math.max(0, (s.lost / s.expected) * 100) : 0;
      m.jitterMs = s.jitter_ms;
      m.mos = s.mos;
      if (s.codec) m.codec = s.codec;
      m.final = m.final || s.final;
    } else if (m.expected === null) {
      m.packets = m.samples;
    }
    if (e.kind === 'webrtc' && m.codec === null) m.codec = 'STUN/DTLS';
  }
  return [...streams.values()].map(({ samples: _samples, ...m }) => m);
}

function summariseCalls(sightings: Sighting[]): CallInfo[] {
  const calls = new Map<string, CallInfo & { byDialog: Map<string, DialogInfo> }>();
  for (const s of sightings) {
    if (s.callId === null) continue;
    let c = calls.get(s.callId);
    if (!c) {
      c = {
        callId: s.callId,
        method: null,
        fromUser: null,
        toUser: null,
        firstTs: s.ev.ts,
        lastTs: s.ev.ts,
        messages: 0,
        dialogs: [],
        group: s.callId,
        leg: null,
        legs: [],
        legsInferred: false,
        byDialog: new Map(),
      };
      calls.set(s.callId, c);
    }
    c.messages++;
    c.lastTs = Math.max(c.lastTs, s.ev.ts);
    if (c.method === null && s.isRequest && s.toTag === null) {
      c.method = s.method;
      c.fromUser = s.ev.sip?.from_user ?? null;
      c.toUser = s.ev.sip?.to_user ?? null;
    }
    if (s.fromTag === null || s.toTag === null) continue;
    const id = dialogIdOf(s.callId, s.fromTag, s.toTag);
    let d = c.byDialog.get(id);
    if (!d) {
      d = { id, fromTag: s.fromTag, toTag: s.toTag, state: 'pending', arrows: 0 };
      c.byDialog.set(id, d);
      c.dialogs.push(d);
    }
    d.arrows++;
    const creating = s.cseqMethod === 'INVITE' || s.cseqMethod === 'SUBSCRIBE' || s.cseqMethod === 'REFER';
    if (s.status !== null && creating) {
      if (s.status >= 200 && s.status < 300) d.state = 'confirmed';
      else if (s.status >= 300 && d.state !== 'confirmed') d.state = 'failed';
      else if (s.status > 100 && s.status < 200 && d.state === 'pending') d.state = 'early';
    }
  }
  const out = [...calls.values()].map(({ byDialog: _b, ...c }) => c).sort((a, b) => a.firstTs - b.firstTs);
  groupLegs(out, sightings);
  return out;
}

// Legs of one call: the Call-IDs the agents linked (linked_call_ids on their events) form groups; in
// a group the legs are lettered in the order they were first seen (A = the caller's leg, usually).
function groupLegs(calls: CallInfo[], sightings: Sighting[]): void {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const seen = new Set(calls.map((c) => c.callId));
  const inferred = new Set<string>();
  for (const s of sightings) {
    const legs = s.ev.linked_call_ids;
    if (s.callId === null || legs === undefined) continue;
    if (s.ev.linked_inferred === true) inferred.add(s.callId);
    for (const l of legs) if (seen.has(l)) parent.set(find(l), find(s.callId));
  }
  if (parent.size === 0) return;
  const groups = new Map<string, CallInfo[]>();
  for (const c of calls) {
    const g = groups.get(find(c.callId)) ?? [];
    g.push(c);
    groups.set(find(c.callId), g);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue; // calls are sorted by first sighting: g[0] is the first leg
    const guessed = g.some((c) => inferred.has(c.callId));
    g.forEach((c, i) => {
      c.legsInferred = guessed;
      c.group = g[0].callId;
      c.leg = i < 26 ? String.fromCharCode(65 + i) : `#${i + 1}`;
      c.legs = g.filter((x) => x !== c).map((x) => x.callId);
    });
  }
  // the legs of one call side by side in the selector, in the order of their first leg
  const rank = new Map(calls.map((c, i) => [c.callId, i]));
  calls.sort((a, b) => rank.get(a.group)! - rank.get(b.group)! || rank.get(a.callId)! - rank.get(b.callId)!);
}
