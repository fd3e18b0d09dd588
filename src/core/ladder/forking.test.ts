// A real forked INVITE (Kamailio forking to two sipp UASs, captured on loopback) through the ladder
// model: one Call-ID, two early dialogs with different To-tags, tshark as the oracle.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLadder } from './build.js';
import { captureForkedCall } from './testing/forking.js';
import type { ForkCapture } from './testing/forking.js';
import { sipEventsFromCapture } from './testing/pcap-events.js';
import type { Ladder } from './types.js';

let cap: ForkCapture;
let ladder: Ladder;

beforeAll(async () => {
  cap = await captureForkedCall();
  ladder = buildLadder(sipEventsFromCapture(cap.pcap));
}, 60_000);

afterAll(() => {
  if (cap) fs.rmSync(path.dirname(cap.pcap), { recursive: true, force: true });
});

describe('a forked INVITE through Kamailio', () => {
  it('the call itself completed (sipp UAC exit 0)', () => {
    expect(cap.uacExit).toBe(0);
  });

  it('draws every SIP message tshark sees, in order', () => {
    const out = execFileSync(
      'tshark',
      ['-r', cap.pcap, '-d', `udp.port==${cap.ports.proxy},sip`, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.to.tag'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const oracle = out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
    expect(ladder.arrows.map((a) => a.method ?? String(a.status))).toEqual(oracle.map(([m, s]) => m || s));
    // tshark's To-tags of the two 180s the caller got are the ladder's two dialogs
    const ringingTags = oracle.filter(([, s]) => s === '180').map(([, , t]) => t);
    expect(new Set(ringingTags).size).toBe(2);
    expect(ladder.calls[0].dialogs.map((d) => d.toTag).sort()).toEqual([...new Set(ringingTags)].sort());
  });

  it('shows one Call-ID with two early dialogs: one answered, one refused', () => {
    expect(ladder.calls).toHaveLength(1);
    const [call] = ladder.calls;
    expect(call.method).toBe('INVITE');
    expect(call.dialogs).toHaveLength(2);
    const byState = Object.fromEntries(call.dialogs.map((d) => [d.state, d]));
    expect(Object.keys(byState).sort()).toEqual(['confirmed', 'failed']);
    expect(byState.confirmed.fromTag).toBe(byState.failed.fromTag);
    expect(byState.confirmed.toTag).not.toBe(byState.failed.toTag);
    // the caller sees both 180s, one per early dialog, neither a retransmission
    const toCaller = ladder.arrows.filter((a) => a.status === 180 && a.to === 0);
    expect(toCaller).toHaveLength(2);
    expect(new Set(toCaller.map((a) => a.dialogId))).toEqual(new Set(call.dialogs.map((d) => d.id)));
    expect(toCaller.some((a) => a.retransmission)).toBe(false);
  });

  it('lays the lanes out caller, proxy, then the two forks in the order they were tried', () => {
    const p = cap.ports;
    expect(ladder.lanes.map((l) => l.port)).toEqual([p.uac, p.proxy, p.answer, p.busy]);
    const forks = ladder.arrows.filter((a) => a.method === 'INVITE' && a.from === 1);
    expect(forks.map((a) => a.to)).toEqual([2, 3]);
    // each fork is its own client transaction: its own colour, shared with its responses
    expect(forks[0].colour).not.toBe(forks[1].colour);
    const busy = ladder.arrows.find((a) => a.status === 486)!;
    expect(busy.colour).toBe(forks[1].colour);
  });
});
