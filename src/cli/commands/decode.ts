// `tunaio decode FILE… [--json]`: every SIP message found in capture files, one line each. Streams
// each file (never reads it whole) through the pure pipeline in protocol/decode-pipeline.ts, which
// the tshark oracle test runs in-process too, and owns the text/JSON line formats and exit codes.
import { closeSync, openSync, readSync } from 'node:fs';
import type { Command } from '../command.js';
import type { CaptureEndStatus } from '../../protocol/capture-file.js';
import { SipDecodePipeline } from '../../protocol/decode-pipeline.js';
import type { SipRow } from '../../protocol/decode-pipeline.js';
import type { DissectorOptions } from '../../protocol/dissector.js';

export { SipDecodePipeline };
export type { SipRow };

export interface DecodeFileResult {
  status: CaptureEndStatus;
  pipeline: SipDecodePipeline;
}

/** input read size: per-read costs vanish, memory stays small whatever the file size */
const READ_CHUNK = 8 << 20;

/** Reads one file through the pipeline, in large synchronous chunks. Rejects only when the file cannot be read. */
export async function decodeCaptureFile(path: string, onRow: (row: SipRow) => void, opts: DissectorOptions = {}): Promise<DecodeFileResult> {
  const pipeline = new SipDecodePipeline(opts);
  const fd = openSync(path, 'r');
  try {
    let chunk = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      const n = readSync(fd, chunk, 0, READ_CHUNK, null);
      if (n === 0) break;
      pipeline.push(n === READ_CHUNK ? chunk : chunk.subarray(0, n), onRow);
      if (pipeline.error?.code === 'unsupported_format') break;
      // Reassembly may point into this chunk (IP fragments, TCP segments held out of order): then
      // the next read goes to a new buffer; otherwise nothing refers to it any more.
      if (pipeline.dissector.bufferedBytes > 0) chunk = Buffer.allocUnsafe(READ_CHUNK);
    }
  } finally {
    closeSync(fd);
  }
  return { status: pipeline.end(), pipeline };
}

/** ISO-8601 UTC with microseconds: 2026-11-26T12:00:00.123456Z */
export function isoMicros(tsUs: number): string {
  const sec = Math.floor(tsUs / 1_000_000);
  const us = tsUs - sec * 1_000_000;
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return String(tsUs);
  return `${d.toISOString().slice(0, 19)}.${String(us).padStart(6, '0')}Z`;
}

/** `arp 44, icmp 2`: what the dissector did not decode, by kind, for the summary lines; '' when nothing. */
export function undecodedText(kinds: Record<string, number>): string {
  return Object.entries(kinds)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

export function formatText(r: SipRow): string {
  const what = r.method !== undefined ? r.method : `${r.status ?? ''} ${r.reason ?? ''}`.trimEnd();
  const transport = r.hep ? `hep/${r.transport}` : r.transport;
  return `${r.frame} ${isoMicros(r.tsUs)} ${r.src} -> ${r.dst} ${transport} ${what} cseq="${r.cseq ?? ''}" call_id=${r.callId ?? ''}`;
}

export function formatJson(r: SipRow): string {
  const o: Record<string, unknown> = { frame: r.frame, ts: r.tsUs, src: r.src, dst: r.dst, transport: r.transport };
  if (r.hep) o.hep = true;
  o.call_id = r.callId ?? null;
  if (r.method !== undefined) o.method = r.method;
  else {
    o.status = r.status ?? null;
    o.reason = r.reason ?? '';
  }
  o.cseq = r.cseq ?? null;
  return JSON.stringify(o);
}

/** One line per file on stderr: what was read, and nothing dropped without a count. */
function summaryLine(file: string, rows: number, p: SipDecodePipeline): string {
  const st = p.dissector.stats;
  let malformed = p.hepErrors + p.sipErrors;
  for (const n of Object.values(st.malformed)) malformed += n;
  const undecoded = undecodedText(st.undecoded);
  return (
    `tunaio decode: ${file}: ${st.packets} packets, ${rows} SIP messages${p.hepPackets > 0 ? ` (${p.hepPackets} HEP packets)` : ''}, ${malformed} malformed` +
    `${undecoded !== '' ? `, not decoded: ${undecoded}` : ''}\n`
  );
}

export const decode: Command = {
  spec: {
    name: 'decode',
    summary: 'print every SIP message in capture files, one line each',
    usage: 'tunaio decode FILE… [--json]',
    positionals: true,
    options: [{ name: 'json', type: 'boolean', help: 'one JSON object per line' }],
  },
  async run(values, positionals) {
    if (positionals.length === 0) {
      process.stderr.write('tunaio decode: give at least one capture file (see tunaio decode --help)\n');
      return 2;
    }
    const fmt = values.json === true ? formatJson : formatText;
    let code = 0;
    for (const file of positionals) {
      let out = '';
      const flush = (): void => {
        if (out.length > 0) process.stdout.write(out);
        out = '';
      };
      let res: DecodeFileResult;
      let rows = 0;
      try {
        res = await decodeCaptureFile(file, (row) => {
          rows++;
          out += fmt(row) + '\n';
          if (out.length > 65536) flush();
        });
      } catch (e) {
        flush();
        const err = e as NodeJS.ErrnoException;
        process.stderr.write(`tunaio decode: ${file}: cannot read: ${err.code ?? err.message}\n`);
        code = 2;
        continue;
      }
      flush();
      const st = res.status;
      if (st.error?.code === 'unsupported_format') {
        process.stderr.write(`tunaio decode: ${file}: ${st.error.message}\n`);
        code = 2;
      } else if (st.truncated) {
        process.stderr.write(`tunaio decode: ${file}: warning: capture truncated at byte ${st.offset ?? st.bytes}: ${st.reason ?? 'file ends early'}\n`);
      }
      if (st.error?.code !== 'unsupported_format') process.stderr.write(summaryLine(file, rows, res.pipeline));
    }
    return code;
  },
};
