// ESL framing against the bytes mod_event_socket sends (auth request, command replies, event-plain
// with Content-Length and URL-encoded values), fed whole and one byte at a time.
import { describe, expect, it } from 'vitest';
import { EslFramer, parsePlainEvent, urlDecode } from './esl.js';

const body =
  'Event-Name: CHANNEL_HANGUP_COMPLETE\n' +
  'Core-UUID: 6e7a7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f\n' +
  'Event-Date-Timestamp: 1764860000123456\n' +
  'Unique-ID: 0b5d1c2e-aaaa-bbbb-cccc-111122223333\n' +
  'Caller-Caller-ID-Name: Alice%20Smith\n' +
  'Hangup-Cause: NORMAL_CLEARING\n' +
  'variable_sip_call_id: a84b4c76e66710%40pc33.atlanta.example.com\n' +
  'variable_hangup_cause_q850: 16\n\n';
const wire = Buffer.from(
  'Content-Type: auth/request\n\n' +
    'Content-Type: command/reply\nReply-Text: +OK accepted\n\n' +
    `Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-plain\n\n${body}` +
    'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n',
);

function check(msgs: ReturnType<EslFramer['push']>): void {
  expect(msgs.map((m) => m.headers.get('Content-Type'))).toEqual(['auth/request', 'command/reply', 'text/event-plain', 'text/disconnect-notice']);
  expect(msgs[1].headers.get('Reply-Text')).toBe('+OK accepted');
  const ev = parsePlainEvent(msgs[2])!;
  expect(ev.headers.get('Event-Name')).toBe('CHANNEL_HANGUP_COMPLETE');
  expect(ev.headers.get('variable_sip_call_id')).toBe('a84b4c76e66710@pc33.atlanta.example.com');
  expect(ev.headers.get('Caller-Caller-ID-Name')).toBe('Alice Smith');
  expect(ev.headers.get('variable_hangup_cause_q850')).toBe('16');
  expect(msgs[3].body.toString()).toMatch(/^Disconnected, goodbye\./);
}

describe('EslFramer', () => {
  it('frames header blocks and Content-Length bodies, whole', () => {
    check(new EslFramer().push(wire));
  });

  it('frames the same stream fed one byte at a time', () => {
    const f = new EslFramer();
    const all = [];
    for (let i = 0; i < wire.length; i++) all.push(...f.push(wire.subarray(i, i + 1)));
    check(all);
  });

  it('refuses a bad Content-Length and an endless header block', () => {
    const a = new EslFramer();
    a.push(Buffer.from('Content-Length: -1\n\n'));
    expect(a.error).toMatch(/bad Content-Length/);
    const b = new EslFramer();
    b.push(Buffer.alloc(70_000, 0x41));
    expect(b.error).toMatch(/header block longer/);
  });

  it('decodes URL-encoded values and keeps malformed escapes', () => {
    expect(urlDecode('a%20b%40c')).toBe('a b@c');
    expect(urlDecode('100%')).toBe('100%');
    expect(urlDecode('%zz%41')).toBe('%zzA');
  });
});
