// Syslog forms: RFC 5424 (with and without structured data, BOM, fractional time) and RFC 3164.
import { describe, expect, it } from 'vitest';
import { parseSyslog } from './syslog.js';

describe('parseSyslog', () => {
  it('reads RFC 5424 (§6.5 examples)', () => {
    const a = parseSyslog('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \uFEFFAn application event log entry...');
    expect(a).toMatchObject({ format: '5424', facility: 20, severity: 5, host: 'mymachine.example.com', app: 'evntslog', msgId: 'ID47', msg: 'An application event log entry...' });
    expect(a.tsUs).toBe(Date.parse('2003-10-11T22:14:15Z') * 1000 + 3000);
    const b = parseSyslog('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \'su root\' failed for lonvick on /dev/pts/8');
    expect(b).toMatchObject({ format: '5424', severity: 2, app: 'su', msg: "'su root' failed for lonvick on /dev/pts/8" });
    const c = parseSyslog('<13>1 - host app 42 - [a b="c\\]d"] msg with ] bracket');
    expect(c).toMatchObject({ format: '5424', procId: '42', msg: 'msg with ] bracket' });
    expect(c.tsUs).toBeUndefined();
  });

  it('reads RFC 3164 (§5.4 examples) and what util-linux logger sends', () => {
    expect(parseSyslog('<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8')).toMatchObject({
      format: '3164', severity: 2, host: 'mymachine', app: 'su', msg: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(parseSyslog('<13>Dec  4 17:00:00 sbc kamailio[2211]: NOTICE: <script>: route=RELAY callid=abc')).toMatchObject({
      format: '3164', host: 'sbc', app: 'kamailio', procId: '2211', msg: 'NOTICE: <script>: route=RELAY callid=abc',
    });
  });

  it('keeps anything else whole', () => {
    expect(parseSyslog('just a line')).toEqual({ format: 'raw', msg: 'just a line' });
    expect(parseSyslog('<999>x')).toEqual({ format: 'raw', msg: '<999>x' });
    expect(parseSyslog('<13>free text')).toMatchObject({ format: 'raw', msg: 'free text' });
  });
});
