// What a log line says, for every line-oriented collector (log tail, syslog, HEP logs): plain text or
// a JSON object (JSON-lines logs), its Call-ID when the line names it, and whether it records a
// routing decision. A text line is a route decision when it carries `route=NAME` (or `route_name=`)
// and a Call-ID as `callid=`/`call_id=`/`ci=` — what a Kamailio `xlog("… route=$cfg(route)
// callid=$ci dst=$du")` writes; a JSON line when it has a route or destination field and a Call-ID
// field. Anything else stays a log line, correlated by the capture manager like before.
import type { CallMetaValue, CollectorContext } from './collector.js';

export interface LineFormat {
  /** `auto`: a line that starts with `{` and parses as an object is JSON */
  format: 'auto' | 'text' | 'json';
  callIdFields: string[];
  levelFields: string[];
  messageFields: string[];
}

export const DEFAULT_LINE_FORMAT: LineFormat = {
  format: 'auto',
  callIdFields: ['call_id', 'callid', 'call-id', 'Call-ID', 'sip_call_id', 'ci'],
  levelFields: ['level', 'severity', 'lvl', 'log_level'],
  messageFields: ['message', 'msg', 'text', 'log'],
};

export type Interpreted =
  | { kind: 'log'; line: string; callId?: string }
  | { kind: 'route'; line: string; callId: string; route?: string; destination?: string; fields: Record<string, CallMetaValue> };

const ROUTE_KEYS = ['route', 'route_name'];
const DEST_KEYS = ['destination', 'dst', 'du', 'gateway', 'gw', 'carrier'];
const TEXT_CALL_ID_KEYS = ['callid', 'call_id', 'call-id', 'ci'];
// key=value, key="quoted value"; keys as Kamailio scripts and structured loggers write them
const PAIR = /(?:^|[\s,;])([A-Za-z_][\w.-]{0,63})=("(?:[^"\\]|\\.){0,1024}"|[^\s,;]{1,1024})/g;

const firstOf = (o: Record<string, unknown>, keys: string[]): string | undefined => {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return undefined;
};

export function interpretLine(line: string, f: LineFormat): Interpreted & { json: boolean } {
  if (f.format !== 'text' && line.charCodeAt(0) === 0x7b /* { */) {
    const j = parseObject(line);
    if (j) return { ...fromJson(j, line, f), json: true };
  }
  return { ...fromText(line), json: false };
}

function parseObject(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function fromJson(o: Record<string, unknown>, raw: string, f: LineFormat): Interpreted {
  const callId = firstOf(o, f.callIdFields);
  const message = firstOf(o, f.messageFields);
  const level = firstOf(o, f.levelFields);
  const text = message === undefined ? raw : level === undefined ? message : `${level.toUpperCase()}: ${message}`;
  const route = firstOf(o, ROUTE_KEYS);
  const destination = firstOf(o, DEST_KEYS);
  if (route === undefined && destination === undefined && message !== undefined) {
    // Kamailio's own JSON log engine (`kamailio --log-engine=json:cM`) keeps xlog's text in `message`:
    // a route decision written as `route=NAME callid=$ci dst=$du` in it is one too
    const t = fromText(message);
    if (t.kind === 'route') return { ...t, line: text, fields: { ...t.fields, ...(level !== undefined ? { level } : {}) } };
  }
  if (callId !== undefined && (route !== undefined || destination !== undefined)) {
    const fields: Record<string, CallMetaValue> = {};
    const skip = new Set([...f.callIdFields, ...ROUTE_KEYS, ...DEST_KEYS]);
    for (const [k, v] of Object.entries(o)) {
      if (skip.has(k)) continue;
      if (typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v))) fields[k] = v;
    }
    return { kind: 'route', line: text, callId, ...(route ? { route } : {}), ...(destination ? { destination } : {}), fields };
  }
  return { kind: 'log', line: text, ...(callId !== undefined ? { callId } : {}) };
}

function fromText(line: string): Interpreted {
  // cheap test first: most lines carry no route
  if (!line.includes('route')) return { kind: 'log', line };
  const pairs: Record<string, string> = {};
  for (const m of line.matchAll(PAIR)) {
    const v = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
    if (!(m[1] in pairs)) pairs[m[1]] = v;
  }
  const callId = firstOf(pairs, TEXT_CALL_ID_KEYS);
  const route = firstOf(pairs, ROUTE_KEYS);
  if (callId === undefined || route === undefined) return { kind: 'log', line };
  const destination = firstOf(pairs, DEST_KEYS);
  const fields: Record<string, CallMetaValue> = {};
  const skip = new Set([...TEXT_CALL_ID_KEYS, ...ROUTE_KEYS, ...DEST_KEYS]);
  for (const [k, v] of Object.entries(pairs)) if (!skip.has(k)) fields[k] = v;
  // Kamailio: "0(1234) NOTICE: <script>: …"; syslog-style "… kamailio[1234]: NOTICE: …"
  const level = /\b(EMERG|ALERT|CRIT|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|DBG)\b:/.exec(line)?.[1];
  if (level) fields.level = level;
  return { kind: 'route', line, callId, route, ...(destination && destination !== '<null>' ? { destination } : {}), fields };
}

/** A line consumer for a collector: JSON or text, route decisions as route events, the rest as log lines. */
export function lineEmitter(ctx: CollectorContext, f: LineFormat, counters: { json_lines: number; routes: number; not_json: number }) {
  return (line: string, tsUs: number, source?: string): void => {
    const r = interpretLine(line, f);
    if (r.json) counters.json_lines++;
    else if (f.format === 'json') counters.not_json++;
    if (r.kind === 'route') {
      counters.routes++;
      ctx.emitRoute({ ts_us: tsUs, call_id: r.callId, route: r.route, destination: r.destination, fields: r.fields, line: r.line, ...(source ? { source } : {}) });
    } else {
      ctx.emitLog({ ts_us: tsUs, line: r.line, ...(r.callId !== undefined ? { call_id: r.callId } : {}), ...(source ? { source } : {}) });
    }
  };
}
