import { describe, expect, it } from 'vitest';
import { TCP_FLAG, TcpReassembler } from './tcp-reassembly.js';
import type { StreamConsumer } from './tcp-reassembly.js';

/** A consumer that records the bytes delivered and the gaps. */
function recorder() {
  const log: string[] = [];
  const make = (key: string): StreamConsumer => ({
    push: (d) => log.push(`${key}:${d.toString()}`),
    gap: () => log.push(`${key}:<gap>`),
    bufferedBytes: 0,
  });
  return { log, make };
}

const s = (x: string) => Buffer.from(x);

describe('TcpReassembler', () => {
  it('starts at the first sequence number seen when the SYN is missing; drops retransmissions, trims overlaps', () => {
    const { log, make } = recorder();
    const t = new TcpReassembler(make);
    t.segment('a', 500, TCP_FLAG.ACK, s('hello '), 1);
    t.segment('a', 500, TCP_FLAG.ACK, s('hello '), 2); // retransmission
    t.segment('a', 503, TCP_FLAG.ACK, s('lo world'), 3); // overlaps 3 bytes
    expect(log).toEqual(['a:hello ', 'a:world']);
    expect(t.stats).toMatchObject({ retransmissions: 1, overlaps: 1 });
  });

  it('holds out-of-order segments and delivers them in order, across the 2^32 wrap', () => {
    const { log, make } = recorder();
    const t = new TcpReassembler(make);
    const base = 0xfffffffa;
    t.segment('w', base - 1, TCP_FLAG.SYN, Buffer.alloc(0), 0);
    t.segment('w', (base + 8) >>> 0, TCP_FLAG.ACK, s('CCCC'), 1);
    t.segment('w', (base + 4) >>> 0, TCP_FLAG.ACK, s('BBBB'), 2);
    expect(log).toEqual([]);
    t.segment('w', base, TCP_FLAG.ACK, s('AAAA'), 3);
    expect(log).toEqual(['w:AAAA', 'w:BBBB', 'w:CCCC']);
    expect(t.stats.outOfOrder).toBe(2);
    expect(t.stats.bufferedBytes).toBe(0);
  });

  it('skips a hole after the capture-time gap timeout', () => {
    const { log, make } = recorder();
    const t = new TcpReassembler(make, { gapTimeoutUs: 1000 });
    t.segment('g', 1, TCP_FLAG.ACK, s('one'), 0);
    t.segment('g', 100, TCP_FLAG.ACK, s('later'), 10);
    expect(log).toEqual(['g:one']);
    t.segment('g', 200, TCP_FLAG.ACK, s('much later'), 5000);
    // the old hole times out; the new one (105..200) has only just opened
    expect(log).toEqual(['g:one', 'g:<gap>', 'g:later']);
    t.sweep(7000);
    expect(log).toEqual(['g:one', 'g:<gap>', 'g:later', 'g:<gap>', 'g:much later']);
    expect(t.stats.gaps).toBe(2);
  });

  it('expires idle streams by capture time and bounds the number of streams', () => {
    const { make } = recorder();
    const t = new TcpReassembler(make, { idleTimeoutUs: 1_000_000, maxStreams: 10 });
    for (let i = 0; i < 25; i++) t.segment(`k${i}`, 1, TCP_FLAG.ACK, s('x'), 0);
    expect(t.streamCount).toBe(10);
    expect(t.stats.evicted).toBe(15);
    t.segment('late', 1, TCP_FLAG.ACK, s('x'), 5_000_000);
    expect(t.streamCount).toBe(1);
    expect(t.stats.expired).toBe(10);
  });

  it('RST flushes held data and closes; a new SYN on the same 4-tuple starts a new stream', () => {
    const { log, make } = recorder();
    const t = new TcpReassembler(make);
    t.segment('r', 0, TCP_FLAG.SYN, Buffer.alloc(0), 0);
    t.segment('r', 10, TCP_FLAG.ACK, s('held'), 1);
    t.segment('r', 20, TCP_FLAG.RST, Buffer.alloc(0), 2);
    expect(log).toEqual(['r:<gap>', 'r:held', 'r:<gap>']);
    t.segment('r', 1000, TCP_FLAG.SYN, Buffer.alloc(0), 3);
    t.segment('r', 1001, TCP_FLAG.ACK, s('fresh'), 4);
    expect(log.at(-1)).toBe('r:fresh');
    expect(t.stats.streams).toBe(2);
  });
});
