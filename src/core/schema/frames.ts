// The frames-only upload (POST /api/ingest/frames, DESIGN §3): original frames for the per-agent
// PCAP that travel without an event. An agent sends them for capture_pcap sessions: every RTP/RTCP
// packet of the matched dialogs (capture_rtp; events keep only the samples) and the earlier frames of
// a SIP message split over TCP segments or IP fragments (its event carries the completing frame).
//
// Why binary, not JSON events: a call's media is ~50 packets/s per direction; as events each frame
// would cost a JSON object, base64 (+33 %) and an events-table row. Here a frame costs a 20-byte
// header and its bytes, and a batch is one request, one row lock and one append per file.
//
// Body (Content-Type application/vnd.tunaio.frames), a sequence of records, little-endian:
//   u16 link type (tcpdump.org LINKTYPE_*), u16 reserved (0), u32 seconds, u32 microseconds,
//   u32 original length, u32 captured length, then the captured bytes.
// Query: session_id, first_seq. Frames are numbered per (session, agent) without gaps inside a batch:
// the batch holds frames first_seq, first_seq + 1, … The center keeps the number after the last
// frame it judged, so a re-sent batch (its answer was lost) stores nothing twice (the duplicates).
import { z } from 'zod';
import { sessionIdSchema } from './common.js';
import { FRAME_MAX_BYTES } from './event.js';

export const FRAMES_CONTENT_TYPE = 'application/vnd.tunaio.frames';
export const FRAME_RECORD_HEADER_BYTES = 20;
/** frames per batch the center takes (else 413); the body is bounded by INGEST_MAX_BYTES */
export const FRAMES_MAX_PER_BATCH = 10_000;

export interface WireFrame {
  linkType: number;
  /** capture time, µs since the epoch */
  tsUs: number;
  origLen: number;
  data: Buffer;
}

export const framesQuerySchema = z
  .object({
    session_id: sessionIdSchema,
    /** number of the batch's first frame; safe integer (agents start at the capture's wall clock in µs) */
    first_seq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

export const FRAMES_REFUSALS = ['unknown_session', 'not_assigned', 'session_closed', 'no_pcap'] as const;

/** The answer: how the batch's frames were judged (every frame is in exactly one count). */
export const framesResultSchema = z
  .object({
    accepted: z.int().min(0),
    duplicates: z.int().min(0),
    /** refused frames: the whole batch for `reason` unknown_session…no_pcap, or the tail past the byte cap (session_capped) */
    rejected: z.int().min(0),
    reason: z.enum([...FRAMES_REFUSALS, 'session_capped']).optional(),
  })
  .strict();
export type FramesResult = z.infer<typeof framesResultSchema>;

/** One record's bytes (header and data). */
export function encodeFrame(f: WireFrame): Buffer {
  const cap = Math.min(f.data.length, FRAME_MAX_BYTES);
  const out = Buffer.allocUnsafe(FRAME_RECORD_HEADER_BYTES + cap);
  const sec = Math.floor(f.tsUs / 1_000_000);
  out.writeUInt16LE(f.linkType & 0xffff, 0);
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(sec >>> 0, 4);
  out.writeUInt32LE(Math.max(0, Math.trunc(f.tsUs - sec * 1_000_000)), 8);
  out.writeUInt32LE(Math.max(f.origLen, cap) >>> 0, 12);
  out.writeUInt32LE(cap, 16);
  f.data.copy(out, FRAME_RECORD_HEADER_BYTES, 0, cap);
  return out;
}

/** The records of a body, or the reason it is malformed (then nothing of it is taken). */
export function decodeFrames(body: Buffer): WireFrame[] | string {
  const out: WireFrame[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < FRAME_RECORD_HEADER_BYTES) return `record ${out.length}: truncated header`;
    const usec = body.readUInt32LE(at + 8);
    const origLen = body.readUInt32LE(at + 12);
    const cap = body.readUInt32LE(at + 16);
    if (usec >= 1_000_000) return `record ${out.length}: microseconds ${usec} out of range`;
    if (cap === 0 || cap > FRAME_MAX_BYTES) return `record ${out.length}: captured length ${cap} out of range 1..${FRAME_MAX_BYTES}`;
    if (origLen < cap) return `record ${out.length}: original length below captured length`;
    if (body.length - at - FRAME_RECORD_HEADER_BYTES < cap) return `record ${out.length}: truncated data`;
    const start = at + FRAME_RECORD_HEADER_BYTES;
    out.push({ linkType: body.readUInt16LE(at), tsUs: body.readUInt32LE(at + 4) * 1_000_000 + usec, origLen, data: body.subarray(start, start + cap) });
    at = start + cap;
  }
  return out;
}
