// tshark as the oracle over every shared capture (MANIFEST.tsv, so new files are covered): our
// decode pipeline (the one `tunaio decode` runs) must report exactly tshark's (frame, Call-ID,
// method/status) tuples. Differences are only allowed when listed below with their reason, and a
// listed difference that no longer occurs fails too. HEP captures are checked against MANIFEST's
// counts and a byte-exact round trip; the NetMon file must give `unsupported_format`.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCaptureFile } from '../../src/cli/commands/decode.js';
import type { SipRow } from '../../src/protocol/decode-pipeline.js';
import { readCaptureFile } from '../../src/protocol/capture-file.js';
import { Dissector } from '../../src/protocol/dissector.js';
import { isParseError } from '../../src/protocol/errors.js';
import { decodeHep, encodeHep, looksLikeHep } from '../../src/protocol/hep.js';
import { manifest, messageCount, PCAP_DIR, tsharkSip, tupleText } from './shared-captures.js';
import type { FrameTuples } from './shared-captures.js';

const run = promisify(execFile);

/** `-d` decode-as rules, only where MANIFEST says tshark needs them (none of the current files does). */
const DECODE_AS: Record<string, string[]> = {};

/**
 * Known, explained differences, keyed `file#frame`. Currently empty: every shared capture agrees
 * with tshark 4.0 frame by frame (including the bit-flipped aaa copy, where both sides keep UDP
 * datagrams whose length field exceeds the IP payload, and skip the 29 bogus IP fragments).
 */
const ALLOWED: Record<string, string> = {};

interface Figure {
  file: string;
  ours: number | string;
  tshark: number | string;
  manifest: number;
  explained: string;
}
const figures: Figure[] = [];

function ourTuples(rows: SipRow[]): FrameTuples {
  const by = new Map<number, SipRow[]>();
  for (const r of rows) {
    const l = by.get(r.frame);
    if (l) l.push(r);
    else by.set(r.frame, [r]);
  }
  const out: FrameTuples = new Map();
  for (const [frame, l] of by) {
    out.set(
      frame,
      tupleText(
        l.map((r) => r.callId ?? ''),
        l.filter((r) => r.method !== undefined).map((r) => r.method!),
        l.filter((r) => r.status !== undefined).map((r) => String(r.status)),
      ),
    );
  }
  return out;
}

const short = (s: string | undefined): string => (s === undefined ? '(no SIP)' : s.length > 160 ? `${s.slice(0, 160)}…` : s);

const rows = manifest();

describe.concurrent('tshark oracle over every shared capture', () => {
  it('MANIFEST lists the capture files that are there', () => {
    expect(rows.length).toBeGreaterThanOrEqual(19);
  });

  for (const m of rows) {
    const file = path.join(PCAP_DIR, m.file);
    const isNetMon = m.notes.includes('NetMon') && m.linktype.includes('NetMon');
    const isHep = m.notes.includes('HEP3') || m.file.startsWith('hep');

    it(`${m.file}`, async () => {
      const ours: SipRow[] = [];
      const { status, pipeline } = await decodeCaptureFile(file, (r) => ours.push(r));

      if (isNetMon) {
        expect(status.error?.code).toBe('unsupported_format');
        expect(status.error?.message).toMatch(/NetMon 2\.x/);
        expect(ours).toHaveLength(0);
        const t = await tsharkSip(file);
        figures.push({ file: m.file, ours: 'unsupported_format', tshark: messageCount(t), manifest: m.sipMsgs, explained: 'NetMon 2.x file format: not read (convert with editcap -F pcap)' });
        return;
      }
      expect(status.error).toBeUndefined();
      expect(status.truncated).toBe(false);

      if (isHep) {
        // tshark has no HEP dissector: MANIFEST's counts, and encode(decode(bytes)) == bytes
        expect(ours.filter((r) => r.hep === true)).toHaveLength(m.sipMsgs);
        expect(new Set(ours.map((r) => r.callId)).size).toBe(m.calls);
        const { records } = readCaptureFile(readFileSync(file));
        const d = new Dissector();
        let hepPackets = 0;
        for (const rec of records) {
          for (const u of d.push(rec)) {
            if (!looksLikeHep(u.payload)) continue;
            const h = decodeHep(u.payload);
            if (isParseError(h)) throw new Error(`frame ${u.frame}: ${h.message}`);
            expect(encodeHep(h).equals(u.payload)).toBe(true);
            hepPackets++;
          }
        }
        expect(hepPackets).toBe(pipeline.hepPackets);
        expect(hepPackets).toBeGreaterThanOrEqual(m.sipMsgs);
        const t = await tsharkSip(file);
        figures.push({ file: m.file, ours: ours.length, tshark: messageCount(t), manifest: m.sipMsgs, explained: `tshark has no HEP dissector; ${hepPackets} HEP packets round-trip byte-exact` });
        return;
      }

      const theirs = await tsharkSip(file, DECODE_AS[m.file] ?? []);
      const mine = ourTuples(ours);
      const unexplained: string[] = [];
      const explained: string[] = [];
      const frames = [...new Set([...mine.keys(), ...theirs.keys()])].sort((a, b) => a - b);
      for (const f of frames) {
        const a = mine.get(f);
        const b = theirs.get(f);
        if (a === b) continue;
        const reason = ALLOWED[`${m.file}#${f}`];
        if (reason !== undefined) explained.push(`frame ${f}: ${reason}`);
        else unexplained.push(`frame ${f}: ours ${short(a)} | tshark ${short(b)}`);
      }
      const stale = Object.keys(ALLOWED)
        .filter((k) => k.startsWith(`${m.file}#`))
        .filter((k) => mine.get(Number(k.split('#')[1])) === theirs.get(Number(k.split('#')[1])));
      figures.push({ file: m.file, ours: ours.length, tshark: messageCount(theirs), manifest: m.sipMsgs, explained: explained.join('; ') || '-' });
      expect(unexplained, 'differences from tshark without a listed reason').toEqual([]);
      expect(stale, 'allow-listed differences that no longer occur').toEqual([]);
      if (m.file.includes('tls5061')) expect(ours).toHaveLength(0);
    });
  }

  afterAll(() => {
    const w = Math.max(...figures.map((f) => f.file.length));
    const lines = [
      `${'file'.padEnd(w)}  ours  tshark  manifest  explained differences`,
      ...figures
        .sort((a, b) => a.file.localeCompare(b.file))
        .map((f) => `${f.file.padEnd(w)}  ${String(f.ours).padStart(4)}  ${String(f.tshark).padStart(6)}  ${String(f.manifest).padStart(8)}  ${f.explained}`),
    ];
    console.log(lines.join('\n'));
  });
});

describe('tunaio decode (CLI process)', () => {
  const cli = ['--import', 'tsx', 'src/cli/tunaio.ts', 'decode'];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tunaio-decode-'));
  const spawn = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run('node', [...cli, ...args], { maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  };

  it('exit 0 and one JSON line per SIP message', async () => {
    const r = await spawn(['--json', path.join(PCAP_DIR, 'sip_websocket_and_udp_b2bua_407__heplify.pcap')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(39);
    expect(lines.filter((l) => l.transport === 'ws').length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['frame', 'ts', 'src', 'dst', 'transport', 'call_id', 'cseq']));
      expect(typeof l.ts).toBe('number');
    }
  });

  it('text mode: ISO time with microseconds, IPv6 in brackets', async () => {
    const r = await spawn([path.join(PCAP_DIR, 'sip_ipv6_udp_basic-call__heplify.pcap')]);
    expect(r.code).toBe(0);
    const first = r.stdout.split('\n')[0];
    expect(first).toMatch(/^1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[fe80::[0-9a-f:]+\]:5060 -> \[fec0::[0-9a-f:]+\]:5060 udp INVITE cseq="1 INVITE" call_id=\S+$/);
  });

  it('exit 2 with a one-line reason for NetMon, random bytes and a missing file', async () => {
    const random = path.join(tmp, 'random.bin');
    writeFileSync(random, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff)));
    for (const [f, re] of [
      [path.join(PCAP_DIR, 'sip_protos-c07-fuzz_netmon2-format__wireshark.cap'), /NetMon 2\.x capture: not supported/],
      [random, /not a pcap or pcapng capture/],
      [path.join(tmp, 'missing.pcap'), /cannot read: ENOENT/],
    ] as const) {
      const r = await spawn([f]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });

  it('a truncated capture prints what it decoded, then warns with the offset', async () => {
    const src = readFileSync(path.join(PCAP_DIR, 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap'));
    const cut = path.join(tmp, 'cut.pcap');
    writeFileSync(cut, src.subarray(0, Math.floor(src.length / 2) + 3));
    const r = await spawn([cut]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThan(10);
    expect(r.stderr).toMatch(/warning: capture truncated at byte \d+/);
  });
});
