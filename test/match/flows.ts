// The call flows of the suite, written from RFC 3261/3665/3311/3515/6665/5761/2046 and DESIGN §5
// (not from the engine): for each flow and criteria, the exact packets a session must take.
import { at, req, resp, rtp, sdp, type Flow, type MsgOpts, type Party } from './flow-kit.js';

const alice: Party = { uri: '"Alice" <sip:alice@atlanta.example.com>', tag: '9fxced76sl', ip: '192.0.2.101' };
const bob: Party = { uri: '<sip:bob@biloxi.example.com>', tag: '8321234356', ip: '192.0.2.201' };
const proxy: Party = { uri: '', tag: '', ip: '192.0.2.50' };

const ALL = (labels: string[]): string[] => labels;

/** A basic call, RFC 3665 §3.1 (without the proxy): the caller or the callee hangs up. */
function basic(callId: string, byCallee: boolean, o: { a?: Party; b?: Party; inviteExtra?: string[]; t0?: number } = {}): { packets: Flow['packets']; labels: string[] } {
  const a = o.a ?? alice;
  const b = o.b ?? bob;
  const t0 = o.t0 ?? 0;
  const base: MsgOpts = { callId, from: a, to: b, cseq: 1, branch: `z9hG4bK${callId}1` };
  const bye: MsgOpts = byCallee
    ? { callId, from: b, to: a, toTag: true, cseq: 231, branch: `z9hG4bK${callId}b` }
    : { callId, from: a, to: b, toTag: true, cseq: 2, branch: `z9hG4bK${callId}b` };
  const packets = [
    at(t0 + 0, a, b, req('INVITE', { ...base, extra: o.inviteExtra }), 'INVITE'),
    at(t0 + 0.01, b, a, resp(100, 'Trying', 'INVITE', base), '100'),
    at(t0 + 0.02, b, a, resp(180, 'Ringing', 'INVITE', base), '180'),
    at(t0 + 2, b, a, resp(200, 'OK', 'INVITE', base), '200'),
    at(t0 + 2.01, a, b, req('ACK', { ...base, toTag: true, cseqMethod: 'ACK', branch: `z9hG4bK${callId}a` }), 'ACK'),
    at(t0 + 10, byCallee ? b : a, byCallee ? a : b, req('BYE', bye), 'BYE'),
    at(t0 + 10.01, byCallee ? a : b, byCallee ? b : a, resp(200, 'OK', 'BYE', bye), '200/BYE'),
  ];
  return { packets, labels: packets.map((p) => p.label) };
}

const relabel = (pk: Flow['packets'], suffix: string): Flow['packets'] => pk.map((p) => ({ ...p, label: `${p.label}${suffix}` }));

export const FLOWS: Flow[] = [];

// ---- 1. roles: caller, callee, who hangs up ------------------------------------------------------
{
  const c = basic('a84b4c76e66710@pc33.atlanta.example.com', false);
  FLOWS.push({
    name: 'basic call, caller hangs up',
    source: 'RFC 3665 §3.1; DESIGN §5 from/to',
    packets: c.packets,
    cases: [
      { criteria: { from: 'alice' }, expect: ALL(c.labels), why: 'the whole dialog from the INVITE on' },
      { criteria: { to: 'bob' }, expect: ALL(c.labels), why: 'to = R-URI/To of the INVITE' },
      { criteria: { from: 'bob' }, expect: [], why: 'a call to bob never matches from=bob' },
      { criteria: { to: 'alice' }, expect: [], why: 'nor to=alice' },
      { criteria: { from: 'ALICE', method: 'INVITE' }, expect: ALL(c.labels), why: 'user names case-insensitive; INVITE dialog' },
      { criteria: { method: 'INVITE', domain: 'example.com' }, expect: ALL(c.labels), why: 'parent domain' },
      { criteria: { from: 'alice', method: 'SUBSCRIBE' }, expect: [], why: 'not created by SUBSCRIBE' },
    ],
  });
}
{
  const c = basic('b84b4c76e66710@pc33.atlanta.example.com', true);
  FLOWS.push({
    name: 'basic call, callee hangs up',
    source: 'RFC 3261 §15.1.1 (either side may send BYE), DESIGN §5',
    packets: c.packets,
    cases: [
      { criteria: { from: 'alice' }, expect: ALL(c.labels), why: 'caller' },
      { criteria: { from: 'bob' }, expect: [], why: "the callee's BYE names bob in From: still the callee" },
      { criteria: { to: 'alice' }, expect: [], why: "the callee's BYE names alice in To: still the caller" },
    ],
  });
}

// ---- 2. identity headers in responses and in requests of the callee ----------------------------
{
  const callId = 'pai-resp-1@atlanta.example.com';
  const base: MsgOpts = { callId, from: { ...alice, uri: '<sip:+15551000001@atlanta.example.com;user=phone>' }, to: { ...bob, uri: '<sip:+15552000002@biloxi.example.com;user=phone>' }, cseq: 1, branch: 'z9hG4bKpai1' };
  const pai = ['P-Asserted-Identity: "Bob" <sip:+15553000003@biloxi.example.com;user=phone>'];
  const rev: MsgOpts = { callId, from: base.to, to: base.from, toTag: true, cseq: 5, branch: 'z9hG4bKpai2', extra: ['P-Asserted-Identity: <tel:+15553000003>'] };
  const packets = [
    at(0, alice, bob, req('INVITE', { ...base, extra: ['P-Asserted-Identity: <sip:+15551000001@atlanta.example.com;user=phone>'] }), 'INVITE'),
    at(0.1, bob, alice, resp(180, 'Ringing', 'INVITE', { ...base, extra: pai }), '180'),
    at(1, bob, alice, resp(200, 'OK', 'INVITE', { ...base, extra: pai }), '200'),
    at(1.1, alice, bob, req('ACK', { ...base, toTag: true, cseqMethod: 'ACK', branch: 'z9hG4bKpai3' }), 'ACK'),
    at(5, bob, alice, req('UPDATE', rev), 'UPDATE(callee)'),
    at(5.1, alice, bob, resp(200, 'OK', 'UPDATE', { ...rev, extra: ['P-Asserted-Identity: <sip:+15551000001@atlanta.example.com;user=phone>'] }), '200/UPDATE'),
    at(9, bob, alice, req('BYE', { ...rev, cseq: 6, branch: 'z9hG4bKpai4' }), 'BYE(callee)'),
    at(9.1, alice, bob, resp(200, 'OK', 'BYE', { ...rev, cseq: 6, branch: 'z9hG4bKpai4', extra: [] }), '200/BYE'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'identity headers in responses and callee requests',
    source: 'RFC 3325 §9.1 (PAI asserts the sender: the responder in a response), RFC 3261 §8.2.6.2',
    packets,
    cases: [
      { criteria: { from: '+15553000003' }, expect: [], why: "PAI of the 180/200 and of the callee's UPDATE/BYE names the callee" },
      { criteria: { to: '15553000003' }, expect: all.slice(1), why: 'the callee identity is first met in the 180: captured from there on' },
      { criteria: { from: '5551000001' }, expect: all, why: 'the caller: From/PAI of the INVITE; also the PAI of the 200 to the callee UPDATE names the caller' },
      { criteria: { to: '+1 (555) 100-0001' }, expect: [], why: 'the caller never matches `to`' },
      { criteria: { to: 'tel:+1-555-200-0002' }, expect: all, why: 'the dialled number, tel: form of the criterion' },
    ],
  });
}

// ---- 3. mid-call pick-up -------------------------------------------------------------------------
{
  const callId = 'midcall-77@pc33.atlanta.example.com';
  const o: MsgOpts = { callId, from: alice, to: bob, toTag: true, cseq: 3, branch: 'z9hG4bKmid1' };
  const rev: MsgOpts = { callId, from: bob, to: alice, toTag: true, cseq: 101, branch: 'z9hG4bKmid9' };
  const packets = [
    at(0, alice, bob, req('INVITE', { ...o, sdp: sdp(alice.ip, 49170) }), 're-INVITE'),
    at(0.1, bob, alice, resp(200, 'OK', 'INVITE', { ...o, sdp: sdp(bob.ip, 3456) }), '200/re-INVITE'),
    at(0.2, alice, bob, req('ACK', { ...o, cseqMethod: 'ACK', branch: 'z9hG4bKmid2' }), 'ACK'),
    at(3, alice, bob, req('UPDATE', { ...o, cseq: 4, branch: 'z9hG4bKmid3' }), 'UPDATE'),
    at(3.1, bob, alice, resp(200, 'OK', 'UPDATE', { ...o, cseq: 4, branch: 'z9hG4bKmid3' }), '200/UPDATE'),
    at(4, alice, bob, req('NOTIFY', { ...o, cseq: 5, branch: 'z9hG4bKmid4', extra: ['Event: refer', 'Subscription-State: active'] }), 'NOTIFY'),
    at(8, bob, alice, req('BYE', rev), 'BYE(callee)'),
    at(8.1, alice, bob, resp(200, 'OK', 'BYE', rev), '200/BYE'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'capture started mid-call',
    source: "DESIGN §5 seed example (call_id + method INVITE); RFC 3261 §12.2 (in-dialog requests), §15 (BYE only in INVITE dialogs)",
    packets,
    cases: [
      { criteria: { call_id: callId, method: 'INVITE' }, expect: all, why: 'the re-INVITE/UPDATE/BYE and responses say it is an INVITE dialog' },
      { criteria: { call_id: callId }, expect: all, why: 'every message' },
      { criteria: { call_id: callId, method: 'SUBSCRIBE' }, expect: [], why: 'an INVITE dialog' },
      { criteria: { call_id: callId, method: 'REGISTER' }, expect: [], why: 'an INVITE dialog' },
      { criteria: { text: 'z9hG4bKmid3' }, expect: all.slice(3), why: 'first met in the UPDATE: from there on' },
    ],
  });
}

// ---- 4. forking proxy: a failed branch does not end the call ----------------------------------
{
  const callId = 'fork-1@pc33.atlanta.example.com';
  const b1: Party = { ...bob, tag: 'b1tag', ip: '192.0.2.211' };
  const b2: Party = { ...bob, tag: 'b2tag', ip: '192.0.2.212' };
  const up: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKup1' };
  const d1: MsgOpts = { ...up, to: b1, branch: 'z9hG4bKp1' };
  const d2: MsgOpts = { ...up, to: b2, branch: 'z9hG4bKp2' };
  const packets = [
    at(0, alice, proxy, req('INVITE', { ...up, ruri: 'sip:bob@biloxi.example.com' }), 'INVITE'),
    at(0.01, proxy, alice, resp(100, 'Trying', 'INVITE', up), '100'),
    at(0.02, proxy, b1, req('INVITE', { ...d1, ruri: 'sip:bob@192.0.2.211' }), 'INVITE/b1'),
    at(0.03, proxy, b2, req('INVITE', { ...d2, ruri: 'sip:bob@192.0.2.212' }), 'INVITE/b2'),
    at(0.1, b1, proxy, resp(180, 'Ringing', 'INVITE', d1), '180/b1'),
    at(0.11, proxy, alice, resp(180, 'Ringing', 'INVITE', { ...up, to: b1 }), '180/up-b1'),
    at(0.2, b2, proxy, resp(180, 'Ringing', 'INVITE', d2), '180/b2'),
    at(0.21, proxy, alice, resp(180, 'Ringing', 'INVITE', { ...up, to: b2 }), '180/up-b2'),
    at(3, b1, proxy, resp(486, 'Busy Here', 'INVITE', d1), '486/b1'),
    at(3.01, proxy, b1, req('ACK', { ...d1, toTag: true, cseqMethod: 'ACK' }), 'ACK/b1'),
    // 20 s later, well past any linger: the second branch answers (RFC 3261 §16.7: the proxy waits)
    at(23, b2, proxy, resp(200, 'OK', 'INVITE', d2), '200/b2'),
    at(23.01, proxy, alice, resp(200, 'OK', 'INVITE', { ...up, to: b2 }), '200/up'),
    at(23.1, alice, b2, req('ACK', { ...up, to: b2, toTag: true, cseqMethod: 'ACK', branch: 'z9hG4bKack' }), 'ACK'),
    at(40, alice, b2, req('BYE', { ...up, to: b2, toTag: true, cseq: 2, branch: 'z9hG4bKbye' }), 'BYE'),
    at(40.1, b2, alice, resp(200, 'OK', 'BYE', { ...up, to: b2, toTag: true, cseq: 2, branch: 'z9hG4bKbye' }), '200/BYE'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'forked INVITE, first branch busy, second answers 20 s later',
    source: 'RFC 3261 §16.7 (forking; the proxy forwards the best final response after all branches), §13.2.2.4, Timer C',
    packets,
    cases: [
      { criteria: { text: 'z9hG4bKup1' }, expect: all, why: 'the branch parameter of the first INVITE only; the dialog is held through the busy branch' },
      { criteria: { from: 'alice' }, expect: all, why: 'caller' },
      { criteria: { to: 'bob', method: 'INVITE' }, expect: all, why: 'callee' },
    ],
  });
}
{
  const callId = 'fork-2@pc33.atlanta.example.com';
  const b1: Party = { ...bob, tag: 'c1tag', ip: '192.0.2.221' };
  const b2: Party = { ...bob, tag: 'c2tag', ip: '192.0.2.222' };
  const up: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKup2', extra: ['X-Trace: fork-two-fail'] };
  const d1: MsgOpts = { ...up, to: b1, branch: 'z9hG4bKq1', extra: [] };
  const d2: MsgOpts = { ...up, to: b2, branch: 'z9hG4bKq2', extra: [] };
  const packets = [
    at(0, alice, proxy, req('INVITE', up), 'INVITE'),
    at(0.02, proxy, b1, req('INVITE', d1), 'INVITE/b1'),
    at(0.03, proxy, b2, req('INVITE', d2), 'INVITE/b2'),
    at(1, b1, proxy, resp(486, 'Busy Here', 'INVITE', d1), '486/b1'),
    at(1.01, proxy, b1, req('ACK', { ...d1, toTag: true, cseqMethod: 'ACK' }), 'ACK/b1'),
    at(2, b2, proxy, resp(603, 'Decline', 'INVITE', d2), '603/b2'),
    at(2.01, proxy, b2, req('ACK', { ...d2, toTag: true, cseqMethod: 'ACK' }), 'ACK/b2'),
    at(2.02, proxy, alice, resp(486, 'Busy Here', 'INVITE', { ...up, to: b1, extra: [] }), '486/up'),
    at(2.03, alice, proxy, req('ACK', { ...up, to: b1, toTag: true, cseqMethod: 'ACK', extra: [] }), 'ACK/up'),
    // a stray retransmission of the final response a minute later belongs to a finished call
    at(62, proxy, alice, resp(486, 'Busy Here', 'INVITE', { ...up, to: b1, extra: [] }), '486/late'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'forked INVITE, every branch fails',
    source: 'RFC 3261 §16.7 step 6, §17.1.1 (the final non-2xx of the initial INVITE ends the call); DESIGN §5 linger',
    packets,
    cases: [{ criteria: { text: 'fork-two-fail' }, expect: all.slice(0, -1), why: 'ended with the last branch; the late copy is past the linger' }],
  });
}

// ---- 5. re-INVITE and UPDATE failures, CANCEL ---------------------------------------------------
{
  const callId = 'reinv-fail@pc33.atlanta.example.com';
  const o: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKr1', extra: ['X-Trace: reinvite-fail'] };
  const ind: MsgOpts = { ...o, toTag: true, extra: [] };
  const packets = [
    at(0, alice, bob, req('INVITE', o), 'INVITE'),
    at(1, bob, alice, resp(200, 'OK', 'INVITE', o), '200'),
    at(1.1, alice, bob, req('ACK', { ...ind, cseqMethod: 'ACK', branch: 'z9hG4bKr2' }), 'ACK'),
    at(5, alice, bob, req('INVITE', { ...ind, cseq: 2, branch: 'z9hG4bKr3' }), 're-INVITE'),
    at(5.1, bob, alice, resp(491, 'Request Pending', 'INVITE', { ...ind, cseq: 2, branch: 'z9hG4bKr3' }), '491'),
    at(5.2, alice, bob, req('ACK', { ...ind, cseq: 2, cseqMethod: 'ACK', branch: 'z9hG4bKr3' }), 'ACK/491'),
    at(8, alice, bob, req('INVITE', { ...ind, cseq: 3, branch: 'z9hG4bKr4' }), 're-INVITE2'),
    at(8.1, bob, alice, resp(488, 'Not Acceptable Here', 'INVITE', { ...ind, cseq: 3, branch: 'z9hG4bKr4' }), '488'),
    at(8.2, alice, bob, req('ACK', { ...ind, cseq: 3, cseqMethod: 'ACK', branch: 'z9hG4bKr4' }), 'ACK/488'),
    at(12, alice, bob, req('UPDATE', { ...ind, cseq: 4, branch: 'z9hG4bKr5' }), 'UPDATE'),
    at(12.1, bob, alice, resp(500, 'Server Internal Error', 'UPDATE', { ...ind, cseq: 4, branch: 'z9hG4bKr5' }), '500/UPDATE'),
    at(60, alice, bob, req('BYE', { ...ind, cseq: 5, branch: 'z9hG4bKr6' }), 'BYE'),
    at(60.1, bob, alice, resp(200, 'OK', 'BYE', { ...ind, cseq: 5, branch: 'z9hG4bKr6' }), '200/BYE'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'failed re-INVITEs and UPDATE keep the dialog',
    source: 'RFC 3261 §14.1 (a failed re-INVITE leaves the session unchanged), RFC 3311 §5.2',
    packets,
    cases: [{ criteria: { text: 'reinvite-fail' }, expect: all, why: 'only the INVITE carries the text; the BYE 48 s after the failures is still the dialog' }],
  });
}
{
  const callId = 'cancel-1@pc33.atlanta.example.com';
  const o: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKc1', extra: ['X-Trace: cancelled'] };
  const plain: MsgOpts = { ...o, extra: [] };
  const packets = [
    at(0, alice, bob, req('INVITE', o), 'INVITE'),
    at(0.1, bob, alice, resp(180, 'Ringing', 'INVITE', plain), '180'),
    at(3, alice, bob, req('CANCEL', { ...plain, cseqMethod: 'CANCEL' }), 'CANCEL'),
    at(3.01, bob, alice, resp(200, 'OK', 'CANCEL', plain), '200/CANCEL'),
    at(3.02, bob, alice, resp(487, 'Request Terminated', 'INVITE', plain), '487'),
    at(3.03, alice, bob, req('ACK', { ...plain, toTag: true, cseqMethod: 'ACK' }), 'ACK'),
    at(30, bob, alice, resp(487, 'Request Terminated', 'INVITE', plain), '487/late'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'CANCEL and 487 end the call',
    source: 'RFC 3261 §9.2 (487 to the INVITE), §17.1.1; DESIGN §5 linger',
    packets,
    cases: [{ criteria: { text: 'cancelled' }, expect: all.slice(0, -1), why: 'ended by the 487; the late copy is past the linger' }],
  });
}

// ---- 6. Call-ID reused by a new call ------------------------------------------------------------
{
  const callId = 'reused-call-id@example.com';
  const carol: Party = { uri: '<sip:carol@chicago.example.com>', tag: 'carol-t', ip: '192.0.2.31' };
  const dave: Party = { uri: '<sip:dave@denver.example.com>', tag: 'dave-t', ip: '192.0.2.41' };
  const c1 = basic(callId, false);
  const c2 = basic(callId, true, { a: carol, b: dave, t0: 100 });
  const c3 = basic(callId, true, { a: { ...carol, tag: 'carol-t2' }, b: { ...dave, tag: 'dave-t2' }, t0: 111 });
  const packets = [...relabel(c1.packets, '#1'), ...relabel(c2.packets, '#2'), ...relabel(c3.packets, '#3')];
  const l = (s: string) => packets.filter((p) => p.label.endsWith(s)).map((p) => p.label);
  FLOWS.push({
    name: 'Call-ID reused by new calls (after and within the linger)',
    source: 'RFC 3261 §8.1.1.4 (a Call-ID names one call); DESIGN §5 (caller decided per dialog)',
    packets,
    cases: [
      { criteria: { from: 'alice' }, expect: l('#1'), why: 'the first call only' },
      { criteria: { from: 'carol' }, expect: [...l('#2'), ...l('#3')], why: 'the second and third calls' },
      { criteria: { from: 'dave' }, expect: [], why: "dave is the callee of the new calls: orientation learnt afresh, his BYE names him as callee" },
      { criteria: { to: 'alice' }, expect: [], why: 'alice is never called' },
      { criteria: { to: 'dave' }, expect: [...l('#2'), ...l('#3')], why: 'dave is called twice' },
    ],
  });
}

// ---- 7. header forms: folding, case, compact, percent-encoding, display names -------------------
{
  const callId = 'folded-1@pc33.atlanta.example.com';
  const raw = (start: string, method: string, toTag: boolean, cseq: number, branch: string, extra: string[] = []): string =>
    `${start}\r\n` +
    [
      `v: SIP/2.0/UDP 192.0.2.101:5060\r\n ;branch=${branch}`,
      `FROM:  "15559999999"\r\n\t<SIP:%61lice@ATLANTA.example.com>;tag=9fx`,
      `t: <sip:bob@biloxi.example.com>${toTag ? ';tag=83' : ''}`,
      `CALL-ID:\r\n   ${callId}`,
      `cseq: ${cseq} ${method}`,
      ...extra,
      'l: 0',
    ].join('\r\n') +
    '\r\n\r\n';
  const packets = [
    at(0, alice, bob, raw('INVITE sip:bob@biloxi.example.com SIP/2.0', 'INVITE', false, 1, 'z9hG4bKf1', ['X-Trace: folded-call']), 'INVITE'),
    at(0.1, bob, alice, raw('SIP/2.0 180 Ringing', 'INVITE', true, 1, 'z9hG4bKf1'), '180'),
    at(1, bob, alice, raw('SIP/2.0 200 OK', 'INVITE', true, 1, 'z9hG4bKf1'), '200'),
    at(1.1, alice, bob, raw('ACK sip:bob@192.0.2.201 SIP/2.0', 'ACK', true, 1, 'z9hG4bKf2'), 'ACK'),
    at(5, alice, bob, raw('BYE sip:bob@192.0.2.201 SIP/2.0', 'BYE', true, 2, 'z9hG4bKf3'), 'BYE'),
    at(5.1, bob, alice, raw('SIP/2.0 200 OK', 'BYE', true, 2, 'z9hG4bKf3'), '200/BYE'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'folded headers (Call-ID too), any case, compact forms, percent-encoded user, numeric display name',
    source: 'RFC 3261 §7.3.1 (folding, case-insensitive names), §7.3.3 (compact), §19.1.1 (escaped user), §19.1.4',
    packets,
    cases: [
      { criteria: { text: 'folded-call' }, expect: all, why: 'the folded Call-ID of later messages is the captured dialog' },
      { criteria: { call_id: callId }, expect: all, why: 'folded Call-ID value' },
      { criteria: { from: 'alice' }, expect: all, why: '%61lice is alice' },
      { criteria: { from: '15559999999' }, expect: [], why: 'the display name is never the user' },
      { criteria: { domain: 'atlanta.example.com' }, expect: all, why: 'host case-insensitive' },
    ],
  });
}
{
  const callId = 'case-tel-1@example.com';
  const o: MsgOpts = {
    callId,
    from: { ...alice, uri: '<TEL:+1-555-443-0191>' },
    to: { ...bob, uri: '<sip:+44-20-7946-0018@gw.example.com;USER=PHONE>' },
    cseq: 1,
    branch: 'z9hG4bKtel',
    ruri: 'SIP:+44.20.7946.0018@gw.example.com;User=Phone',
  };
  const packets = [
    at(0, alice, bob, req('INVITE', o), 'INVITE'),
    at(0.1, bob, alice, resp(180, 'Ringing', 'INVITE', o), '180'),
    at(0.2, bob, alice, resp(603, 'Decline', 'INVITE', o), '603'),
    at(0.3, alice, bob, req('ACK', { ...o, toTag: true, cseqMethod: 'ACK' }), 'ACK'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'URI schemes and parameters in any case, numbers with separators',
    source: 'RFC 3261 §19.1.4 (scheme and parameter names case-insensitive), RFC 3966 §5.1.1 (visual separators)',
    packets,
    cases: [
      { criteria: { from: '15554430191' }, expect: all, why: 'TEL: with separators' },
      { criteria: { to: '020 7946 0018' }, expect: all, why: 'national form, suffix of the international' },
      { criteria: { from: '02079460018' }, expect: [], why: 'the callee is never `from`' },
    ],
  });
}
{
  const callId = 'star-hash-1@example.com';
  const o: MsgOpts = { callId, from: alice, to: { ...bob, uri: '<sip:*98@pbx.example.com>' }, cseq: 1, branch: 'z9hG4bKstar', ruri: 'sip:*98%2331@pbx.example.com' };
  const packets = [at(0, alice, bob, req('INVITE', o), 'INVITE'), at(0.1, bob, alice, resp(200, 'OK', 'INVITE', o), '200')];
  FLOWS.push({
    name: 'feature codes with * and #',
    source: 'decision (README): a user with * or # is a name, compared exactly; %23 is #',
    packets,
    cases: [
      { criteria: { to: '*98' }, expect: ['INVITE', '200'], why: 'To user *98' },
      { criteria: { to: '*98#31' }, expect: ['INVITE', '200'], why: 'R-URI user *98#31 (percent-decoded)' },
      { criteria: { to: '98' }, expect: [], why: 'not a number: no digit matching' },
    ],
  });
}

// ---- 8. bodies: multipart SDP, rtcp-mux, IPv6 ------------------------------------------------------
{
  const callId = 'sipi-1@mgcf.example.com';
  const boundary = 'unique-boundary-1';
  const multipart = (ip: string, port: number): { type: string; text: string } => ({
    type: `multipart/mixed;boundary=${boundary}`,
    text:
      `--${boundary}\r\nContent-Type: application/sdp\r\n\r\n${sdp(ip, port)}\r\n` +
      `--${boundary}\r\nContent-Type: application/ISUP;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03\r\n` +
      `--${boundary}--\r\n`,
  });
  const o: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKsipi' };
  const packets = [
    at(0, alice, bob, req('INVITE', { ...o, body: multipart(alice.ip, 20000) }), 'INVITE'),
    at(1, bob, alice, resp(200, 'OK', 'INVITE', { ...o, body: multipart(bob.ip, 30000) }), '200'),
    at(1.1, alice, bob, req('ACK', { ...o, toTag: true, cseqMethod: 'ACK' }), 'ACK'),
    ...[0, 1, 2].map((i) => at(1.2 + i * 0.02, alice.ip, bob.ip, rtp(i), `rtp>${i}`, [20000, 30000])),
    ...[0, 1].map((i) => at(1.3 + i * 0.02, bob.ip, alice.ip, rtp(i, 0x99), `rtp<${i}`, [30000, 20000])),
    at(1.5, alice.ip, '203.0.113.9', rtp(9, 0x77), 'rtp-stranger', [20002, 40000]),
  ];
  FLOWS.push({
    name: 'SDP inside multipart/mixed (SIP-I)',
    source: 'RFC 3204 (ISUP in multipart/mixed), RFC 2046 §5.1, DESIGN §5 RTP',
    packets,
    cases: [{ criteria: { from: 'alice' }, rtp: true, expect: ['INVITE', '200', 'ACK', 'rtp>0', 'rtp>1', 'rtp>2', 'rtp<0', 'rtp<1'], why: 'media addresses from the SDP part' }],
  });
}
{
  const callId = 'mux-1@example.com';
  const o: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKmux' };
  const rtcp = Buffer.from([0x81, 201, 0, 7, 0, 0, 0, 1, ...Array(24).fill(0)]);
  const packets = [
    at(0, alice, bob, req('INVITE', { ...o, sdp: sdp(alice.ip, 22000, ['a=rtcp-mux']) }), 'INVITE'),
    at(1, bob, alice, resp(200, 'OK', 'INVITE', { ...o, sdp: sdp(bob.ip, 32000) }), '200 (no mux)'),
    at(1.1, alice.ip, bob.ip, rtp(1), 'rtp', [22000, 32000]),
    at(1.2, alice.ip, bob.ip, rtcp, 'rtcp port+1', [22001, 32001]),
    at(1.3, bob.ip, alice.ip, rtcp, 'rtcp back port+1', [32001, 22001]),
  ];
  FLOWS.push({
    name: 'rtcp-mux offered, not answered: RTCP on port+1',
    source: 'RFC 5761 §5.1.1 (mux only when offer and answer both carry a=rtcp-mux)',
    packets,
    cases: [{ criteria: { call_id: callId }, rtp: true, expect: ['INVITE', '200 (no mux)', 'rtp', 'rtcp port+1', 'rtcp back port+1'], why: 'RTCP on the next port both ways' }],
  });
}
{
  const callId = 'v6-1@[2001:db8::101]';
  const a6: Party = { uri: '<sip:alice@[2001:db8::101]>', tag: 'a6', ip: '2001:db8::101' };
  const b6: Party = { uri: '<sip:bob@[2001:DB8:0:0::201]>', tag: 'b6', ip: '2001:db8::201' };
  const o: MsgOpts = { callId, from: a6, to: b6, cseq: 1, branch: 'z9hG4bKv6', ruri: 'sip:bob@[2001:0db8:0000::0201]' };
  const packets = [
    at(0, a6, b6, req('INVITE', { ...o, sdp: sdp('2001:DB8::101', 24000) }), 'INVITE'),
    at(1, b6, a6, resp(200, 'OK', 'INVITE', { ...o, sdp: sdp('2001:db8:0:0:0:0:0:201', 34000) }), '200'),
    at(1.1, a6, b6, req('ACK', { ...o, toTag: true, cseqMethod: 'ACK' }), 'ACK'),
    at(1.2, a6.ip, b6.ip, rtp(1), 'rtp>', [24000, 34000]),
    at(1.3, b6.ip, a6.ip, rtp(1, 0x55), 'rtp<', [34000, 24000]),
  ];
  const all = packets.map((p) => p.label);
  const sipOnly = ['INVITE', '200', 'ACK'];
  FLOWS.push({
    name: 'IPv6: addresses compared as addresses',
    source: 'RFC 5952 (text forms), RFC 3261 §19.1.1 (IPv6reference), RFC 4566 c=IN IP6',
    packets,
    cases: [
      { criteria: { domain: '2001:db8::201' }, expect: sipOnly, why: 'the To/R-URI host in other text forms' },
      { criteria: { domain: '[2001:0DB8::0201]' }, expect: sipOnly, why: 'bracketed, upper case, leading zeros' },
      { criteria: { provider_ip: '2001:db8:0::101' }, expect: sipOnly, why: 'packet address' },
      { criteria: { call_id: callId }, rtp: true, expect: all, why: 'RTP on the SDP addresses written in other forms' },
      { criteria: { domain: '2001:db8::202' }, expect: [], why: 'another address' },
    ],
  });
}

// ---- 9. non-INVITE dialogs and transactions -----------------------------------------------------
{
  const callId = 'sub-1@example.com';
  const o: MsgOpts = { callId, from: alice, to: bob, cseq: 1, branch: 'z9hG4bKs1', extra: ['Event: presence', 'Expires: 600'] };
  const n: MsgOpts = { callId, from: bob, to: alice, toTag: true, cseq: 1, branch: 'z9hG4bKs2', extra: ['Event: presence', 'Subscription-State: active;expires=600'] };
  const packets = [
    at(0, alice, bob, req('SUBSCRIBE', o), 'SUBSCRIBE'),
    at(0.1, bob, alice, resp(200, 'OK', 'SUBSCRIBE', o), '200'),
    at(0.2, bob, alice, req('NOTIFY', n), 'NOTIFY'),
    at(0.3, alice, bob, resp(200, 'OK', 'NOTIFY', n), '200/NOTIFY'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'SUBSCRIBE dialog',
    source: 'RFC 6665 §4 (NOTIFY in the subscription dialog, sent by the notifier)',
    packets,
    cases: [
      { criteria: { from: 'alice', method: 'SUBSCRIBE' }, expect: all, why: 'subscriber' },
      { criteria: { from: 'alice', method: 'INVITE' }, expect: [], why: 'not an INVITE dialog' },
      { criteria: { from: 'bob' }, expect: [], why: "the notifier's NOTIFY names bob in From: still the called side" },
      { criteria: { call_id: callId, method: 'SUBSCRIBE' }, expect: all, why: 'by Call-ID' },
    ],
  });
}
{
  const callId = 'reg-1@atlanta.example.com';
  const o: MsgOpts = { callId, from: alice, to: { ...alice, uri: '<sip:alice@atlanta.example.com>' }, cseq: 1, branch: 'z9hG4bKg1', ruri: 'sip:registrar.atlanta.example.com' };
  const packets = [
    at(0, alice, proxy, req('REGISTER', o), 'REGISTER'),
    at(0.1, proxy, alice, resp(401, 'Unauthorized', 'REGISTER', o), '401'),
    at(0.2, alice, proxy, req('REGISTER', { ...o, cseq: 2, branch: 'z9hG4bKg2', extra: ['Authorization: Digest username="alice"'] }), 'REGISTER2'),
    at(0.3, proxy, alice, resp(200, 'OK', 'REGISTER', { ...o, cseq: 2, branch: 'z9hG4bKg2' }), '200'),
  ];
  const all = packets.map((p) => p.label);
  FLOWS.push({
    name: 'REGISTER with a challenge',
    source: 'RFC 3665 §2.1; RFC 3261 §22.2',
    packets,
    cases: [
      { criteria: { from: 'alice', method: 'REGISTER' }, expect: all, why: 'both transactions' },
      { criteria: { from: 'alice', method: 'INVITE' }, expect: [], why: 'no INVITE' },
    ],
  });
}

// ---- 10. B2BUA / SBC legs -------------------------------------------------------------------------
function b2bua(name: string, source: string, aExtra: string[], bExtra: string[], tag: string): Flow {
  const sbc: Party = { uri: '<sip:sbc@sbc.example.com>', tag: `sbc-${tag}`, ip: '192.0.2.60' };
  const aId = `a-leg-${tag}@pc33.atlanta.example.com`;
  const bId = `b-leg-${tag}-7f3a9c@sbc.example.com`;
  const a: MsgOpts = { callId: aId, from: alice, to: { ...bob, tag: `sbcA-${tag}` }, cseq: 1, branch: `z9hG4bKa${tag}`, extra: aExtra };
  const b: MsgOpts = {
    callId: bId,
    from: { ...alice, uri: '<sip:+15557770001@sbc.example.com>', tag: `sbcB-${tag}` },
    to: { ...bob, uri: '<sip:+15558880002@biloxi.example.com>' },
    cseq: 10,
    branch: `z9hG4bKb${tag}`,
    extra: bExtra,
  };
  const packets = [
    at(0, alice, sbc, req('INVITE', { ...a, ruri: 'sip:bob@sbc.example.com' }), 'A INVITE'),
    at(0.01, sbc, alice, resp(100, 'Trying', 'INVITE', a), 'A 100'),
    at(0.02, sbc, bob, req('INVITE', b), 'B INVITE'),
    at(0.1, bob, sbc, resp(180, 'Ringing', 'INVITE', b), 'B 180'),
    at(0.11, sbc, alice, resp(180, 'Ringing', 'INVITE', a), 'A 180'),
    at(2, bob, sbc, resp(200, 'OK', 'INVITE', b), 'B 200'),
    at(2.01, sbc, bob, req('ACK', { ...b, toTag: true, cseqMethod: 'ACK', branch: `z9hG4bKb${tag}ack` }), 'B ACK'),
    at(2.02, sbc, alice, resp(200, 'OK', 'INVITE', a), 'A 200'),
    at(2.03, alice, sbc, req('ACK', { ...a, toTag: true, cseqMethod: 'ACK', branch: `z9hG4bKa${tag}ack` }), 'A ACK'),
    at(9, alice, sbc, req('BYE', { ...a, toTag: true, cseq: 2, branch: `z9hG4bKa${tag}bye` }), 'A BYE'),
    at(9.01, sbc, alice, resp(200, 'OK', 'BYE', { ...a, toTag: true, cseq: 2, branch: `z9hG4bKa${tag}bye` }), 'A 200/BYE'),
    at(9.02, sbc, bob, req('BYE', { ...b, toTag: true, cseq: 11, branch: `z9hG4bKb${tag}bye`, extra: [] }), 'B BYE'),
    at(9.03, bob, sbc, resp(200, 'OK', 'BYE', { ...b, toTag: true, cseq: 11, branch: `z9hG4bKb${tag}bye`, extra: [] }), 'B 200/BYE'),
  ];
  const all = packets.map((p) => p.label);
  const bLeg = all.filter((l) => l.startsWith('B '));
  return {
    name,
    source,
    packets,
    cases: [
      { criteria: { from: 'alice' }, expect: all, why: 'the A-leg caller: both legs' },
      { criteria: { to: '+15558880002' }, expect: all.filter((l, i) => i >= 2), why: 'a number only on the B leg: both legs from that point on' },
      { criteria: { call_id: bId }, expect: all.filter((l, i) => i >= 2), why: 'the B leg by Call-ID: the A leg from then on' },
      { criteria: { from: 'carol' }, expect: [], why: 'neither leg' },
      ...(bLeg.length > 0 ? [] : []),
    ],
  };
}
FLOWS.push(
  b2bua('B2BUA legs linked by X-CID', "sngrep sip.xcid; the B leg's INVITE names the A leg's Call-ID", [], ['X-CID: a-leg-x@pc33.atlanta.example.com'], 'x'),
  b2bua(
    'SBC legs linked by RFC 7989 Session-ID',
    'RFC 7989 §6 (the Session-ID is end to end; an intermediary passes it)',
    ['Session-ID: ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000'],
    ['Session-ID: ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000'],
    's',
  ),
  b2bua(
    'IMS legs linked by P-Charging-Vector icid-value',
    'RFC 7315 §4.6 (icid-value kept across the call)',
    ['P-Charging-Vector: icid-value=1234bc9876e;icid-generated-at=192.0.6.8;orig-ioi=home1.net'],
    ['P-Charging-Vector: icid-value=1234bc9876e;icid-generated-at=192.0.6.8;orig-ioi=home1.net;term-ioi=home2.net'],
    'i',
  ),
);
