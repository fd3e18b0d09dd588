// Syslog messages as they arrive over UDP: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`)
// and the older BSD form of RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`), which rsyslog,
// syslog-ng, util-linux `logger` and most SBCs send. Pure: text in, fields out; a message that is
// neither is kept whole as the message text. Never throws.

export interface SyslogMessage {
  format: '5424' | '3164' | 'raw';
  facility?: number;
  severity?: number;
  /** microseconds since the epoch, when the message carried a full timestamp (RFC 5424) */
  tsUs?: number;
  host?: string;
  app?: string;
  procId?: string;
  msgId?: string;
  msg: string;
}

const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
export const severityName = (s: number | undefined): string | undefined => (s === undefined ? undefined : SEVERITIES[s]);

const NIL = (s: string | undefined): string | undefined => (s === undefined || s === '-' ? undefined : s);

export function parseSyslog(text: string): SyslogMessage {
  const t = text.replace(/[\r\n\0]+$/, '');
  const pri = /^<(\d{1,3})>/.exec(t);
  if (!pri || Number(pri[1]) > 191) return { format: 'raw', msg: t };
  const p = Number(pri[1]);
  const base = { facility: p >> 3, severity: p & 7 };
  const rest = t.slice(pri[0].length);
  // RFC 5424 §6: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
  const m5424 = /^1 (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(rest);
  if (m5424) {
    let after = rest.slice(m5424[0].length);
    after = skipStructuredData(after);
    // RFC 5424 §6.4: an optional UTF-8 BOM opens the message
    const msg = after.replace(/^\uFEFF/, '');
    const ms = m5424[1] === '-' ? NaN : Date.parse(m5424[1]);
    const frac = /\.(\d{1,6})/.exec(m5424[1]);
    const tsUs = Number.isFinite(ms) ? Math.floor(ms / 1000) * 1_000_000 + (frac ? Number(frac[1].padEnd(6, '0')) : 0) : undefined;
    return {
      format: '5424',
      ...base,
      ...(tsUs !== undefined ? { tsUs } : {}),
      host: NIL(m5424[2]),
      app: NIL(m5424[3]),
      procId: NIL(m5424[4]),
      msgId: NIL(m5424[5]),
      msg,
    };
  }
  // RFC 3164 §4.1.2: TIMESTAMP ("Mmm dd hh:mm:ss", day space-padded) SP HOSTNAME SP TAG[PID]: CONTENT
  const m3164 = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^:[\s]{1,48})(?:\[([^\]]{1,16})\])?: ?/.exec(rest);
  if (m3164) return { format: '3164', ...base, host: m3164[2], app: m3164[3], ...(m3164[4] ? { procId: m3164[4] } : {}), msg: rest.slice(m3164[0].length) };
  return { format: 'raw', ...base, msg: rest };
}

/** Skips `-` or `[id k="v" …]…` (RFC 5424 §6.3, `\]` `\"` `\\` escaped) and the space after it. */
function skipStructuredData(s: string): string {
  if (s.startsWith('-')) return s.slice(s[1] === ' ' ? 2 : 1);
  let i = 0;
  while (s[i] === '[') {
    i++;
    let quoted = false;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') i++;
      else if (c === '"') quoted = !quoted;
      else if (c === ']' && !quoted) break;
    }
    i++;
  }
  return s.slice(s[i] === ' ' ? i + 1 : i);
}
