// The center's side of the agent command API (DESIGN §4): the pusher and the reconciler.
//
// - Pusher: on session create, `PUT /v1/captures/{id}` to every selected agent in parallel with a
//   short timeout; on stop, `DELETE /v1/captures/{id}`. The answer sets the per-agent session state:
//   2xx → capturing, a refusal → failed with the agent's own message, no answer → the agent shows
//   offline with the network error.
// - Reconciler: every few seconds, `GET /v1/status` on each enabled agent. It keeps the agent's
//   status (last_seen, version, sources), copies each capture's counters onto the session, re-PUTs
//   running captures the agent does not report (it restarted) and DELETEs captures it reports that
//   are not running here (stopped or expired while it was unreachable).
//
// Several centers (PostgreSQL): only the leader (cluster/leadership.ts, an advisory lock) calls
// agents, so no agent gets commands from two centers. A center that is not the leader forwards its
// pushes to the leader (forward → onForwarded): captures started and stopped there, and the Call-IDs
// its ingest announces for following (agents/follow.ts), which the leader de-duplicates against its
// own announcements before it sends them. If no leader takes a start or stop (it is changing), the
// new leader's first reconcile pass asserts every running capture and stops every ended one anyway.
// Commands to one agent go one after another, and a PUT re-reads its session right before it is
// sent, so a reconcile pass and a stop never cross into a capture restarted after its stop.
//
// Owns the HTTP calls to agents and the in-memory reachability of each agent. Every answer is read
// with a size limit (AGENT_ANSWER_MAX_BYTES, bounded-read.ts) within the call's timeout. Does not own the
// session lifecycle (lifecycle/) nor ingest: counters an agent sends with its batches are stored by
// the ingest route; both sources write the same columns.
import { FOLLOW_MAX_CALL_IDS, isoTime } from '../../core/schema/index.js';
import type { AgentSource, CaptureCommand } from '../../core/schema/index.js';
import type { AgentRecord, SessionAgentRecord, SessionRecord, Storage } from '../storage/types.js';
import type { ForwardedCommand } from '../backend.js';
import type { Leadership } from '../cluster/leadership.js';
import { vaultKey } from './token-vault.js';
import type { AgentTokenStore } from './token-vault.js';
import { AnswerTooLarge, readBounded } from './bounded-read.js';

/** the most the center reads of one answer of an agent's command API (a status with every source and capture fits many times) */
export const AGENT_ANSWER_MAX_BYTES = 1024 * 1024;

/** What the last call to an agent's command API gave. */
export interface AgentReach {
  ok: boolean;
  /** epoch ms of the attempt */
  at: number;
  /** why the agent could not be reached (ok = false) */
  error?: string;
}

export interface CommanderOptions {
  storage: Storage;
  vault: AgentTokenStore;
  /** whether this center runs the reconciler and calls agents (always, with one center) */
  leadership: Leadership;
  /** hands a push to the leading center (several centers) */
  forward?: (cmd: ForwardedCommand) => Promise<void>;
  now: () => number;
  /** per-request timeout of calls to agents */
  timeoutMs: number;
  /** reconciler period; 0 disables the periodic run */
  reconcileMs: number;
  onError: (err: unknown) => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** informational messages (leadership taken) */
  info?: (msg: string) => void;
  /** an agent answered more than AGENT_ANSWER_MAX_BYTES (counted in /metrics) */
  onAnswerTooLarge?: (agentName: string) => void;
  /**
   * Call-IDs another center forwarded for following, received by the leader: returns those not yet
   * announced (the leader's CallFollower table), so an agent is never told the same Call-ID twice.
   */
  freshFollows?: (sessionId: string, callIds: string[]) => string[];
}

/** bytes of Call-IDs in one forwarded follow command: a NOTIFY payload must stay under 8000 bytes */
const FORWARD_FOLLOW_BYTES = 6000;

type CallResult =
  | { kind: 'ok'; status: number; body: unknown }
  | { kind: 'refused'; status: number; message: string }
  | { kind: 'unreachable'; message: string };

interface CaptureReport {
  session_id: string;
  counters?: { packets_seen?: number; packets_matched?: number; events_uploaded?: number; dropped?: Record<string, number> };
}
interface StatusReport {
  version?: string;
  sources?: { name?: string; kind?: string; state?: string; error?: string }[];
  captures?: CaptureReport[];
}

const MAX_REASON = 512;
const clip = (s: string): string => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

function networkMessage(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const c = err.cause;
  if (c?.code) return c.code === 'ECONNREFUSED' ? 'connection refused (is the agent running?)' : `${c.code}${c.message ? `: ${c.message}` : ''}`;
  return err.message ?? String(e);
}

export class AgentCommander {
  private readonly o: CommanderOptions;
  private readonly reach = new Map<number, AgentReach>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  /** the center's own base URL, as agents reach it (ingest_url = this + /api/ingest) */
  private baseUrl: string | undefined;
  /** the answer of the last leadership check (shown in /metrics as tunaio_reconciler_leader) */
  private leading = false;

  constructor(opts: CommanderOptions) {
    this.o = opts;
  }

  /** Starts pushing and reconciling; until then (in-process tests with inject) agents are not called. */
  start(publicUrl: string): void {
    if (this.closed) return;
    this.baseUrl = publicUrl.replace(/\/+$/, '');
    if (this.o.reconcileMs > 0 && !this.timer) {
      this.timer = setInterval(() => void this.reconcile().catch(this.o.onError), this.o.reconcileMs);
      this.timer.unref();
    }
    void this.reconcile().catch(this.o.onError);
  }

  get active(): boolean {
    return this.baseUrl !== undefined && !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Keeps an agent's plaintext token (sealed on disk) for calling it. */
  async rememberToken(a: Pick<AgentRecord, 'org_id' | 'name'>, token: string): Promise<void> {
    await this.o.vault.set(vaultKey(a), token);
  }

  /** Whether this center ran the reconciler at its last check (one center: always, once started). */
  get isLeading(): boolean {
    return this.active && this.leading;
  }

  private async checkLeader(): Promise<boolean> {
    this.leading = await this.o.leadership.isLeader();
    return this.leading;
  }

  /** The last reachability of an agent's command API, when it was called. */
  reachOf(agentId: number): AgentReach | undefined {
    return this.reach.get(agentId);
  }

  // ---- pusher

  /** Whether this center calls agents now; when not, the push goes to the leader (forward). */
  private async leads(cmd: ForwardedCommand): Promise<boolean> {
    if (await this.checkLeader()) return true;
    await this.o.forward?.(cmd);
    return false;
  }

  /** A push forwarded by another center: the leader makes it (every center hears it). Never throws. */
  async onForwarded(cmd: ForwardedCommand): Promise<void> {
    if (!this.active) return;
    try {
      if (!(await this.checkLeader())) return;
      if (cmd.op === 'follow') {
        const fresh = this.o.freshFollows ? this.o.freshFollows(cmd.session_id, cmd.call_ids) : cmd.call_ids;
        return await this.sendFollow(cmd.session_id, cmd.from_agent_id, fresh);
      }
      if (cmd.op === 'stop') return await this.pushStop(cmd.session_id);
      const s = await this.o.storage.getSession(cmd.session_id);
      if (s && s.status === 'running') await this.pushStart(s);
    } catch (e) {
      this.o.onError(e);
    }
  }

  /** PUT the capture to every agent of a new session, all at once. Never throws. */
  async pushStart(s: SessionRecord): Promise<void> {
    if (!this.active) return;
    try {
      if (!(await this.leads({ op: 'start', session_id: s.id }))) return;
      const byId = new Map((await this.o.storage.listAgents('all')).map((a) => [a.id, a]));
      const sas = await this.o.storage.getSessionAgents(s.id);
      await Promise.all(
        sas.map(async (sa) => {
          const a = byId.get(sa.agent_id);
          if (a) await this.put(a, s, sa);
        }),
      );
    } catch (e) {
      this.o.onError(e);
    }
  }

  /** DELETE the capture on every agent of a session that ended. Never throws. */
  async pushStop(sessionId: string): Promise<void> {
    if (!this.active) return;
    try {
      if (!(await this.leads({ op: 'stop', session_id: sessionId }))) return;
      const byId = new Map((await this.o.storage.listAgents('all')).map((a) => [a.id, a]));
      const sas = await this.o.storage.getSessionAgents(sessionId);
      await Promise.all(
        sas.map(async (sa) => {
          const a = byId.get(sa.agent_id);
          if (a) await this.del(a, sessionId);
        }),
      );
    } catch (e) {
      this.o.onError(e);
    }
  }

  /**
   * One session, all its agents (DESIGN §9): `fromAgentId` matched these Call-IDs; every other agent
   * of the session follows them (`POST /v1/captures/{id}/follow`), sent by the leader only (a center
   * that does not lead forwards them, in chunks that fit a notification). Never throws.
   */
  async pushFollow(sessionId: string, fromAgentId: number, callIds: string[]): Promise<void> {
    if (!this.active || callIds.length === 0) return;
    try {
      if (await this.checkLeader()) return await this.sendFollow(sessionId, fromAgentId, callIds);
      if (!this.o.forward) return;
      let chunk: string[] = [];
      let bytes = 0;
      for (const cid of callIds) {
        const b = Buffer.byteLength(JSON.stringify(cid)) + 1;
        if (chunk.length > 0 && bytes + b > FORWARD_FOLLOW_BYTES) {
          await this.o.forward({ op: 'follow', session_id: sessionId, from_agent_id: fromAgentId, call_ids: chunk });
          chunk = [];
          bytes = 0;
        }
        chunk.push(cid);
        bytes += b;
      }
      await this.o.forward({ op: 'follow', session_id: sessionId, from_agent_id: fromAgentId, call_ids: chunk });
    } catch (e) {
      this.o.onError(e);
    }
  }

  /**
   * The leader's follow commands. An agent that cannot be reached or no longer runs the capture is
   * skipped (404: it stopped; the reconciler re-PUTs it). Queued with the agent's other commands.
   */
  private async sendFollow(sessionId: string, fromAgentId: number, callIds: string[]): Promise<void> {
    if (callIds.length === 0) return;
    const byId = new Map((await this.o.storage.listAgents('all')).map((a) => [a.id, a]));
    const sas = await this.o.storage.getSessionAgents(sessionId);
    await Promise.all(
      sas.map(async (sa) => {
        const a = byId.get(sa.agent_id);
        if (a === undefined || a.id === fromAgentId || !a.enabled) return;
        await this.oneAtATime(a.id, async () => {
          for (let i = 0; i < callIds.length; i += FOLLOW_MAX_CALL_IDS) {
            const r = await this.call(a, 'POST', `/v1/captures/${sessionId}/follow`, { call_ids: callIds.slice(i, i + FOLLOW_MAX_CALL_IDS) });
            if (r.kind === 'refused' && r.status !== 404) this.o.log?.('agent refused to follow calls', { agent: a.name, session: sessionId, error: r.message });
            if (r.kind !== 'ok') return;
          }
        });
      }),
    );
  }

  // ---- reconciler

  /** One pass over every enabled agent; concurrent calls share the pass in flight. */
  reconcile(): Promise<void> {
    if (!this.active) return Promise.resolve();
    if (!this.running) {
      this.running = this.reconcileOnce().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async reconcileOnce(): Promise<void> {
    const was = this.leading;
    if (!(await this.checkLeader())) return;
    if (!was) this.o.info?.('this center now runs the reconciler (pushes captures to agents and polls them)');
    const sessions = await this.o.storage.listRunningSessions();
    const runningIds = new Set(sessions.map((s) => s.id));
    const perAgent = new Map<number, { s: SessionRecord; sa: SessionAgentRecord }[]>();
    for (const s of sessions) {
      for (const sa of await this.o.storage.getSessionAgents(s.id)) {
        const list = perAgent.get(sa.agent_id) ?? [];
        list.push({ s, sa });
        perAgent.set(sa.agent_id, list);
      }
    }
    const agents = (await this.o.storage.listAgents('all')).filter((a) => a.enabled);
    await Promise.all(
      agents.map((a) => this.reconcileAgent(a, perAgent.get(a.id) ?? [], runningIds).catch(this.o.onError)),
    );
  }

  private async reconcileAgent(
    a: AgentRecord,
    assigned: { s: SessionRecord; sa: SessionAgentRecord }[],
    runningIds: Set<string>,
  ): Promise<void> {
    const r = await this.call(a, 'GET', '/v1/status');
    if (r.kind !== 'ok') {
      if (r.kind === 'refused' && (r.status === 401 || r.status === 403)) {
        for (const { s, sa } of assigned) await this.setState(s.id, sa, 'failed', this.tokenProblem(a, r.message));
      }
      return;
    }
    const st = (r.body ?? {}) as StatusReport;
    const sources: AgentSource[] = (Array.isArray(st.sources) ? st.sources : []).slice(0, 64).map((x) => ({
      type: String(x.kind ?? 'unknown').slice(0, 32),
      detail: clip(`${x.name ?? ''}: ${x.state ?? '?'}${x.error ? ` — ${x.error}` : ''}`),
    }));
    await this.o.storage.touchAgent(a.id, this.o.now(), {
      ...(typeof st.version === 'string' ? { version: st.version.slice(0, 64) } : {}),
      sources,
    });
    const health = this.health(st);
    const reported = new Map<string, CaptureReport>();
    for (const c of Array.isArray(st.captures) ? st.captures : []) {
      if (c && typeof c.session_id === 'string') reported.set(c.session_id, c);
    }
    for (const { s, sa } of assigned) {
      const c = reported.get(s.id);
      if (!c) {
        // the agent restarted (or never got it): re-assert
        await this.put(a, s, sa);
        continue;
      }
      const k = c.counters ?? {};
      await this.o.storage.reportCounters(
        a.id,
        [
          {
            session_id: s.id,
            packets_seen: num(k.packets_seen),
            packets_matched: num(k.packets_matched),
            events_uploaded: num(k.events_uploaded),
            dropped: Object.fromEntries(Object.entries(k.dropped ?? {}).map(([key, v]) => [key.slice(0, 64), num(v)])),
            state: health.state,
            ...(health.reason ? { reason: health.reason } : {}),
          },
        ],
        this.o.now(),
      );
    }
    for (const id of reported.keys()) {
      if (!runningIds.has(id)) await this.del(a, id);
    }
  }

  /** A capture is only really capturing when at least one source of the agent runs. */
  private health(st: StatusReport): { state: 'capturing' | 'failed'; reason?: string } {
    const sources = Array.isArray(st.sources) ? st.sources : [];
    if (sources.length === 0) {
      return { state: 'failed', reason: 'the agent has no capture source (start it with --interface, --hep, --log or --read)' };
    }
    const failed = sources.filter((x) => x.state === 'failed');
    if (failed.length < sources.length) return { state: 'capturing' };
    return { state: 'failed', reason: clip(`every source of the agent failed: ${failed.map((x) => `${x.name}: ${x.error ?? 'failed'}`).join('; ')}`) };
  }

  private tokenProblem(a: AgentRecord, message: string): string {
    return clip(
      `the agent rejected the center's token (${message}); the token saved for "${a.name}" (POST /api/agents) must equal the agent's --token`,
    );
  }

  private command(s: SessionRecord): CaptureCommand {
    return {
      session_id: s.id,
      criteria: s.criteria,
      capture_rtp: s.capture_rtp,
      capture_pcap: s.capture_pcap,
      expires_at: isoTime(s.expires_at),
      ingest_url: `${this.baseUrl}/api/ingest`,
    };
  }

  /** commands to one agent, one after another */
  private readonly chains = new Map<number, Promise<unknown>>();

  private oneAtATime<T>(agentId: number, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(agentId) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chains.set(agentId, tail);
    void tail.then(() => {
      if (this.chains.get(agentId) === tail) this.chains.delete(agentId);
    });
    return run;
  }

  private put(a: AgentRecord, s: SessionRecord, sa: SessionAgentRecord): Promise<void> {
    return this.oneAtATime(a.id, () => this.putNow(a, s, sa));
  }

  private async putNow(a: AgentRecord, s: SessionRecord, sa: SessionAgentRecord): Promise<void> {
    if (s.expires_at <= this.o.now()) return;
    // stopped since the caller read it (a stop on this or another center): no PUT after the DELETE
    const current = await this.o.storage.getSession(s.id);
    if (!current || current.status !== 'running') return;
    const r = await this.call(a, 'PUT', `/v1/captures/${s.id}`, this.command(s));
    if (r.kind === 'ok') {
      if (sa.state !== 'capturing') await this.setState(s.id, sa, 'capturing', null);
      sa.state = 'capturing';
      return;
    }
    if (r.kind === 'unreachable') return; // shown offline through reachOf()
    const reason =
      r.status === 401 || r.status === 403
        ? this.tokenProblem(a, r.message)
        : clip(`the agent refused the capture (HTTP ${r.status}): ${r.message}`);
    await this.setState(s.id, sa, 'failed', reason);
    sa.state = 'failed';
  }

  private del(a: AgentRecord, sessionId: string): Promise<void> {
    return this.oneAtATime(a.id, () => this.delNow(a, sessionId));
  }

  private async delNow(a: AgentRecord, sessionId: string): Promise<void> {
    const r = await this.call(a, 'DELETE', `/v1/captures/${sessionId}`);
    // 404: the agent no longer runs it (expired locally, or restarted): that is the goal
    if (r.kind === 'refused' && r.status !== 404) this.o.log?.('agent refused to stop a capture', { agent: a.name, session: sessionId, error: r.message });
  }

  /** Sets state and reason, keeping the counters. */
  private async setState(sessionId: string, sa: SessionAgentRecord, state: 'capturing' | 'failed', reason: string | null): Promise<void> {
    const cur = (await this.o.storage.getSessionAgents(sessionId)).find((x) => x.agent_id === sa.agent_id) ?? sa;
    await this.o.storage.reportCounters(
      sa.agent_id,
      [
        {
          session_id: sessionId,
          packets_seen: cur.packets_seen,
          packets_matched: cur.packets_matched,
          events_uploaded: cur.events_uploaded,
          dropped: cur.dropped,
          state,
          ...(reason !== null ? { reason } : {}),
        },
      ],
      this.o.now(),
    );
  }

  private unreachable(a: AgentRecord, message: string): CallResult {
    this.reach.set(a.id, { ok: false, at: this.o.now(), error: message });
    return { kind: 'unreachable', message };
  }

  private async call(a: AgentRecord, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<CallResult> {
    const token = await this.o.vault.get(vaultKey(a));
    if (token === null) {
      return this.unreachable(
        a,
        `the center has no usable token for "${a.name}" (saved before tokens were kept, or secret.key changed): save the agent again with its token (POST /api/agents)`,
      );
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${a.url.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        // the timeout covers reading the answer too: a peer trickling bytes is cut off with it
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: 'error',
      });
      text = await readBounded(res, AGENT_ANSWER_MAX_BYTES);
    } catch (e) {
      if (!(e instanceof AnswerTooLarge)) return this.unreachable(a, clip(`cannot reach ${a.url}: ${networkMessage(e, this.o.timeoutMs)}`));
      // not used, and shown: the agent is offline on its sessions with this reason, and counted
      this.o.onAnswerTooLarge?.(a.name);
      return this.unreachable(a, `the agent's answer to ${method} ${path} is larger than the center reads (${AGENT_ANSWER_MAX_BYTES / 1024 / 1024} MiB); ignored`);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? null : (JSON.parse(text) as unknown);
    } catch {
      parsed = null;
    }
    this.reach.set(a.id, { ok: true, at: this.o.now() });
    if (res.ok) return { kind: 'ok', status: res.status, body: parsed };
    const err = (parsed as { error?: { message?: unknown } } | null)?.error;
    const message = typeof err?.message === 'string' ? err.message : `HTTP ${res.status} ${res.statusText}`;
    return { kind: 'refused', status: res.status, message: clip(message) };
  }
}
