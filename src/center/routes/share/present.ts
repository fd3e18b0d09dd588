// What a share link shows (DESIGN §3, §8): an allow-list, built field by field from the session
// detail, so a field added to the operator view never leaks by default. No agent URLs or tokens, no
// failure reasons (they name hosts and interfaces), no share state, no other sessions.
import type { SessionDetail } from '../../../core/schema/index.js';

export const SHARE_SESSION_KEYS = [
  'id',
  'label',
  'status',
  'created_at',
  'expires_at',
  'stopped_at',
  'duration_seconds',
  'criteria',
  'capture_rtp',
  'capture_pcap',
  'event_count',
  'counts',
  'capped',
  'pcap_available',
  'agents',
  'stream',
] as const;

export const SHARE_AGENT_KEYS = ['id', 'name', 'state', 'counters'] as const;

export type SharedAgent = Pick<SessionDetail['agents'][number], (typeof SHARE_AGENT_KEYS)[number]>;
export type SharedSession = Pick<SessionDetail, Exclude<(typeof SHARE_SESSION_KEYS)[number], 'agents'>> & { agents: SharedAgent[] };

export const shareBase = (token: string): string => `/api/share/${encodeURIComponent(token)}`;

export function presentSharedSession(d: SessionDetail, token: string): SharedSession {
  return {
    id: d.id,
    label: d.label,
    status: d.status,
    created_at: d.created_at,
    expires_at: d.expires_at,
    stopped_at: d.stopped_at,
    duration_seconds: d.duration_seconds,
    criteria: d.criteria,
    capture_rtp: d.capture_rtp,
    capture_pcap: d.capture_pcap,
    event_count: d.event_count,
    counts: d.counts,
    capped: d.capped,
    pcap_available: d.pcap_available,
    agents: d.agents.map((a) => ({ id: a.id, name: a.name, state: a.state, counters: a.counters })),
    stream: `${shareBase(token)}/stream`,
  };
}
