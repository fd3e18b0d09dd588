// AMI framing against what Asterisk sends: the banner line, CRLF-framed responses and events with
// repeated ChanVariable fields, fed whole and byte by byte.
import { describe, expect, it } from 'vitest';
import { amiAction, amiChanVars, AmiFramer, amiGet } from './ami.js';

const wire = Buffer.from(
  'Asterisk Call Manager/5.0.1\r\n' +
    'Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n' +
    'Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 1234\r\nLastReload: 1234\r\nStatus: Fully Booted\r\n\r\n' +
    'Event: Hangup\r\nPrivilege: call,all\r\nChannel: SIP/9170-12-0000003c\r\nUniqueid: 1598887681.60\r\nLinkedid: 1598887681.60\r\n' +
    'Cause: 17\r\nCause-txt: User busy\r\nChanVariable: realm=\r\nChanVariable: SIPCALLID=b5ser03agv7huo7faai5\r\n\r\n' +
    'Event: DialBegin\r\nChannel: PJSIP/a-1\r\nDestChannel: PJSIP/b-2\r\nDestChanVariable: SIPCALLID=leg-b\r\nChanVariable(PJSIP/a-1): SIPCALLID=leg-a\r\n\r\n',
);

function check(msgs: ReturnType<AmiFramer['push']>, f: AmiFramer): void {
  expect(f.banner).toBe('Asterisk Call Manager/5.0.1');
  expect(msgs).toHaveLength(4);
  expect(amiGet(msgs[0], 'response')).toBe('Success');
  expect(amiGet(msgs[2], 'Event')).toBe('Hangup');
  expect(amiGet(msgs[2], 'Cause-txt')).toBe('User busy');
  expect([...amiChanVars(msgs[2])]).toEqual([['realm', ''], ['SIPCALLID', 'b5ser03agv7huo7faai5']]);
  expect(amiChanVars(msgs[3]).get('SIPCALLID')).toBe('leg-a'); // Asterisk 11 form ChanVariable(chan)
  expect(amiChanVars(msgs[3], 'Dest').get('SIPCALLID')).toBe('leg-b');
}

describe('AmiFramer', () => {
  it('reads the banner and CRLF-framed messages', () => {
    const f = new AmiFramer();
    check(f.push(wire), f);
  });

  it('reads the same stream byte by byte', () => {
    const f = new AmiFramer();
    const all = [];
    for (let i = 0; i < wire.length; i++) all.push(...f.push(wire.subarray(i, i + 1)));
    check(all, f);
  });

  it('bounds a message without end and a stream without banner', () => {
    const a = new AmiFramer();
    a.push(Buffer.from('Asterisk Call Manager/5.0.1\r\n'));
    a.push(Buffer.alloc(300_000, 0x41));
    expect(a.error).toMatch(/longer than/);
    const b = new AmiFramer();
    b.push(Buffer.alloc(2000, 0x41));
    expect(b.error).toMatch(/no banner/);
  });

  it('writes actions CRLF-framed, without letting a value inject a field', () => {
    expect(amiAction([['Action', 'Login'], ['Username', 'u'], ['Secret', 'x\r\nAction: Originate']])).toBe(
      'Action: Login\r\nUsername: u\r\nSecret: x  Action: Originate\r\n\r\n',
    );
  });
});
