// One message, one row (issue 17 item 5): the capture manager of an agent with several packet
// sources keeps a SIP message seen by two sources within 50 ms as one event listing both, counts
// the merge, and keeps a real retransmission (same source, or ≥ T1 = 500 ms later) as its own event.
import { afterEach, describe, expect, it } from 'vitest';
import { CaptureManager, DUPLICATE_WINDOW_US, type PacketInput } from './capture-manager.js';
import type { OutgoingEvent } from './upload.js';

const SID = 'e0000000000000000001';
const CALL = 'dedupe-1@test';
const T0 = 1_780_000_000_000_000;
const invite = Buffer.from(
  `INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\nFrom: <sip:alice@127.0.0.1>;tag=1\r\n` +
    `To: <sip:bob@127.0.0.1>\r\nCall-ID: ${CALL}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`,
);

let m: CaptureManager;
const sent: OutgoingEvent[] = [];
afterEach(() => {
  m.stop();
  sent.length = 0;
});

function manager(multiSource: boolean): CaptureManager {
  m = new CaptureManager({
    uploader: { enqueue: (_s, _u, ev) => (sent.push(ev), true), closeSession: () => undefined, stats: () => undefined, heartbeat: () => undefined },
  });
  m.multiSource = multiSource;
  m.put({ session_id: SID, criteria: { call_id: CALL }, capture_rtp: false, capture_pcap: false, expires_at: new Date(Date.now() + 60_000).toISOString(), ingest_url: 'http://127.0.0.1:1/api/ingest' });
  return m;
}

const pkt = (tsUs: number, source: string): PacketInput => ({
  tsUs,
  transport: 'udp',
  src: { ip: '127.0.0.1', port: 5070 },
  dst: { ip: '127.0.0.1', port: 5060 },
  payload: invite,
  source,
});

const settle = () => new Promise((r) => setTimeout(r, DUPLICATE_WINDOW_US / 1000 + 30));

describe('one message, one row', () => {
  it('the same message from live capture and HEP within the window is one event with both sources, counted', async () => {
    manager(true);
    m.onPacket(pkt(T0, 'live:lo'));
    m.onPacket(pkt(T0 + 3_000, 'hep:udp:127.0.0.1:9060'));
    expect(sent).toEqual([]); // held for the window
    await settle();
    expect(sent.map((e) => e.sources)).toEqual([['live:lo', 'hep:udp:127.0.0.1:9060']]);
    expect(m.view(SID)!.counters.duplicates_merged).toBe(1);
    expect(m.counters.sip_duplicates_merged).toBe(1);
  });

  it('a retransmission (Timer A, 500 ms later) is its own event, merged with its own HEP copy; the same source twice is never merged', async () => {
    manager(true);
    m.onPacket(pkt(T0, 'live:lo'));
    m.onPacket(pkt(T0 + 2_000, 'hep:udp:127.0.0.1:9060'));
    m.onPacket(pkt(T0 + 500_000, 'live:lo'));
    m.onPacket(pkt(T0 + 501_000, 'hep:udp:127.0.0.1:9060'));
    // the same bytes from the same source inside the window: a second event (a repeat on the wire)
    m.onPacket(pkt(T0 + 510_000, 'live:lo'));
    // outside the window from another source: not a copy of the first
    m.onPacket(pkt(T0 + 510_000 + DUPLICATE_WINDOW_US + 1, 'hep:udp:127.0.0.1:9060'));
    await settle();
    expect(sent.map((e) => [e.ts - T0, e.sources])).toEqual([
      [0, ['live:lo', 'hep:udp:127.0.0.1:9060']],
      [500_000, ['live:lo', 'hep:udp:127.0.0.1:9060']],
      [510_000, ['live:lo']],
      [560_001, ['hep:udp:127.0.0.1:9060']],
    ]);
    expect(m.view(SID)!.counters.duplicates_merged).toBe(2);
  });

  it('an agent with one packet source sends at once, without sources', () => {
    manager(false);
    m.onPacket(pkt(T0, 'live:lo'));
    m.onPacket(pkt(T0 + 1_000, 'live:lo'));
    expect(sent.map((e) => e.sources)).toEqual([undefined, undefined]);
  });
});
