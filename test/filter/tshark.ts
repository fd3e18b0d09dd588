// tshark as the oracle for the filter tests (MACHINE-NOTES: tshark 4.0; it prints a root warning on
// stderr, ignored here).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');

export function tshark(args: string[]): string {
  return execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
}

/** One row per frame with SIP: capture time (as tshark prints it) and the Call-IDs in it. */
export interface SipFrame {
  frame: number;
  time: string;
  callIds: string[];
  fromUsers: string[];
}

export function sipFrames(file: string, filter = 'sip', extra: string[] = []): SipFrame[] {
  const out = tshark([
    '-r', file, ...extra, '-Y', filter, '-T', 'fields', '-E', 'occurrence=a', '-E', 'separator=/t', '-E', 'aggregator=\u0001',
    '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'sip.Call-ID', '-e', 'sip.from.user',
  ]);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [frame, time, ids, users] = l.split('\t');
      return {
        frame: Number(frame),
        time,
        callIds: ids === '' ? [] : ids.split('\u0001'),
        fromUsers: users === undefined || users === '' ? [] : users.split('\u0001'),
      };
    });
}

export interface ManifestRow {
  file: string;
  linktype: string;
  sipMsgs: number;
  rtpPkts: number;
}

export function manifest(): ManifestRow[] {
  const lines = readFileSync(path.join(PCAPS, 'MANIFEST.tsv'), 'utf8').split('\n').slice(1);
  return lines
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const c = l.split('\t');
      return { file: c[0], linktype: c[4], sipMsgs: Number(c[5]), rtpPkts: Number(c[7]) };
    });
}
