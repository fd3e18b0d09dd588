// Per-stream RTP quality from `tunaio filter --rtp` against tshark's `-z rtp,streams` on the shared
// captures with RTP. Same definitions: packets, lost (expected − received), max delta, mean and max
// interarrival jitter (RFC 3550 A.8; tshark's mean is over the packets after the first).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFilter } from '../../src/cli/commands/filter.js';
import { PCAPS, tshark } from './tshark.js';

interface TsharkStream {
  src: string;
  dst: string;
  ssrc: number;
  payload: string;
  packets: number;
  lost: number;
  maxDelta: number;
  meanJitter: number;
  maxJitter: number;
}

function tsharkStreams(file: string): TsharkStream[] {
  const txt = tshark(['-r', file, '-o', 'rtp.heuristic_rtp:TRUE', '-q', '-z', 'rtp,streams']);
  const re =
    /^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-F]+)\s+(.+?)\s+(\d+)\s+(-?\d+)\s+\([-\d.]+%\)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s+([\d.]+)\s+([\d.]+)/;
  const out: TsharkStream[] = [];
  for (const l of txt.split('\n')) {
    const m = re.exec(l);
    if (!m) continue;
    out.push({
      src: `${m[1]}:${m[2]}`,
      dst: `${m[3]}:${m[4]}`,
      ssrc: parseInt(m[5], 16),
      payload: m[6],
      packets: Number(m[7]),
      lost: Number(m[8]),
      maxDelta: Number(m[9]),
      meanJitter: Number(m[10]),
      maxJitter: Number(m[11]),
    });
  }
  return out;
}

// Captures, the criterion that picks their call, and the streams tshark sees differently (reason).
type Field = 'packets' | 'maxDelta' | 'meanJitter';
const CASES: { file: string; criteria: Record<string, string>; differs?: Record<string, { fields: Field[]; reason: string }> }[] = [
  { file: 'sip_udp_call_rtp-g722-wideband__wireshark.pcap', criteria: { to: 'test' } },
  { file: 'sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap', criteria: { to: '147' } },
  { file: 'sip_udp_magicjack_invite-401_rtp__wireshark.pcap', criteria: { to: '9055551212' } },
  { file: 'sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap', criteria: { call_id: '12013223@200.57.7.195' } },
  { file: 'sip_udp_asterisk_zrtp_reinvite_register-401__wireshark.pcap', criteria: { call_id: 'ZDYzOWVlNjEwM2NjZTBjNzliNmM1ZTNiOGZjNWFhN2E.' } },
  {
    file: 'sip_udp_fax_t38-reinvite_488__wireshark.pcap',
    criteria: { call_id: '00e9d4a500e9d48-0015-0001-0000-0000@10.35.40.25' },
    differs: {
      '10.35.60.100:15580>10.23.1.52:16756': {
        fields: ['packets', 'maxDelta', 'meanJitter'],
        reason:
          'after the T.38 re-INVITE tshark re-assigns the port pair to T.38 (SDP conversation) and stops counting this RTP at 64.7 s; 3848 packets carry the SSRC to the end',
      },
      '10.23.1.52:16756>10.35.60.100:15580': {
        fields: ['maxDelta', 'meanJitter'],
        reason:
          "tshark's Max Delta (9199.8 ms) spans comfort-noise periods (163 PT 13 packets); the largest real arrival gap is 286.074 ms (tshark -T fields frame.time_relative shows it). Mean jitter differs by 1% around the PT changes",
      },
    },
  },
];

const table: string[] = [];
afterAll(() => console.log(`RTP streams, ours vs tshark (packets, lost, max delta ms, mean/max jitter ms):\n${table.join('\n')}`));

describe('RTP stream stats vs tshark -z rtp,streams', () => {
  for (const c of CASES) {
    it(c.file, async () => {
      const file = path.join(PCAPS, c.file);
      const s = await runFilter({ files: [file], criteria: c.criteria, rtp: true, output: null });
      const theirs = tsharkStreams(file);
      expect(s.streams.length).toBeGreaterThan(0);
      for (const ev of s.streams) {
        const st = ev.stats;
        const key = `${st.src.ip}:${st.src.port}>${st.dst.ip}:${st.dst.port}`;
        const t = theirs.find((x) => x.ssrc === st.ssrc && `${x.src}>${x.dst}` === key);
        expect(t, `tshark lists ${key} ssrc ${st.ssrc.toString(16)}`).toBeDefined();
        table.push(
          `  ${c.file} ${key} ours ${st.packets}/${st.lost}/${st.maxDeltaMs}/${st.meanJitterMs}/${st.maxJitterMs} ` +
            `tshark ${t!.packets}/${t!.lost}/${t!.maxDelta}/${t!.meanJitter}/${t!.maxJitter} mos ${st.mos}`,
        );
        const diff = c.differs?.[key];
        const same = (f: Field): boolean => diff === undefined || !diff.fields.includes(f);
        if (same('packets')) {
          expect(st.packets).toBe(t!.packets);
          expect(st.lost).toBe(Math.max(0, t!.lost));
          expect(Math.abs(st.maxJitterMs - t!.maxJitter)).toBeLessThan(0.01 + t!.maxJitter * 0.001);
        } else {
          expect(st.packets, diff!.reason).toBeGreaterThan(t!.packets);
        }
        expect(st.expected).toBe(st.packets - st.duplicates + st.lost);
        if (same('maxDelta')) expect(Math.abs(st.maxDeltaMs - t!.maxDelta)).toBeLessThan(0.01);
        else expect(st.maxDeltaMs, diff!.reason).not.toBeCloseTo(t!.maxDelta, 0);
        if (same('meanJitter')) expect(Math.abs(st.meanJitterMs - t!.meanJitter)).toBeLessThan(0.01 + t!.meanJitter * 0.01);
        expect(st.mos).toBeGreaterThan(1);
        expect(st.mos).toBeLessThanOrEqual(4.5);
      }
    });
  }
});
