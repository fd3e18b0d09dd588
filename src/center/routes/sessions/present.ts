// Session rows → wire views (list summary, detail, 201 answer). Nothing else reaches a client.
import { EVENT_KINDS, isoTime } from '../../../core/schema/index.js';
import type {
  Event,
  EventKind,
  SessionAgent,
  SessionCreated,
  SessionDetail,
  SessionSummary,
  StoredEvent,
} from '../../../core/schema/index.js';
import type { AgentRecord, SessionAgentRecord, SessionRecord } from '../../storage/types.js';
import type { AgentReach } from '../../agents/commander.js';

export const streamPath = (id: string): string => `/api/sessions/${id}/stream`;

export function presentCreated(s: SessionRecord): SessionCreated {
  return { id: s.id, status: 'running', expires_at: isoTime(s.expires_at), agents: s.agent_count, stream: streamPath(s.id) };
}

export function presentSummary(s: SessionRecord): SessionSummary {
  return {
    id: s.id,
    org_id: s.org_id,
    label: s.label,
    status: s.status,
    created_at: isoTime(s.created_at),
    expires_at: isoTime(s.expires_at),
    stopped_at: s.stopped_at === null ? null : isoTime(s.stopped_at),
    event_count: s.event_count,
    agent_count: s.agent_count,
    shared: s.shared,
    criteria: s.criteria,
  };
}

/** Heard from lately, and the last call to its command API (when newer) did not fail. */
export function agentIsOnline(a: Pick<AgentRecord, 'last_seen'>, now: number, offlineMs: number, reach?: AgentReach): boolean {
  if (reach && !reach.ok && (a.last_seen === null || reach.at >= a.last_seen)) return false;
  return a.last_seen !== null && now - a.last_seen <= offlineMs;
}

export function presentSessionAgent(
  sa: SessionAgentRecord,
  agent: AgentRecord | undefined,
  now: number,
  offlineMs: number,
  running: boolean,
  reach?: AgentReach,
): SessionAgent {
  // a running session's agent that is neither failed nor heard from lately is shown offline
  const offline = running && sa.state !== 'failed' && (!agent || !agentIsOnline(agent, now, offlineMs, reach));
  const offlineReason =
    reach && !reach.ok
      ? (reach.error ?? 'unreachable')
      : agent?.last_seen == null
        ? 'never heard from this agent (not called yet, or its command API is unreachable)'
        : `nothing heard from this agent since ${isoTime(agent.last_seen)}`;
  return {
    id: sa.agent_id,
    name: sa.name,
    // an ended session's agents no longer capture for it: shown stopped, not "capturing" (a failure stays visible)
    state: offline ? 'offline' : !running && sa.state !== 'failed' ? 'stopped' : sa.state,
    reason: sa.state === 'failed' ? (sa.reason ?? 'failed') : offline ? offlineReason : null,
    last_event_at: sa.last_event_at === null ? null : isoTime(sa.last_event_at),
    counters: {
      packets_seen: sa.packets_seen,
      packets_matched: sa.packets_matched,
      events_uploaded: sa.events_uploaded,
      events_stored: sa.events_stored,
      dropped: sa.dropped,
    },
  };
}

export function presentDetail(
  s: SessionRecord,
  agents: SessionAgent[],
  counts: Record<EventKind, number>,
  pcapAvailable: boolean,
): SessionDetail {
  return {
    ...presentSummary(s),
    duration_seconds: s.duration_seconds,
    capture_rtp: s.capture_rtp,
    capture_pcap: s.capture_pcap,
    stream: streamPath(s.id),
    agents,
    counts: Object.fromEntries(EVENT_KINDS.map((k) => [k, counts[k] ?? 0])) as Record<EventKind, number>,
    bytes: s.ingested_bytes,
    pcap_available: pcapAvailable,
    share: { shared: s.shared, created_at: s.share_created_at === null ? null : isoTime(s.share_created_at) },
    capped: s.capped,
    capped_reason: s.capped_reason,
    history_deleted_at: s.history_deleted_at === null ? null : isoTime(s.history_deleted_at),
  };
}

/** Events in lists and on SSE never carry the frame bytes. */
export function presentEvent(e: StoredEvent): Event {
  const { frame: _frame, ...rest } = e;
  return rest;
}
