// export.tar (DESIGN §3): the session's packets as one classic pcap per agent (`<agent-name>.pcap`)
// plus `session.json` (metadata, criteria, per-agent counters and what each file holds), streamed with
// tar-stream. Shared by the operator route and the share link (both see the same allow-listed JSON).
// - 410 `gone` once PCAP retention deleted the packets; 404 `no_packets` when there are none.
// - A running session exports a consistent snapshot: the file sizes are taken inside the serial
//   ingest step (whole records only) and each file is read up to that size, whatever arrives later.
import { exportName } from '../../../core/export-name.js';
import type { FastifyReply } from 'fastify';
import tar from 'tar-stream';
import { TunaError } from '../../../core/errors.js';
import { isoTime } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { PCAP_GLOBAL_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES } from '../../../protocol/pcap-writer.js';
import type { PcapFile } from '../../pcap/store.js';
import type { SessionAgentRecord, SessionRecord } from '../../storage/types.js';

/** Counts pcap records in a byte stream fed in arbitrary chunks (record header: ts, ts, caplen, len). */
export class RecordCounter {
  count = 0;
  private skip = PCAP_GLOBAL_HEADER_BYTES;
  private carry: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const take = chunk.subarray(off, off + PCAP_RECORD_HEADER_BYTES - this.carry.length);
      off += take.length;
      this.carry = Buffer.concat([this.carry, take]);
      if (this.carry.length === PCAP_RECORD_HEADER_BYTES) {
        this.count++;
        this.skip = this.carry.readUInt32LE(8);
        this.carry = Buffer.alloc(0);
      }
    }
  }
}

/** A file-system and archive-safe name: letters, digits, dot, dash, underscore. */
export const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_').slice(0, 100) || 'agent';

interface Entry {
  name: string;
  file: PcapFile;
  agent: SessionAgentRecord | undefined;
}

function entryNames(files: PcapFile[], agents: SessionAgentRecord[]): Entry[] {
  const byId = new Map(agents.map((a) => [a.agent_id, a]));
  const used = new Set<string>(['session.json']);
  return files.map((file) => {
    const agent = byId.get(file.agentId);
    const base = safeName(agent?.name ?? `agent-${file.agentId}`);
    const suffix = file.primary ? '' : `.lt${file.linkType}`;
    let name = `${base}${suffix}.pcap`;
    if (used.has(name)) name = `${base}-${file.agentId}${suffix}.pcap`;
    used.add(name);
    return { name, file, agent };
  });
}

export function gone(s: SessionRecord, pcapRetentionHours: number): TunaError {
  return new TunaError(
    'gone',
    `the packets of session ${s.id} were deleted by PCAP retention at ${isoTime(s.pcap_deleted_at ?? 0)} ` +
      `(packets are kept ${pcapRetentionHours} h after a session ends); its events can still be listed`,
  );
}

/** `share`: the tar a share link serves, whose session.json leaves out the agents' failure reasons (they name hosts). */
export type ExportAudience = 'operator' | 'share';

/** At most this many call state / route events go into session.json. */
export const EXPORT_CALL_EVENTS_MAX = 10_000;

/** The session's callstate and route events, in id order, read page by page (bounded). */
async function callMetaEvents(ctx: CenterContext, sessionId: string): Promise<unknown[]> {
  const out: unknown[] = [];
  let after = 0;
  for (;;) {
    const page = await ctx.storage.listEvents(sessionId, after, 1000);
    for (const e of page.events) {
      if ((e.kind === 'callstate' || e.kind === 'route') && out.length < EXPORT_CALL_EVENTS_MAX) {
        out.push({ id: e.id, agent_id: e.agent_id, ts: e.ts, kind: e.kind, call_id: e.call_id, callstate: e.callstate, route: e.route, payload: e.payload });
      }
      after = e.id;
    }
    if (!page.more || page.events.length === 0 || out.length >= EXPORT_CALL_EVENTS_MAX) return out;
  }
}

export async function sendExportTar(
  ctx: CenterContext,
  reply: FastifyReply,
  s: SessionRecord,
  audience: ExportAudience = 'operator',
): Promise<FastifyReply> {
  if (s.pcap_deleted_at !== null) throw gone(s, ctx.config.pcapRetentionHours);
  if (!s.capture_pcap) {
    throw new TunaError('no_packets', `session ${s.id} was started without capture_pcap, so it kept no packets to export`);
  }
  const snapshotAt = ctx.config.now();
  const files = (await ctx.serial(() => ctx.pcap.store.snapshot(s.id))).filter((f) => f.bytes > PCAP_GLOBAL_HEADER_BYTES);
  if (files.length === 0) {
    throw new TunaError(
      'no_packets',
      `session ${s.id} has no packets${s.status === 'running' ? ' yet' : ''}: no agent sent a packet matching its criteria`,
    );
  }
  const agents = await ctx.storage.getSessionAgents(s.id);
  const counts = await ctx.storage.countEventsByKind(s.id);
  const callEvents = counts.callstate + counts.route > 0 ? await callMetaEvents(ctx, s.id) : [];
  const entries = entryNames(files, agents);
  const pack = tar.pack();
  const mtime = new Date(snapshotAt);

  // The response is the one signal that always comes when the client leaves: whatever the pack
  // stream does, the file being read is released then.
  let reading: { destroy(): void } | null = null;
  reply.raw.once('close', () => {
    reading?.destroy();
    if (!pack.destroyed) pack.destroy();
  });
  const write = async (): Promise<void> => {
    const written: { name: string; agent_id: number; link_type: number; packets: number; bytes: number }[] = [];
    for (const e of entries) {
      const counter = new RecordCounter();
      await new Promise<void>((resolve, reject) => {
        const src = ctx.pcap.store.open(s.id, e.file);
        reading = src;
        // the client went away: the pack is destroyed and the entry never completes
        const onClose = (): void => {
          src.destroy();
          reject(new Error('the client closed the export'));
        };
        // the pack may already be gone (the client left between two entries)
        if (pack.destroyed) {
          onClose();
          return;
        }
        pack.once('close', onClose);
        const entry = pack.entry({ name: e.name, size: e.file.bytes, mtime, mode: 0o644 }, (err) => {
          pack.off('close', onClose);
          if (err) {
            src.destroy();
            reject(err);
          } else resolve();
        });
        src.on('data', (chunk: Buffer) => {
          counter.feed(chunk);
          if (!entry.write(chunk)) {
            src.pause();
            entry.once('drain', () => src.resume());
          }
        });
        src.on('end', () => entry.end(undefined));
        src.on('error', (err) => {
          entry.destroy(err);
          reject(err);
        });
      });
      written.push({ name: e.name, agent_id: e.file.agentId, link_type: e.file.linkType, packets: counter.count, bytes: e.file.bytes });
    }
    const meta = {
      format: 'tunaio-export/1',
      snapshot_at: isoTime(snapshotAt),
      session: {
        id: s.id,
        label: s.label,
        status: s.status,
        created_at: isoTime(s.created_at),
        expires_at: isoTime(s.expires_at),
        stopped_at: s.stopped_at === null ? null : isoTime(s.stopped_at),
        duration_seconds: s.duration_seconds,
        criteria: s.criteria,
        capture_rtp: s.capture_rtp,
        capture_pcap: s.capture_pcap,
        event_count: s.event_count,
        counts,
        capped: s.capped,
        capped_reason: s.capped_reason,
      },
      // call states and route decisions are no packets: the export keeps them here (DESIGN §9)
      call_events: callEvents,
      agents: agents.map((a) => ({
        id: a.agent_id,
        name: a.name,
        state: a.state,
        ...(audience === 'operator' ? { reason: a.reason } : {}),
        counters: {
          packets_seen: a.packets_seen,
          packets_matched: a.packets_matched,
          events_uploaded: a.events_uploaded,
          events_stored: a.events_stored,
          dropped: a.dropped,
        },
        files: written.filter((w) => w.agent_id === a.agent_id).map(({ agent_id: _a, ...f }) => f),
      })),
    };
    pack.entry({ name: 'session.json', mtime, mode: 0o644 }, `${JSON.stringify(meta, null, 2)}\n`);
    pack.finalize();
  };
  write().catch((err: unknown) => {
    if (pack.destroyed) return;
    reply.log.error({ err }, 'export.tar failed while streaming');
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  return reply
    .header('content-type', 'application/x-tar')
    .header('content-disposition', `attachment; filename="${exportName(s.label, s.id, null, 'tar')}"`)
    .header('cache-control', 'no-store')
    .send(pack);
}
