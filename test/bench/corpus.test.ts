// The benchmark corpus generator (bench/corpus) writes frames tshark still decodes: rewritten SIP
// with other lengths, IP lengths and checksums recomputed, Content-Length kept right, one Call-ID
// per dialog copy. tshark is the oracle, as for the protocol parsers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcap } from '../../bench/corpus/pcap-io.js';
import { prepareSeed, prng, seedCallIds, writeCopies } from '../../bench/corpus/multiply.js';
import type { CopyPlan } from '../../bench/corpus/multiply.js';
import { fixContentLength } from '../../bench/corpus/rewrite.js';
import { AAA } from '../../bench/corpus/corpora.js';

const dir = mkdtempSync(join(tmpdir(), 'tunaio-corpus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tshark = (args: string[]): string[] =>
  execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 })
    .split('\n')
    .filter((l) => l.length > 0);

describe('corpus generator', () => {
  it('multiplies aaa.pcap into copies tshark decodes, with distinct Call-IDs and a longer body', () => {
    const pc = readPcap(AAA);
    const seed = prepareSeed(pc.packets);
    const cids = seedCallIds(seed);
    expect(cids.length).toBe(6);
    const plans: CopyPlan[] = [0, 1, 2].map((k) => ({
      offsetUs: k * 10_000_000, // overlapping copies: the writer must merge them in time order
      sip: (t) => {
        let out = t;
        for (const c of cids) out = out.split(c).join(`copy${k}-${c}`);
        return out.replace(/^(m=audio )(\d+)/m, (_a, h: string, p: string) => `${h}${Number(p) + 1000 * (k + 1)}`);
      },
      port: (p) => p,
    }));
    const out = join(dir, 'aaa3.pcap');
    const r = writeCopies(out, pc.linkType, seed, plans);
    expect(r.packets).toBe(3 * 691);
    expect(r.sipMessages).toBe(3 * 81);

    const rows = tshark(['-r', out, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID']);
    expect(rows.length).toBe(3 * 81);
    expect(new Set(rows).size).toBe(3 * 6);
    for (const k of [0, 1, 2]) expect(rows.filter((c) => c.startsWith(`copy${k}-`)).length).toBe(81);
    // no bad IP checksum, no malformed packet, no more expert errors than the seed has
    const bad = tshark(['-r', out, '-o', 'ip.check_checksum:TRUE', '-Y', 'ip.checksum.status == "Bad" || _ws.malformed || _ws.expert.severity == "error"']);
    const badSeed = tshark(['-r', AAA, '-o', 'ip.check_checksum:TRUE', '-Y', 'ip.checksum.status == "Bad" || _ws.malformed || _ws.expert.severity == "error"']);
    expect(bad.length).toBe(3 * badSeed.length);
    // timestamps merged in order
    const ts = tshark(['-r', out, '-T', 'fields', '-e', 'frame.time_epoch']).map(Number);
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThanOrEqual(ts[i - 1]);
  });

  it('fixes Content-Length only where it was right before', () => {
    const before = 'INVITE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nabcd';
    expect(fixContentLength(before, before.replace('abcd', 'abcdef'))).toBe('INVITE sip:a@b SIP/2.0\r\nContent-Length: 6\r\n\r\nabcdef');
    const lying = 'INVITE sip:a@b SIP/2.0\r\nl: 9\r\n\r\nabcd';
    expect(fixContentLength(lying, lying.replace('abcd', 'abcdef'))).toBe(lying.replace('abcd', 'abcdef'));
  });

  it('draws the same numbers from the same seed', () => {
    const a = prng(7);
    const b = prng(7);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(new Set(xs).size).toBe(5);
  });
});
