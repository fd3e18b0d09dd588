// The benchmark corpora, built on demand and cached in .bench/corpus keyed by name, seed and
// parameters (never committed). Each comes with its filter criterion, expressed for all three tools
// (tunaio, sngrep, tshark), chosen so that their semantics coincide: a caller number present in
// every message of its dialogs, first message included, and in no other dialog.
//  - aaa1500: the reference: 1500 copies of Wireshark's aaa.pcap (691 frames each, SIP plus
//    DNS/NBNS/ARP/FTP noise and RTP), each copy with distinct Call-IDs, laid one after another in
//    time. In 99 % of copies the caller 816666 of the INVITE/CANCEL dialog is renumbered, so
//    `--from 816666` selects that dialog in 1 % of copies (15 dialogs).
//  - sipp-mixed: a sipp recording on lo (calls, digest registrations, one call with RTP) multiplied
//    to ≥ 1 M packets, about 8 copies overlapping in time; per dialog copy a new Call-ID, caller and
//    callee numbers and media ports (SDP and RTP kept consistent); 1 % of dialogs carry the caller
//    19995550123.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readPcap } from './pcap-io.js';
import { prepareSeed, prng, seedCallIds, writeCopies } from './multiply.js';
import type { CopyPlan } from './multiply.js';
import { CALLEE_USER, MEDIA_HIGH, MEDIA_LOW, recordSeed } from './record.js';

export const REPO = resolve(new URL('../..', import.meta.url).pathname);
export const BENCH_DIR = join(REPO, '.bench');
export const PCAPS = resolve(REPO, '../shared/pcaps');
export const AAA = join(PCAPS, 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap');

export interface Criterion {
  /** `tunaio filter` arguments */
  tunaio: string[];
  /** sngrep match expression (a regular expression on the payload of a dialog's first message) */
  sngrep: string;
  /** tshark display filter */
  tshark: string;
}

export interface CorpusMeta {
  name: string;
  seed: number;
  params: Record<string, number>;
  packets: number;
  sipMessages: number;
  bytes: number;
  criterion: Criterion;
  /** dialogs that carry the criterion */
  matchingDialogs: number;
  description: string;
}

export interface Corpus {
  path: string;
  meta: CorpusMeta;
}

const base36 = (k: number): string => k.toString(36);

function cached(name: string, seed: number, params: Record<string, number>, build: (path: string) => Omit<CorpusMeta, 'name' | 'seed' | 'params' | 'bytes'>): Corpus {
  const dir = join(BENCH_DIR, 'corpus');
  mkdirSync(dir, { recursive: true });
  const key = [name, `s${seed}`, ...Object.entries(params).map(([k, v]) => `${k}${v}`)].join('-');
  const path = join(dir, `${key}.pcap`);
  const metaPath = join(dir, `${key}.json`);
  if (existsSync(path) && existsSync(metaPath)) return { path, meta: JSON.parse(readFileSync(metaPath, 'utf8')) as CorpusMeta };
  const t0 = Date.now();
  const part = `${path}.part`;
  const m = build(part);
  renameSync(part, path);
  const meta: CorpusMeta = { name, seed, params, bytes: readFileSync(path).length, ...m };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
  process.stderr.write(`corpus ${key}: ${meta.packets} packets, ${meta.sipMessages} SIP, built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return { path, meta };
}

export function aaa1500(seed = 1, copies = 1500): Corpus {
  return cached('aaa', seed, { x: copies }, (path) => {
    const pc = readPcap(AAA);
    const pk = prepareSeed(pc.packets);
    const span = pk[pk.length - 1].tsUs - pk[0].tsUs;
    const cids = seedCallIds(pk);
    const CALLER = '816666';
    const rnd = prng(seed);
    let matching = 0;
    const plans: CopyPlan[] = [];
    for (let k = 0; k < copies; k++) {
      const keep = k % 100 === 0;
      if (keep) matching++;
      // 99 %: a 6-digit caller that cannot contain 816666 (it starts with 7)
      const other = `7${String(Math.floor(rnd() * 100000)).padStart(5, '0')}`;
      const prefix = `x${base36(k)}.`;
      plans.push({
        offsetUs: k * (span + 1_000_000),
        sip: (text) => {
          let t = text;
          for (const c of cids) if (t.includes(c)) t = t.split(c).join(prefix + c);
          return keep ? t : t.split(CALLER).join(other);
        },
        port: (p) => p,
      });
    }
    const r = writeCopies(path, pc.linkType, pk, plans);
    return {
      ...r,
      criterion: { tunaio: ['--from', CALLER], sngrep: CALLER, tshark: `sip.from.user == "${CALLER}"` },
      matchingDialogs: matching,
      description: `${copies} copies of aaa.pcap, distinct Call-IDs; caller ${CALLER} kept in 1 % of copies`,
    };
  });
}

export const SEED_RECORDING_OPTS = { calls: 40, registrations: 12 };

export async function seedRecording(): Promise<string> {
  const out = join(BENCH_DIR, 'seed', `sipp-c${SEED_RECORDING_OPTS.calls}-r${SEED_RECORDING_OPTS.registrations}.pcap`);
  if (!existsSync(out)) {
    process.stderr.write('recording the sipp seed capture on lo (about 15 s)…\n');
    await recordSeed(join(BENCH_DIR, 'seed', 'work'), out, SEED_RECORDING_OPTS);
  }
  return out;
}

export async function sippMixed(seed = 1, minPackets = 1_000_000, matchPercent = 1): Promise<Corpus> {
  const recording = await seedRecording();
  return cached('sipp-mixed', seed, { p: minPackets, m: matchPercent }, (path) => {
    const pc = readPcap(recording);
    const pk = prepareSeed(pc.packets);
    if (pk.length === 0) throw new Error(`${recording}: empty recording`);
    const span = pk[pk.length - 1].tsUs - pk[0].tsUs;
    const cids = seedCallIds(pk);
    const copies = Math.ceil(minPackets / pk.length);
    const CRITERION = '19995550123';
    const rnd = prng(seed);
    const num = (prefix: string): string => prefix + String(Math.floor(rnd() * 1e7)).padStart(7, '0');
    let matching = 0;
    const plans: CopyPlan[] = [];
    const USER = /(sips?:)([^@;>\s:]+)@/g;
    const MEDIA = /^(m=\w+ |a=rtcp:)(\d+)/gm;
    for (let k = 0; k < copies; k++) {
      const dialogs = new Map<string, { caller: string; callee: string; cid: string }>();
      for (const c of cids) {
        const hit = rnd() < matchPercent / 100;
        if (hit) matching++;
        dialogs.set(c, { caller: hit ? CRITERION : num('1555'), callee: num('1666'), cid: `${base36(k)}.${c}` });
      }
      const mediaBase = 20000 + (k % 100) * 400;
      const port = (p: number): number => (p >= MEDIA_LOW && p <= MEDIA_HIGH ? mediaBase + (p - MEDIA_LOW) : p);
      plans.push({
        offsetUs: Math.floor((k * span) / 8),
        sip: (text, callId) => {
          const d = callId === undefined ? undefined : dialogs.get(callId);
          if (d === undefined || callId === undefined) return text;
          return text
            .split(callId)
            .join(d.cid)
            .replace(USER, (_a, scheme: string, user: string) => `${scheme}${user === CALLEE_USER ? d.callee : d.caller}@`)
            .replace(MEDIA, (_a, head: string, p: string) => `${head}${port(Number(p))}`);
        },
        port,
      });
    }
    const r = writeCopies(path, pc.linkType, pk, plans);
    return {
      ...r,
      criterion: { tunaio: ['--from', CRITERION], sngrep: CRITERION, tshark: `sip.from.user == "${CRITERION}"` },
      matchingDialogs: matching,
      description: `${copies} copies of a sipp recording (${pk.length} packets: ${SEED_RECORDING_OPTS.calls} calls, ${SEED_RECORDING_OPTS.registrations} digest registrations, 1 call with RTP), ~8 overlapping; ${matchPercent} % of dialogs from ${CRITERION}`,
    };
  });
}

export async function corpusByName(name: string): Promise<Corpus> {
  if (name === 'aaa1500') return aaa1500();
  if (name === 'sipp-mixed') return sippMixed();
  throw new Error(`unknown corpus ${name} (aaa1500, sipp-mixed)`);
}
