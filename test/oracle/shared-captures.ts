// The shared real captures (../shared/pcaps, never copied into the repo) and tshark as the oracle:
// MANIFEST.tsv rows, and tshark's (frame, Call-ID, method, status) per frame for a file.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PCAP_DIR = path.resolve(process.cwd(), '../shared/pcaps');

export interface ManifestRow {
  file: string;
  linktype: string;
  sipMsgs: number;
  calls: number;
  notes: string;
}

export function manifest(): ManifestRow[] {
  const lines = readFileSync(path.join(PCAP_DIR, 'MANIFEST.tsv'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const head = lines[0].split('\t');
  const col = (name: string): number => head.indexOf(name);
  return lines.slice(1).map((l) => {
    const c = l.split('\t');
    return {
      file: c[col('file')],
      linktype: c[col('linktype')],
      sipMsgs: Number(c[col('sip_msgs')]),
      calls: Number(c[col('calls(Call-IDs)')]),
      notes: c[col('notes')],
    };
  });
}

/** Per frame: Call-IDs, methods and status codes, each comma-joined as tshark's occurrence=a prints them. */
export type FrameTuples = Map<number, string>;

export const tupleText = (callIds: string[], methods: string[], statuses: string[]): string =>
  `${callIds.join(',')}\t${methods.join(',')}\t${statuses.join(',')}`;

/** `decodeAs`: `-d` rules; `extra`: other tshark options such as `-o tcp.reassemble_out_of_order:TRUE`. */
export async function tsharkSip(file: string, decodeAs: string[] = [], extra: string[] = []): Promise<FrameTuples> {
  const args = ['-r', file, ...extra, ...decodeAs.flatMap((d) => ['-d', d]), '-Y', 'sip', '-T', 'fields', '-E', 'occurrence=a', '-E', 'separator=/t'];
  for (const f of ['frame.number', 'sip.Call-ID', 'sip.Method', 'sip.Status-Code']) args.push('-e', f);
  const { stdout } = await run('tshark', args, { maxBuffer: 256 * 1024 * 1024 });
  const out: FrameTuples = new Map();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const [frame, callId = '', method = '', status = ''] = line.split('\t');
    out.set(Number(frame), `${callId}\t${method}\t${status}`);
  }
  return out;
}

/** Count of SIP messages in tshark's per-frame tuples (one Call-ID occurrence per message). */
export const messageCount = (t: FrameTuples): number => {
  let n = 0;
  for (const v of t.values()) {
    const [calls, methods, statuses] = v.split('\t');
    const m = (methods === '' ? 0 : methods.split(',').length) + (statuses === '' ? 0 : statuses.split(',').length);
    n += Math.max(m, calls === '' ? 0 : 1);
  }
  return n;
};
