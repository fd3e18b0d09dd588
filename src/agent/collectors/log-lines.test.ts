// The line interpreter: Kamailio xlog route lines, JSON-lines logs with configurable fields, and
// everything else left as a plain log line.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LINE_FORMAT, interpretLine } from './log-lines.js';

const F = DEFAULT_LINE_FORMAT;

describe('interpretLine', () => {
  it('reads a Kamailio xlog route line (stderr form) as a route decision', () => {
    const r = interpretLine(' 0(4242) NOTICE: <script>: route=RELAY callid=a84b4c76e66710@pc33 dst=sip:10.0.0.9:5090 rm=INVITE', F);
    expect(r).toMatchObject({ kind: 'route', json: false, callId: 'a84b4c76e66710@pc33', route: 'RELAY', destination: 'sip:10.0.0.9:5090', fields: { rm: 'INVITE', level: 'NOTICE' } });
  });

  it('leaves lines without a route or without a Call-ID as log lines', () => {
    expect(interpretLine('NOTICE: relaying callid=abc', F)).toEqual({ kind: 'log', line: 'NOTICE: relaying callid=abc', json: false });
    expect(interpretLine('route=RELAY only', F)).toMatchObject({ kind: 'log' });
    expect(interpretLine('{not json', F)).toMatchObject({ kind: 'log', json: false });
  });

  it('reads JSON lines: Call-ID, level and message from the default or configured fields', () => {
    expect(interpretLine('{"ts":"x","level":"warn","msg":"no route to gw","call_id":"c1@h"}', F)).toEqual({ kind: 'log', json: true, line: 'WARN: no route to gw', callId: 'c1@h' });
    const custom = { ...F, callIdFields: ['sip.callid'], levelFields: ['sev'], messageFields: ['what'] };
    expect(interpretLine('{"sev":"info","what":"hello","sip.callid":"c2"}', custom)).toMatchObject({ kind: 'log', line: 'INFO: hello', callId: 'c2' });
    expect(interpretLine('{"message":"routing","callid":"c3","route":"TO_CARRIER","destination":"sip:carrier-b","cost":0.012}', F)).toEqual({
      kind: 'route', json: true, line: 'routing', callId: 'c3', route: 'TO_CARRIER', destination: 'sip:carrier-b', fields: { message: 'routing', cost: 0.012 },
    });
    expect(interpretLine('{"a":1}', { ...F, format: 'text' })).toMatchObject({ kind: 'log', json: false });
    expect(interpretLine('[1,2]', F)).toMatchObject({ json: false });
  });
  it("reads a route decision from the message of Kamailio's native JSON log (5.6, --log-engine=json:cM, line as written)", () => {
    const line = '{ "idx": 1, "pid": 31445, "level": "NOTICE", "module": "xlog", "file": "xlog.c", "line": 282, "function": "", "callid": "jsontest-1@x", "logprefix": "", "message": "route=RELAY callid=jsontest-1@x dst=sip:x" }';
    expect(interpretLine(line, DEFAULT_LINE_FORMAT)).toEqual({
      json: true,
      kind: 'route',
      line: 'NOTICE: route=RELAY callid=jsontest-1@x dst=sip:x',
      callId: 'jsontest-1@x',
      route: 'RELAY',
      destination: 'sip:x',
      fields: { level: 'NOTICE' },
    });
  });
});
