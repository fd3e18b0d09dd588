// Prometheus metrics, hand-written in the text exposition format 0.0.4: a few counters and gauges the
// center updates as it works. Label values are escaped; series are bounded because routes are the
// registered route patterns (or "unmatched"), never raw URLs.

type Labels = Record<string, string>;

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels): string => {
  const keys = Object.keys(l).sort();
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escape(l[k])}"`).join(',')}}`;
};

class Family {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly type: 'counter' | 'gauge',
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  set(labels: Labels, v: number): void {
    this.values.set(labelText(labels), v);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

/** sessions remembered per agent for the drop totals (the oldest reported is forgotten first) */
const DROP_SESSIONS_PER_AGENT = 1000;

export class Metrics {
  readonly httpRequests = new Family('tunaio_http_requests_total', 'counter', 'HTTP requests by method, route and status');
  readonly ingestEvents = new Family(
    'tunaio_ingest_events_total',
    'counter',
    'ingested events by result (accepted, duplicate, rejected)',
  );
  readonly ingestFrames = new Family(
    'tunaio_ingest_frames_total',
    'counter',
    'frames of frames-only batches (POST /api/ingest/frames) by result: accepted, duplicate, session_capped, or the refusal (no_pcap, unknown_session, not_assigned, session_closed)',
  );
  readonly ingestBatches = new Family('tunaio_ingest_batches_total', 'counter', 'ingest batches received');
  readonly sseClients = new Family('tunaio_sse_clients', 'gauge', 'connected SSE clients');
  readonly sessions = new Family('tunaio_sessions', 'gauge', 'sessions by status');
  readonly loginFailures = new Family('tunaio_login_failures_total', 'counter', 'failed logins');
  readonly loginRefused = new Family(
    'tunaio_login_refused_total',
    'counter',
    'logins answered 429 by limit: user (address + user name), address (any user name), busy (password checks at once)',
  );
  private readonly agentDropped = new Family(
    'tunaio_agent_dropped',
    'gauge',
    'events and packets an agent lost, by reason (kernel, socket, queue, spool, HEP refusals…), summed over its sessions as last reported',
  );
  /** agent name → session → dropped by reason (the counters each ingest batch carries) */
  private readonly drops = new Map<string, Map<string, Record<string, number>>>();
  readonly agentAnswersTooLarge = new Family(
    'tunaio_agent_answers_too_large_total',
    'counter',
    "answers of an agent's command API over the size the center reads, by agent (ignored; the agent shows offline)",
  );

  readonly reconcilerLeader = new Family(
    'tunaio_reconciler_leader',
    'gauge',
    '1 when this center runs the reconciler (pushes captures to agents and polls them; one center at a time on PostgreSQL), else 0',
  );

  readonly laddersCut = new Family(
    'tunaio_ladders_cut_total',
    'counter',
    'ladder pictures drawn cut to their size limits (rows or lanes), by format',
  );

  readonly auditPruned = new Family(
    'tunaio_audit_pruned_total',
    'counter',
    'audit log entries deleted by retention (older than --audit-retention-days, or beyond --audit-max-entries)',
  );

  constructor() {
    for (const r of ['accepted', 'duplicate', 'rejected']) this.ingestEvents.inc({ result: r }, 0);
    for (const r of ['accepted', 'duplicate', 'session_capped']) this.ingestFrames.inc({ result: r }, 0);
    this.sseClients.set({}, 0);
    this.loginFailures.inc({}, 0);
    this.auditPruned.inc({}, 0);
    for (const limit of ['user', 'address', 'busy']) this.loginRefused.inc({ limit }, 0);
  }

  /** The per-session drop counters an agent sent with a batch (cumulative per session, so: replaced). */
  reportAgentDrops(agent: string, counters: readonly { session_id: string; dropped: Record<string, number> }[]): void {
    let m = this.drops.get(agent);
    if (!m) this.drops.set(agent, (m = new Map()));
    for (const c of counters) {
      m.delete(c.session_id);
      m.set(c.session_id, c.dropped);
      if (m.size > DROP_SESSIONS_PER_AGENT) m.delete(m.keys().next().value as string);
    }
  }

  render(): string {
    this.agentDropped.values.clear();
    for (const [agent, sessions] of this.drops) {
      const sum: Record<string, number> = {};
      for (const d of sessions.values()) for (const [k, v] of Object.entries(d)) sum[k] = (sum[k] ?? 0) + v;
      for (const [reason, v] of Object.entries(sum)) this.agentDropped.set({ agent, reason }, v);
    }
    return (
      [
        this.httpRequests,
        this.ingestBatches,
        this.ingestEvents,
        this.ingestFrames,
        this.sseClients,
        this.sessions,
        this.loginFailures,
        this.loginRefused,
        this.agentAnswersTooLarge,
        this.agentDropped,
        this.laddersCut,
        this.reconcilerLeader,
        this.auditPruned,
      ]
        .map((f) => f.render())
        .join('\n') + '\n'
    );
  }
}
