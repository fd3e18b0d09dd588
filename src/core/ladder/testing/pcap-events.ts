// Test helper: a capture file decoded with the protocol package into the events an agent would send
// (SIP only, UDP/TCP/WS), so the ladder tests run on real traffic. Not used by production code.
import { readFileSync } from 'node:fs';
import { readCaptureFile } from '../../../protocol/capture-file.js';
import { Dissector } from '../../../protocol/dissector.js';
import { isParseError } from '../../../protocol/errors.js';
import { parseSip, parseSipDatagram } from '../../../protocol/sip.js';
import type { LadderEvent } from '../types.js';

const userOf = (v: string | undefined): string | undefined => /sips?:([^@;>]+)@/i.exec(v ?? '')?.[1];

export function sipEventsFromCapture(file: string, agentId = 1, firstId = 1): LadderEvent[] {
  const { records } = readCaptureFile(readFileSync(file));
  const d = new Dissector();
  const out: LadderEvent[] = [];
  for (const rec of records) {
    for (const u of d.push(rec)) {
      const msg = u.transport === 'udp' ? parseSipDatagram(u.payload) : parseSip(u.payload);
      if (isParseError(msg)) continue;
      const ct = msg.header('content-type');
      out.push({
        id: firstId + out.length,
        agent_id: agentId,
        ts: u.tsUs,
        kind: 'sip',
        transport: u.transport,
        src: { ip: u.src.ip, port: u.src.port },
        dst: { ip: u.dst.ip, port: u.dst.port },
        call_id: msg.callId ?? null,
        sip: {
          ...(msg.isRequest ? { method: msg.method } : { status: msg.statusCode, reason: msg.reason }),
          cseq_seq: msg.cseq?.seq,
          cseq_method: msg.cseq?.method,
          from_user: userOf(msg.header('from')),
          to_user: userOf(msg.header('to')),
          has_sdp: msg.body.length > 0 && /application\/sdp/i.test(ct ?? ''),
        },
        payload: msg.raw.toString('utf8'),
      });
    }
  }
  return out;
}
