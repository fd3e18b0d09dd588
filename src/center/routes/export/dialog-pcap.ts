// dialog.pcap (issue 14): the packets of one call only, as one classic pcap, for a ticket that is about
// one call among hundreds. Shared by the operator route and the share link.
// How a packet is known to belong to the call: every record of a session's pcap files was written for
// one stored event (pcap/recorder.ts), with that event's agent and capture time (µs). The call's events
// (its SIP messages, its RTP/RTCP samples, on an index: /events?call_id=) give the set of (agent, time)
// keys; the session's files are read once, record by record, and the records with a key are kept, in
// time order. Two events of one agent may share a capture time (another call's packet in the same
// microsecond): where a file has more records of a key than the call has events of it, only those
// holding one of the call's Call-IDs are kept. Bounded: at most DIALOG_PCAP_EVENTS_MAX events and DIALOG_PCAP_BYTES_MAX bytes of
// packets, else 413 naming export.tar; what was cut is never left out silently.
import type { FastifyReply } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import { exportName } from '../../../core/export-name.js';
import { PCAP_GLOBAL_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES } from '../../../protocol/pcap-writer.js';
import type { CenterContext } from '../../context.js';
import { globalHeader } from '../../pcap/store.js';
import type { PcapFile } from '../../pcap/store.js';
import type { SessionRecord } from '../../storage/types.js';
import { eventsQuerySchema } from '../sessions/dialogs.js';
import { gone } from './tar.js';

export const DIALOG_PCAP_EVENTS_MAX = 50_000;
export const DIALOG_PCAP_BYTES_MAX = 64 * 1024 * 1024;

/** `call_id`: the call's Call-ID, or its linked legs comma-separated (as /events?call_id=) */
export const dialogPcapQuerySchema = z.object({ call_id: eventsQuerySchema.shape.call_id.unwrap() }).strict();

interface Kept {
  tsUs: number;
  linkType: number;
  /** record header and frame, as in the session's file */
  bytes: Buffer;
}

const key = (agentId: number, tsUs: number): string => `${agentId}/${tsUs}`;

/** How many of the call's events have each (agent, capture time), read page by page on the call index. */
async function callKeys(ctx: CenterContext, sessionId: string, callIds: string[]): Promise<Map<string, number>> {
  const keys = new Map<string, number>();
  let after = 0;
  let seen = 0;
  for (;;) {
    const page = await ctx.storage.listEvents(sessionId, after, 1000, { call_ids: callIds });
    for (const e of page.events) keys.set(key(e.agent_id, e.ts), (keys.get(key(e.agent_id, e.ts)) ?? 0) + 1);
    seen += page.events.length;
    if (seen > DIALOG_PCAP_EVENTS_MAX) {
      throw new TunaError('payload_too_large', `this call has more than ${DIALOG_PCAP_EVENTS_MAX} events: take the session's export.tar`);
    }
    if (!page.more || page.events.length === 0) return keys;
    after = page.events[page.events.length - 1].id;
  }
}

/** Reads one file of a snapshot record by record and keeps the records whose key is in `keys`. */
function keepRecords(
  ctx: CenterContext,
  s: SessionRecord,
  file: PcapFile,
  keys: Map<string, number>,
  callIds: string[],
  out: Kept[],
  budget: { bytes: number },
): Promise<void> {
  const candidates = new Map<string, Kept[]>();
  return new Promise((resolve, reject) => {
    const src = ctx.pcap.store.open(s.id, file);
    let buf: Buffer = Buffer.alloc(0);
    let skipHeader = PCAP_GLOBAL_HEADER_BYTES;
    src.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let off = 0;
      if (skipHeader > 0) {
        const n = Math.min(skipHeader, buf.length);
        skipHeader -= n;
        off = n;
      }
      while (buf.length - off >= PCAP_RECORD_HEADER_BYTES) {
        const caplen = buf.readUInt32LE(off + 8);
        const size = PCAP_RECORD_HEADER_BYTES + caplen;
        if (buf.length - off < size) break;
        const tsUs = buf.readUInt32LE(off) * 1_000_000 + buf.readUInt32LE(off + 4);
        const k = key(file.agentId, tsUs);
        if (keys.has(k)) {
          budget.bytes -= size;
          if (budget.bytes < 0) {
            src.destroy();
            reject(new TunaError('payload_too_large', `this call's packets are more than ${DIALOG_PCAP_BYTES_MAX} bytes: take the session's export.tar`));
            return;
          }
          const list = candidates.get(k) ?? [];
          list.push({ tsUs, linkType: file.linkType, bytes: Buffer.from(buf.subarray(off, off + size)) });
          candidates.set(k, list);
        }
        off += size;
      }
      buf = buf.subarray(off);
    });
    src.on('end', () => {
      const ids = callIds.map((id) => Buffer.from(id, 'utf8'));
      for (const [k, list] of candidates) {
        // more records than the call's events of this key: another call's packet shares the time
        out.push(...(list.length <= (keys.get(k) ?? 0) ? list : list.filter((r) => ids.some((id) => r.bytes.includes(id, PCAP_RECORD_HEADER_BYTES)))));
      }
      resolve();
    });
    src.on('error', reject);
  });
}

/** The call's packets; 404 `no_packets` when it has none, 409 when they span link types (one pcap holds one). */
export async function dialogPcap(ctx: CenterContext, s: SessionRecord, callIds: string[]): Promise<{ bytes: Buffer; packets: number }> {
  if (s.pcap_deleted_at !== null) throw gone(s, ctx.config.pcapRetentionHours);
  if (!s.capture_pcap) throw new TunaError('no_packets', `session ${s.id} was started without capture_pcap, so it kept no packets to export`);
  const keys = await callKeys(ctx, s.id, callIds);
  if (keys.size === 0) throw new TunaError('not_found', `session ${s.id} has no call with Call-ID ${JSON.stringify(callIds.join(','))}`);
  const files = (await ctx.serial(() => ctx.pcap.store.snapshot(s.id))).filter((f) => f.bytes > PCAP_GLOBAL_HEADER_BYTES);
  const kept: Kept[] = [];
  const budget = { bytes: DIALOG_PCAP_BYTES_MAX };
  for (const f of files) await keepRecords(ctx, s, f, keys, callIds, kept, budget);
  if (kept.length === 0) throw new TunaError('no_packets', `the call ${JSON.stringify(callIds[0])} has no packets in session ${s.id}`);
  const linkTypes = new Set(kept.map((k) => k.linkType));
  if (linkTypes.size > 1) {
    throw new TunaError(
      'conflict',
      `this call's packets were captured on ${linkTypes.size} link types (${[...linkTypes].join(', ')}) and one pcap holds one: take the session's export.tar, which has a file per link type`,
    );
  }
  // stable: records of one time keep the order of their files
  kept.sort((a, b) => a.tsUs - b.tsUs);
  return { bytes: Buffer.concat([globalHeader(kept[0].linkType), ...kept.map((k) => k.bytes)]), packets: kept.length };
}

/** `<label>-<Call-ID>-<session id>.pcap`, as the UI names its PNG and SVG */
export const dialogPcapName = (s: Pick<SessionRecord, 'label' | 'id'>, callId: string): string => exportName(s.label, s.id, callId, 'pcap');

export async function sendDialogPcap(ctx: CenterContext, reply: FastifyReply, s: SessionRecord, query: unknown): Promise<FastifyReply> {
  const { call_id } = dialogPcapQuerySchema.parse(query);
  const { bytes, packets } = await dialogPcap(ctx, s, call_id);
  return reply
    .header('content-type', 'application/vnd.tcpdump.pcap')
    .header('content-disposition', `attachment; filename="${dialogPcapName(s, call_id[0])}"`)
    .header('x-tunaio-packets', String(packets))
    .send(bytes);
}
