// Per-stream RTP quality from `tunaio filter --rtp` against tshark's `-z rtp,streams` (heuristic RTP
// on) on every shared capture with RTP (MANIFEST rtp_pkts > 0), every dialog captured. Same
// definitions: packets, lost = expected − received (RFC 3550 §6.4.1; negative with duplicates),
// max delta, mean and max interarrival jitter (RFC 3550 A.8; tshark's mean is over the packets after
// the first), duration (last − first arrival). Every stream tshark lists is ours, and every stream
// of ours is tshark's, unless named below with its cause; a named difference that stops happening
// fails too. The `tunaio filter --rtp --json` table is checked against the same numbers.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFilter, streamJson } from '../../src/cli/commands/filter.js';
import type { StatsEvent } from '../../src/core/match/engine.js';
import { manifest, PCAPS, tshark } from './tshark.js';

interface TsharkStream {
  src: string;
  dst: string;
  ssrc: number;
  payload: string;
  packets: number;
  lost: number;
  durationMs: number;
  maxDelta: number;
  meanJitter: number;
  maxJitter: number;
}

function tsharkStreams(file: string): TsharkStream[] {
  const txt = tshark(['-r', file, '-o', 'rtp.heuristic_rtp:TRUE', '-q', '-z', 'rtp,streams']);
  const re =
    /^\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-F]+)\s+(.+?)\s+(\d+)\s+(-?\d+)\s+\([-\d.]+%\)\s+[-\d.]+\s+[\d.]+\s+([\d.]+)\s+[-\d.]+\s+([\d.]+)\s+([\d.]+)/;
  const out: TsharkStream[] = [];
  for (const l of txt.split('\n')) {
    const m = re.exec(l);
    if (!m) continue;
    out.push({
      src: `${m[3]}:${m[4]}`,
      dst: `${m[5]}:${m[6]}`,
      ssrc: parseInt(m[7], 16),
      payload: m[8],
      durationMs: (Number(m[2]) - Number(m[1])) * 1000,
      packets: Number(m[9]),
      lost: Number(m[10]),
      maxDelta: Number(m[11]),
      meanJitter: Number(m[12]),
      maxJitter: Number(m[13]),
    });
  }
  return out;
}

type Field = 'packets' | 'maxDelta' | 'meanJitter';
/** a stream key: `src>dst ssrc` as tshark prints it */
const keyOf = (src: string, dst: string, ssrc: number): string => `${src}>${dst} 0x${ssrc.toString(16).toUpperCase().padStart(8, '0')}`;

/**
 * Where we and tshark differ, per capture, with the cause. `onlyTshark`: streams tshark's heuristic
 * finds that no SIP dialog negotiated; `fields`: streams both list with named fields differing.
 */
const DIFFERS: Record<string, { onlyTshark?: Record<string, string>; fields?: Record<string, { fields: Field[]; reason: string }> }> = {
  'sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap': {
    onlyTshark: {
      '200.57.7.199:4800>200.57.7.196:40378 0x58F33DEA': 'negotiated outside SIP: the SDP of frames 2945/2946 rides on another protocol (no Call-ID, not SIP), so no SIP dialog names 40378',
      '200.57.7.196:40378>200.57.7.199:4800 0xD2BD4E3E': 'same: the other direction of that non-SIP leg',
      '200.57.7.202:30000>200.57.7.196:40362 0x00002E3D': 'same: frames 2945/2946 negotiate 40362/30000 outside SIP',
    },
  },
  'sip_udp_fax_t38-reinvite_488__wireshark.pcap': {
    fields: {
      '10.35.60.100:15580>10.23.1.52:16756 0x0EAF0EAF': {
        fields: ['packets', 'maxDelta', 'meanJitter'],
        reason:
          'after the T.38 re-INVITE tshark re-assigns the port pair to T.38 (SDP conversation) and stops counting this RTP at 64.7 s; 3845 packets carry the SSRC to the end',
      },
      '10.23.1.52:16756>10.35.60.100:15580 0x17D90134': {
        fields: ['maxDelta', 'meanJitter'],
        reason:
          "tshark's Max Delta (9199.8 ms) spans comfort-noise periods (163 PT 13 packets); the largest real arrival gap is 286.074 ms (tshark -T fields frame.time_relative shows it). Mean jitter differs by 1% around the PT changes",
      },
    },
  },
  'sip_udp_h263-video-rtp_null-loopback__wireshark.pcap': {
    fields: {
      '192.168.6.199:57128>192.168.6.199:32976 0x5482ECE0': {
        fields: ['meanJitter'],
        reason:
          'H.263 video at 90 kHz, several packets per frame on one timestamp: tshark 4.0 prints a mean jitter of 15.505 ms, the plain RFC 3550 A.8 mean over the 44 packets after the first is 17.659 ms (recomputed from tshark -T fields frame.time_epoch rtp.timestamp); max jitter, packets, lost and max delta agree',
      },
    },
  },
  // In this bit-flipped copy of aaa.pcap neither SDP of the call survives: the INVITE of frame 617
  // (tshark: "trailing stray characters", no SDP decoded) and the 183 of frame 620 (exception, its
  // Call-ID flipped to 51894297…), so no SIP dialog negotiated 40392; tshark finds the packets by heuristic.
  'sip_udp_FUZZED-aaa_malformed__ndpi.pcap': {
    onlyTshark: Object.fromEntries(
      [
        ['81.168.1.2:30000>212.242.33.36:40392 0x3796CB71', 'source address bit-flipped'],
        ['192.168.1.2:30000>214.242.33.36:40392 0x3796CB71', 'destination address bit-flipped'],
        ['192.168.1.2:30000>212.242.33.36:40392 0xAAAAAAAA', 'SSRC bit-flipped'],
        ['192.168.1.2:30000>212.242.33.36:40392 0x37968BAA', 'SSRC bit-flipped'],
        ['192.168.1.2:30000>212.242.33.36:40392 0x3796CB71', 'the intact packets'],
        ['192.168.1.2:30000>37.115.0.36:40392 0x3796CB71', 'destination address bit-flipped'],
        ['192.168.1.3:30000>212.242.33.36:40392 0x3796CB71', 'source address bit-flipped'],
      ].map(([k, why]) => [k, `${why}; the call's SDP offer and answer are both damaged (frames 617, 620)`]),
    ),
  },
};

const RTP_FILES = manifest()
  .filter((r) => r.rtpPkts > 0)
  .map((r) => r.file);

const table: string[] = [];
afterAll(() =>
  console.log(`RTP streams, ours vs tshark (packets, lost, max delta ms, mean jitter ms, max jitter ms):\n${table.join('\n')}`),
);

describe('RTP stream stats vs tshark -z rtp,streams, every shared capture with RTP', () => {
  it('the captures with RTP include the two whose media is behind NAT', () => {
    expect(RTP_FILES).toEqual(expect.arrayContaining(['sip_udp_h263-video-rtp_null-loopback__wireshark.pcap', 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap']));
    expect(RTP_FILES.length).toBeGreaterThanOrEqual(9);
  });

  for (const file of RTP_FILES) {
    it(file, async () => {
      const full = path.join(PCAPS, file);
      // every dialog: each SIP message carries "SIP/2.0"
      const s = await runFilter({ files: [full], criteria: { text: 'SIP/2.0' }, rtp: true, output: null });
      const theirs = tsharkStreams(full);
      const d = DIFFERS[file] ?? {};
      const ours = new Map<string, StatsEvent>(s.streams.map((ev) => [keyOf(`${ev.stats.src.ip}:${ev.stats.src.port}`, `${ev.stats.dst.ip}:${ev.stats.dst.port}`, ev.stats.ssrc), ev]));
      const tk = new Map(theirs.map((t) => [keyOf(t.src, t.dst, t.ssrc), t]));
      // both lists, both ways
      for (const k of tk.keys()) if (!ours.has(k)) expect(d.onlyTshark?.[k], `tshark lists ${k}, we do not`).toBeDefined();
      for (const k of Object.keys(d.onlyTshark ?? {})) expect(ours.has(k), `named as tshark-only but ours: ${k}`).toBe(false);
      for (const k of Object.keys(d.onlyTshark ?? {})) expect(tk.has(k), `named difference no longer seen by tshark: ${k}`).toBe(true);
      for (const k of ours.keys()) expect(tk.has(k), `we list ${k}, tshark does not`).toBe(true);
      for (const [k, ev] of ours) {
        const st = ev.stats;
        const t = tk.get(k)!;
        table.push(
          `  ${file} ${k} ${st.codec ?? st.pt}: ours ${st.packets}/${st.lost}/${st.maxDeltaMs}/${st.meanJitterMs}/${st.maxJitterMs} ` +
            `tshark ${t.packets}/${t.lost}/${t.maxDelta}/${t.meanJitter}/${t.maxJitter}; dup ${st.duplicates} ooo ${st.reordered} mos ${st.mos ?? '-'}`,
        );
        const diff = d.fields?.[k];
        const same = (f: Field): boolean => diff === undefined || !diff.fields.includes(f);
        expect(st.lost).toBe(st.expected - st.packets);
        if (same('packets')) {
          expect(st.packets).toBe(t.packets);
          expect(st.lost).toBe(t.lost);
          expect(Math.abs(st.maxJitterMs - t.maxJitter)).toBeLessThan(0.01 + t.maxJitter * 0.001);
          expect(Math.abs(st.durationMs - t.durationMs)).toBeLessThan(0.01);
        } else {
          expect(st.packets, diff!.reason).toBeGreaterThan(t.packets);
        }
        if (same('maxDelta')) expect(Math.abs(st.maxDeltaMs - t.maxDelta)).toBeLessThan(0.01);
        else expect(st.maxDeltaMs, diff!.reason).not.toBeCloseTo(t.maxDelta, 0);
        if (same('meanJitter')) expect(Math.abs(st.meanJitterMs - t.meanJitter)).toBeLessThan(0.01 + t.meanJitter * 0.01);
        else expect(Math.abs(st.meanJitterMs - t.meanJitter), diff!.reason).toBeGreaterThan(0.01 + t.meanJitter * 0.01);
        // MOS for speech only: none for video (90 kHz) nor RFC 4733 events
        if (st.clockRate === 90000 || st.codec === 'telephone-event') expect(st.mos).toBeUndefined();
        else expect(st.mos).toBeGreaterThan(1);
      }
      for (const k of Object.keys(d.fields ?? {})) expect(ours.has(k), `named field difference for a stream we no longer list: ${k}`).toBe(true);
    });
  }

  it('`tunaio filter --rtp --json` prints the same table, one rtp_stream line per stream after the SIP lines', async () => {
    const file = path.join(PCAPS, 'sip_udp_h263-video-rtp_null-loopback__wireshark.pcap');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/tunaio.ts', 'filter', '--read', file, '--text', 'SIP/2.0', '--rtp', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const streams = lines.filter((l) => l.type === 'rtp_stream');
    expect(lines.slice(0, 4).every((l) => l.type === undefined && l.call_id !== undefined)).toBe(true);
    const t = tsharkStreams(file)[0];
    expect(streams).toHaveLength(1);
    expect(streams[0]).toMatchObject({ src: t.src, dst: t.dst, ssrc: '0x5482ECE0', packets: t.packets, lost: t.lost, max_delta_ms: t.maxDelta, max_jitter_ms: t.maxJitter, mos: null });
    const s = await runFilter({ files: [file], criteria: { text: 'SIP/2.0' }, rtp: true, output: null });
    expect(JSON.parse(streamJson(s.streams[0]))).toEqual(streams[0]);
    expect(r.stderr).toMatch(/rtp 192\.168\.6\.199:57128 -> 192\.168\.6\.199:32976 .* packets=45 expected=45 lost=0 duplicates=0 out_of_order=0/);
  });
});
