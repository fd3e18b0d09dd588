// Ingest → PCAP policy: which events of a batch reach the session's pcap (through POST /api/ingest).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../protocol/capture-file.js';
import { sipEvent, testCenter } from '../testing.js';
import type { TestCenter } from '../testing.js';
import { buildEthernetFrame } from './frames.js';

let c: TestCenter;
afterEach(async () => {
  await c.close();
});

describe('PcapRecorder at ingest', () => {
  it('writes sent frames (RTP samples too) and builds SIP frames that came without one; drops frames of sessions without capture_pcap; keeps no frame in the events table', async () => {
    c = await testCenter();
    const a = await c.addAgent('edge');
    const withPcap = await c.newSession({ criteria: { from: '1' }, agent_ids: [a.id], capture_pcap: true, capture_rtp: true });
    const without = await c.newSession({ criteria: { from: '2' }, agent_ids: [a.id] });
    const rtpFrame = buildEthernetFrame({ src: { ip: '192.0.2.10', port: 40000 }, dst: { ip: '198.51.100.20', port: 40002 }, transport: 'udp', payload: Buffer.alloc(172, 0x80) })!;
    const frame = { link_type: 1, data: rtpFrame.toString('base64'), orig_len: rtpFrame.length };
    const r = await c.ingest(a.token, [
      sipEvent(withPcap, 0, { call_id: 'no-frame@x' }),
      sipEvent(withPcap, 1, { kind: 'rtp', payload: null, sip: null, rtp: { ssrc: 1, pt: 0, seq: 1, ts: 160, marker: false }, frame }),
      sipEvent(withPcap, 2, { kind: 'log', payload: 'a log line', sip: null, src: null, dst: null, transport: null }),
      sipEvent(without, 0, { frame }),
    ]);
    expect(r.body).toMatchObject({ accepted: 4, rejected: [] });
    const recs = readCaptureFile(fs.readFileSync(path.join(c.dataDir, 'pcap', withPcap, 'agent-1.pcap'))).records;
    expect(recs).toHaveLength(2);
    expect(recs[0].data.includes(Buffer.from('Call-ID: no-frame@x'))).toBe(true);
    expect(recs[0].tsUs).toBe(1_780_000_000_000_000);
    expect(recs[1].data.equals(rtpFrame)).toBe(true);
    expect(fs.existsSync(path.join(c.dataDir, 'pcap', without))).toBe(false);
    expect(await c.storage.hasFrames(withPcap)).toBe(false);
  });
});
