// Ingest → PCAP: which stored events of a batch become pcap records. Called by POST /api/ingest inside
// its serial step, right after the batch is committed, so the files follow the event ids' order.
// - Only sessions with `capture_pcap`; frames sent for other sessions are dropped.
// - An event's frame is written as sent (live capture: byte-identical, its link type kept).
// - A `sip` event without a frame but with addresses and the message (HEP from an agent that did not
//   rebuild one) gets an Ethernet/IP/UDP-or-TCP frame built from its fields and capture time.
// - RTP/RTCP samples (capture_rtp) arrive with their frames and are written like any frame.
// Frames are kept in the PCAP store only, not in the events table (they are never listed).
import { frameBytes } from '../../core/schema/event-fast.js';
import type { Frame, StoredEvent } from '../../core/schema/index.js';
import type { IngestItem, Storage } from '../storage/types.js';
import { buildEthernetFrame, LINKTYPE } from './frames.js';
import type { PcapRecord, PcapStore } from './store.js';

/** bound on remembered TCP flows (sequence numbers of built segments) */
const MAX_FLOWS = 10_000;
/** bound on remembered sessions' capture_pcap flags */
const MAX_SESSIONS = 10_000;

export class PcapRecorder {
  private readonly tcpSeq = new Map<string, number>();

  constructor(
    readonly store: PcapStore,
    private readonly storage: Storage,
  ) {}

  /** Removes the frames from the batch (they are not stored with the events) and returns them by session and seq. */
  takeFrames(items: IngestItem[]): Map<string, Frame> {
    const frames = new Map<string, Frame>();
    for (const it of items) {
      if (it.frame) frames.set(`${it.event.session_id}/${it.event.seq}`, it.frame);
      else if (it.event.frame) {
        frames.set(`${it.event.session_id}/${it.event.seq}`, it.event.frame);
        // the event objects are the route's own (made by the parse), so they are changed in place
        it.event.frame = null;
      }
    }
    return frames;
  }

  /** Appends the frames of the newly stored events (one agent's batch) to their sessions' pcaps. */
  async record(inserted: readonly StoredEvent[], frames: Map<string, Frame>): Promise<void> {
    if (inserted.length === 0) return;
    const bySession = new Map<string, PcapRecord[]>();
    const wanted = new Map<string, boolean>();
    for (const e of inserted) {
      let w = wanted.get(e.session_id);
      if (w === undefined) {
        w = await this.capturesPcap(e.session_id);
        wanted.set(e.session_id, w);
      }
      if (!w) continue;
      const rec = this.recordOf(e, frames.get(`${e.session_id}/${e.seq}`));
      if (!rec) continue;
      const list = bySession.get(e.session_id) ?? [];
      list.push(rec);
      bySession.set(e.session_id, list);
    }
    for (const [sid, recs] of bySession) await this.store.append(sid, recs);
  }

  /** sessions known to have capture_pcap on or off (fixed when a session is created) */
  private readonly pcapOn = new Map<string, boolean>();

  async capturesPcap(sessionId: string): Promise<boolean> {
    const known = this.pcapOn.get(sessionId);
    if (known !== undefined) return known;
    const s = await this.storage.getSession(sessionId);
    if (!s) return false;
    if (this.pcapOn.size >= MAX_SESSIONS) this.pcapOn.clear();
    this.pcapOn.set(sessionId, s.capture_pcap);
    return s.capture_pcap;
  }

  private recordOf(e: StoredEvent, frame: Frame | undefined): PcapRecord | null {
    if (frame) {
      const data = frameBytes(frame);
      if (data.length === 0) return null;
      return { agentId: e.agent_id, tsUs: e.ts, linkType: frame.link_type, data, origLen: frame.orig_len };
    }
    if (e.kind !== 'sip' || !e.src || !e.dst || !e.transport || e.payload === null) return null;
    const payload = Buffer.from(e.payload, 'utf8');
    let tcpSeq: number | undefined;
    if (e.transport !== 'udp') {
      const flow = `${e.session_id}/${e.agent_id}/${e.src.ip}/${e.src.port}/${e.dst.ip}/${e.dst.port}`;
      tcpSeq = this.tcpSeq.get(flow) ?? 1;
      if (this.tcpSeq.size >= MAX_FLOWS && !this.tcpSeq.has(flow)) this.tcpSeq.clear();
      this.tcpSeq.set(flow, (tcpSeq + payload.length) >>> 0);
    }
    const data = buildEthernetFrame({ src: e.src, dst: e.dst, transport: e.transport, payload, tcpSeq });
    if (!data) return null;
    return { agentId: e.agent_id, tsUs: e.ts, linkType: LINKTYPE.ETHERNET, data, origLen: data.length };
  }
}
