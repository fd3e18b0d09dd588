// Capture bytes → SIP messages, the offline pipeline shared by `tunaio decode`, `tunaio filter` and the
// tshark oracle test: capture reader → dissector → (UDP: HEP → inner SIP, or SIP) / (TCP, WS, SCTP:
// framed SIP). Pure: chunks in, rows out; reading files is the caller's job. A datagram is one whole
// message even when its Content-Length lies (parseSipDatagram), as tshark shows it.
import { createCaptureReader } from './capture-file.js';
import type { CaptureEndStatus, ReaderRecord } from './capture-file.js';
import { Dissector } from './dissector.js';
import type { DissectorOptions, Transport, Unit } from './dissector.js';
import { isParseError } from './errors.js';
import type { ParseError } from './errors.js';
import { decodeHep, HEP_PROTO_TYPE, hepPayloadType, looksLikeHep } from './hep.js';
import { parseSip, parseSipDatagram, parseSipSummary } from './sip.js';
import type { SipSummary } from './sip.js';

export interface SipRow {
  frame: number;
  tsUs: number;
  src: string;
  dst: string;
  transport: Transport;
  callId?: string;
  method?: string;
  status?: number;
  reason?: string;
  cseq?: string;
  /** set when the message came out of a HEP packet (the inner protocol's transport) */
  hep?: boolean;
}

const endpointText = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

const IPPROTO_NAMES: Record<number, Transport> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

function rowOf(msg: SipSummary, frame: number, tsUs: number, src: string, dst: string, transport: SipRow['transport']): SipRow {
  const row: SipRow = { frame, tsUs, src, dst, transport };
  if (msg.callId !== undefined) row.callId = msg.callId;
  if (msg.isRequest) row.method = msg.method;
  else {
    row.status = msg.statusCode;
    row.reason = msg.reason;
  }
  if (msg.cseq !== undefined) row.cseq = `${msg.cseq.seq} ${msg.cseq.method}`;
  return row;
}

/** The in-process pipeline: capture chunks in, SIP rows out. One per file. */
export class SipDecodePipeline {
  private readonly reader = createCaptureReader();
  readonly dissector: Dissector;
  /** HEP packets seen, and those that failed to decode */
  hepPackets = 0;
  hepErrors = 0;
  /** payloads framed as SIP (TCP/WS/SCTP) that parseSip rejected */
  sipErrors = 0;

  constructor(opts: DissectorOptions = {}) {
    this.dissector = new Dissector(opts);
  }

  get error(): ParseError | null {
    return this.reader.error;
  }

  push(chunk: Buffer, onRow: (row: SipRow) => void): void {
    this.onRow = onRow;
    this.reader.pushEach(chunk, this.onRecord);
  }

  // Reused records and units (pushEach): nothing of a frame is kept once its rows are out.
  private onRow: (row: SipRow) => void = () => {};
  private readonly onUnit = (u: Unit): void => this.unit(u, this.onRow);
  private readonly onRecord = (rec: ReaderRecord): void => this.dissector.pushEach(rec, this.onUnit);

  end(): CaptureEndStatus {
    return this.reader.end();
  }

  private unit(u: Unit, onRow: (row: SipRow) => void): void {
    if (u.transport === 'udp') {
      // RTP/RTCP/DTLS (first byte ≥ 0x80) and tiny datagrams leave before any Buffer is made
      if (u.payloadEnd - u.payloadOffset < 6 || u.payloadBuf[u.payloadOffset] >= 0x80) return;
    }
    if (u.transport === 'udp') {
      // SIP read in place (start line, Call-ID, CSeq only): no payload view, no full parse
      const pb = u.payloadBuf;
      const off = u.payloadOffset;
      const end = u.payloadEnd;
      const b0 = pb[off];
      if ((b0 === 0x48 || b0 === 1 || b0 === 2) && looksLikeHep(pb, off, end)) return this.hep(u, onRow);
      // a datagram is one whole message even when its Content-Length lies (tshark shows it too);
      // null when the start line is not SIP (looksLikeSip's test, made once)
      const sum = parseSipSummary(pb, off, end);
      if (sum === null) return;
      onRow(rowOf(sum, u.frame, u.tsUs, endpointText(u.src.ip, u.src.port), endpointText(u.dst.ip, u.dst.port), u.transport));
      return;
    }
    const p = u.payload;
    if (u.transport === 'tcp' && p[0] === 0x48 && looksLikeHep(p)) return this.hep(u, onRow); // HEP over TCP
    const msg = u.transport === 'sctp' ? parseSipDatagram(p) : parseSip(p);
    if (isParseError(msg)) {
      this.sipErrors++;
      return;
    }
    onRow(rowOf(msg, u.frame, u.tsUs, endpointText(u.src.ip, u.src.port), endpointText(u.dst.ip, u.dst.port), u.transport));
  }

  private hep(u: Unit, onRow: (row: SipRow) => void): void {
    this.hepPackets++;
    const hep = decodeHep(u.payload);
    if (isParseError(hep)) {
      this.hepErrors++;
      return;
    }
    if (hepPayloadType(hep) !== HEP_PROTO_TYPE.SIP) return; // logs, RTCP reports etc. are not SIP messages
    const msg = parseSipDatagram(hep.payload);
    if (isParseError(msg)) {
      this.hepErrors++;
      return;
    }
    const tsUs = hep.tsSec !== undefined ? hep.tsSec * 1_000_000 + (hep.tsUsec ?? 0) : u.tsUs;
    const row = rowOf(
      msg,
      u.frame,
      tsUs,
      endpointText(hep.srcIp ?? '', hep.srcPort ?? 0),
      endpointText(hep.dstIp ?? '', hep.dstPort ?? 0),
      IPPROTO_NAMES[hep.ipProto ?? 17] ?? 'udp',
    );
    row.hep = true;
    onRow(row);
  }
}

/** Whole-buffer convenience (tests, small inputs): every row and how the capture ended. */
export function decodeCaptureBuffer(buf: Buffer, opts: DissectorOptions = {}): { rows: SipRow[]; status: CaptureEndStatus; pipeline: SipDecodePipeline } {
  const pipeline = new SipDecodePipeline(opts);
  const rows: SipRow[] = [];
  pipeline.push(buf, (r) => rows.push(r));
  return { rows, status: pipeline.end(), pipeline };
}
