// `tunaio filter` end to end on the shared captures, with tshark as the oracle: the written pcap,
// read back by tshark, holds exactly the frames of the chosen dialog (from the first match on).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFilter } from '../../src/cli/commands/filter.js';
import { manifest, PCAPS, sipFrames, tshark } from './tshark.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'tunaio-filter-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const out = (): string => path.join(tmp, `out-${++n}.pcap`);

// Captures where the one-dialog check cannot apply, with the reason.
const NOT_APPLICABLE: Record<string, string> = {
  'sip_protos-c07-fuzz_netmon2-format__wireshark.cap': 'NetMon 2.x: not a pcap; the reader refuses it (exit 2 tested below)',
  'sip_tls5061_encrypted_no-keys__sngrep.pcap': 'TLS without keys: no SIP to pick',
  'hep3_udp9060_sip_rtcp-json_log__hepgen.pcap': 'HEP inside UDP: tshark has no HEP dissector (checked separately below)',
};

// Frames written correctly whose SIP tshark cannot decode from the output pcap alone, with the reason.
// The test fails if the count changes, so an entry that no longer applies is noticed.
const UNDECODABLE_ALONE: Record<string, { frames: number; reason: string }> = {
  'sip_websocket_and_udp_b2bua_407__heplify.pcap': {
    frames: 11,
    reason: 'SIP over WebSocket: tshark needs the HTTP Upgrade exchange, which belongs to no dialog and is not written',
  },
  'sip_sctp_invite-403_sll__heplify.pcap': {
    frames: 1,
    reason: 'the INVITE spans two SCTP DATA fragments; the filter writes the frame that completes a message, not the first fragment',
  },
};

// Captures where the chosen dialog is one leg of a B2BUA call: its other leg is captured too (issue 13;
// linked by number and time, see test/match/b2bua-replay.test.ts), with the reason.
const LINKED_LEG: Record<string, { callId: string; reason: string }> = {
  'sip_websocket_and_udp_b2bua_407__heplify.pcap': {
    callId: '926ffd16-6154-1237-09ba-0270b3230128',
    reason: "FreeSWITCH's B leg, sent 28 ms after it received the A-leg INVITE, to the same number",
  },
};

describe('filter --call-id on every shared capture (tshark oracle)', () => {
  const rows = manifest();
  const table: string[] = [];
  afterAll(() => console.log(`filter --call-id per capture (dialog frames in input / written / tshark reads in output):\n${table.join('\n')}`));
  for (const row of rows) {
    const why = NOT_APPLICABLE[row.file];
    it.skipIf(why !== undefined)(`${row.file}`, async () => {
      const file = path.join(PCAPS, row.file);
      const frames = sipFrames(file);
      // The dialog with the most frames (a non-empty Call-ID).
      const count = new Map<string, number>();
      for (const f of frames) for (const id of new Set(f.callIds)) if (id !== '') count.set(id, (count.get(id) ?? 0) + 1);
      const [callId] = [...count.entries()].sort((a, b) => b[1] - a[1])[0];
      const leg = LINKED_LEG[row.file]?.callId;
      const ofCall = (ids: string[]): boolean => ids.includes(callId) || (leg !== undefined && ids.includes(leg));
      const expected = frames.filter((f) => ofCall(f.callIds)).map((f) => f.time);
      const o = out();
      const s = await runFilter({ files: [file], criteria: { call_id: callId }, write: o, output: null });
      const written = tshark(['-r', o, '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n').filter(Boolean);
      const got = sipFrames(o);
      table.push(`  ${row.file}: ${callId} ${expected.length} / ${s.written} / ${got.length}`);
      expect(s.problems.filter((p) => p.fatal)).toEqual([]);
      // Exactly the frames of that dialog were written, none missing, none foreign.
      expect(s.written).toBe(expected.length);
      expect(written).toEqual(expected);
      for (const f of got) expect(f.callIds.every((id) => id === callId || id === leg)).toBe(true);
      // tshark decodes the SIP of every written frame, except where a frame alone cannot be decoded.
      const undecodable = expected.length - got.length;
      expect(undecodable).toBe(UNDECODABLE_ALONE[row.file]?.frames ?? 0);
      // Byte-identical frames, original link type.
      const inLink = tshark(['-r', file, '-T', 'fields', '-e', 'frame.encap_type', '-c', '1']).trim();
      const outLink = tshark(['-r', o, '-T', 'fields', '-e', 'frame.encap_type', '-c', '1']).trim();
      expect(outLink).toBe(inLink);
    });
  }
});

describe('filter: criteria vs tshark', () => {
  it('--from on aaa: exactly the frames tshark shows with that From user (REGISTERs and an INVITE)', async () => {
    const file = path.join(PCAPS, 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap');
    const o = out();
    const s = await runFilter({ files: [file], criteria: { from: 'voi18062' }, write: o, output: null });
    // The REGISTER Call-ID is shared with other identities (voi18063, 35104723); their transactions
    // come more than the 5 s linger after a voi18062 transaction ended, so they are not taken.
    const expected = sipFrames(file, 'sip.from.user == "voi18062"').map((f) => f.time);
    expect(expected.length).toBe(21);
    expect(s.matchedSip).toBe(21);
    expect(sipFrames(o).map((f) => f.time)).toEqual(expected);
  });

  it('--to with a national number on aaa matches 97239287044 and 0097239287044 alike', async () => {
    const file = path.join(PCAPS, 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap');
    const o = out();
    await runFilter({ files: [file], criteria: { to: '97239287044' }, write: o, output: null });
    const expected = sipFrames(file, 'sip.to.user == "97239287044" || sip.to.user == "0097239287044"').map((f) => f.time);
    expect(expected.length).toBe(33);
    expect(sipFrames(o).map((f) => f.time)).toEqual(expected);
    // …and nothing where that number is the caller.
    const none = await runFilter({ files: [file], criteria: { from: '97239287044' }, output: null });
    expect(none.matchedSip).toBe(0);
  });

  it('--from with a national number on nb6 matches the international From (+33…)', async () => {
    const file = path.join(PCAPS, 'sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap');
    const o = out();
    const s = await runFilter({ files: [file], criteria: { from: '03 60 65 36 74' }, write: o, output: null });
    const expected = sipFrames(file, 'sip.from.user contains "360653674"').map((f) => f.time);
    expect(expected.length).toBe(7);
    expect(sipFrames(o).map((f) => f.time)).toEqual(expected);
    expect(s.matchedMedia).toBe(0);
  });

  it('direction rule on magicjack: the call is TO 9055551212, so --from 9055551212 takes nothing', async () => {
    const file = path.join(PCAPS, 'sip_udp_magicjack_invite-401_rtp__wireshark.pcap');
    // tshark: some frames carry From 9055551212 (the callee's BYE and its answer).
    expect(sipFrames(file, 'sip.from.user contains "9055551212"').length).toBeGreaterThan(0);
    const a = await runFilter({ files: [file], criteria: { from: '9055551212' }, output: null });
    expect(a.matchedSip).toBe(0);
    const b = await runFilter({ files: [file], criteria: { to: '+1 905 555 1212' }, output: null });
    expect(b.matchedSip).toBe(sipFrames(file).length);
  });

  it('--rtp on nb6: the written pcap holds the SIP and every RTP packet of the call', async () => {
    const file = path.join(PCAPS, 'sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap');
    const o = out();
    const s = await runFilter({ files: [file], criteria: { to: '147' }, rtp: true, write: o, output: null });
    const rtpIn = tshark(['-r', file, '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp', '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n');
    const rtpOut = tshark(['-r', o, '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp', '-T', 'fields', '-e', 'frame.time_epoch']).trim().split('\n');
    expect(rtpIn.length).toBe(509);
    expect(rtpOut).toEqual(rtpIn);
    expect(sipFrames(o).length).toBe(7);
    expect(s.streams.map((e) => e.stats.packets).sort()).toEqual([248, 261]);
  });

  it('without --rtp no media is written', async () => {
    const file = path.join(PCAPS, 'sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap');
    const o = out();
    const s = await runFilter({ files: [file], criteria: { to: '147' }, write: o, output: null });
    expect(s.written).toBe(7);
    expect(tshark(['-r', o, '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp']).trim()).toBe('');
  });

  it('HEP inside UDP: the SIP inside is matched with the addresses HEP carries', async () => {
    const file = path.join(PCAPS, 'hep3_udp9060_sip_rtcp-json_log__hepgen.pcap');
    const lines: string[] = [];
    const s = await runFilter({ files: [file], criteria: { text: 'SIP/2.0' }, output: 'json', out: (x) => lines.push(x) });
    const rows = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(s.sipMessages).toBe(6);
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.hep === true && Array.isArray(r.sessions))).toBe(true);
  });
});

describe('tunaio filter CLI', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/tunaio.ts', 'filter', ...args], { encoding: 'utf8', cwd: process.cwd() });

  it('JSON lines carry decode --json keys plus sessions; the summary goes to stderr', () => {
    const file = path.join(PCAPS, 'sip_udp_call_rtp-g722-wideband__wireshark.pcap');
    const r = cli(['--read', file, '--call-id', '1-2161@10.0.2.20', '--json']);
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const decoded = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/tunaio.ts', 'decode', '--json', file], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual(decoded.map((d) => ({ ...d, sessions: ['filter'] })));
    expect(r.stderr).toMatch(/433 packets read .* 6 SIP messages, 6 SIP matched/);
  });

  it('refuses a method-only criteria set like the API (exit 2, same message)', () => {
    const r = cli(['--read', path.join(PCAPS, 'sip_udp_call_rtp-g722-wideband__wireshark.pcap'), '--method', 'INVITE']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('at least one search criterion other than method is required');
  });

  it('rejects a bad provider IP and a missing file with exit 2', () => {
    const f = path.join(PCAPS, 'sip_udp_call_rtp-g722-wideband__wireshark.pcap');
    expect(cli(['--read', f, '--provider-ip', '10.0.0.300']).status).toBe(2);
    expect(cli(['--read', '/nonexistent.pcap', '--text', 'abc']).status).toBe(2);
    const netmon = cli(['--read', path.join(PCAPS, 'sip_protos-c07-fuzz_netmon2-format__wireshark.cap'), '--text', 'abc']);
    expect(netmon.status).toBe(2);
    expect(netmon.stderr).toMatch(/NetMon/);
  });

  it('--write with --provider-ip CIDR writes a pcap tshark reads; several files in one run', () => {
    const o = out();
    const g722 = path.join(PCAPS, 'sip_udp_call_rtp-g722-wideband__wireshark.pcap');
    const nb6 = path.join(PCAPS, 'sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap');
    const r = cli(['--read', g722, nb6, '--provider-ip', '10.0.0.0/8', '--rtp', '--write', o]);
    expect(r.status).toBe(0);
    expect(readFileSync(o).length).toBeGreaterThan(24);
    expect(sipFrames(o).length).toBe(6 + 7);
    expect(r.stderr).toMatch(/rtp 10\.0\.2\.15:17472 -> 10\.0\.2\.20:6000 .* packets=425 expected=425 lost=0/);
  });
});

describe('filter output without a match', () => {
  it('is an empty pcap of the input link type (Linux SLL here)', async () => {
    const o = out();
    const s = await runFilter({ files: [path.join(PCAPS, 'sip_sctp_invite-403_sll__heplify.pcap')], criteria: { call_id: 'none' }, write: o, output: null });
    expect(s.written).toBe(0);
    const b = readFileSync(o);
    expect(b.length).toBe(24);
    expect(b.readUInt32LE(20)).toBe(113);
  });
});
