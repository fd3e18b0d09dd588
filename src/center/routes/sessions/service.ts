// Session actions behind the routes: create (criteria rule, agent selection), detail, stop, purge.
import { TunaError } from '../../../core/errors.js';
import { CRITERIA_REQUIRED_MESSAGE, hasSearchCriterion } from '../../../core/schema/index.js';
import type { SessionCreate, SessionDetail } from '../../../core/schema/index.js';
import { newSessionId } from '../../auth/secrets.js';
import type { CenterContext } from '../../context.js';
import { sees } from '../../http/auth.js';
import type { Caller } from '../../http/auth.js';
import type { AgentRecord, SessionRecord } from '../../storage/types.js';
import { presentDetail, presentSessionAgent } from './present.js';

const agentLabel = (a: AgentRecord): string => `${a.id} (${a.name})`;

/** agent_ids ∪ enabled agents carrying any of agent_tags; 400 naming unknown or disabled agents. */
export function selectAgents(all: AgentRecord[], ids: number[], tags: string[]): AgentRecord[] {
  if (ids.length === 0 && tags.length === 0) {
    throw new TunaError('no_agents_selected', 'choose the agents to capture on with agent_ids and/or agent_tags');
  }
  const byId = new Map(all.map((a) => [a.id, a]));
  const unknown = [...new Set(ids.filter((id) => !byId.has(id)))];
  if (unknown.length > 0) {
    throw new TunaError(
      'unknown_agents',
      `unknown agent id${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (GET /api/agents lists the agents)`,
    );
  }
  const disabled = [...new Set(ids)].map((id) => byId.get(id) as AgentRecord).filter((a) => !a.enabled);
  if (disabled.length > 0) {
    throw new TunaError(
      'disabled_agents',
      `disabled agent${disabled.length > 1 ? 's' : ''}: ${disabled.map(agentLabel).join(', ')}; enable them or leave them out`,
    );
  }
  const chosen = new Map<number, AgentRecord>();
  for (const id of ids) chosen.set(id, byId.get(id) as AgentRecord);
  if (tags.length > 0) {
    const wanted = new Set(tags.map((t) => t.toLowerCase()));
    const tagged = all.filter((a) => a.enabled && a.tags.some((t) => wanted.has(t.toLowerCase())));
    if (tagged.length === 0) {
      throw new TunaError('no_agents_selected', `no enabled agent carries any of the tags: ${tags.join(', ')}`);
    }
    for (const a of tagged) chosen.set(a.id, a);
  }
  return [...chosen.values()].sort((a, b) => a.id - b.id);
}

export async function createSession(ctx: CenterContext, body: SessionCreate, who: Caller): Promise<SessionRecord> {
  if (!hasSearchCriterion(body.criteria)) throw new TunaError('criteria_required', CRITERIA_REQUIRED_MESSAGE);
  // only the caller's organisation's agents exist for it (a platform admin sees every one)
  const agents = selectAgents(await ctx.storage.listAgents(who.scope), body.agent_ids, body.agent_tags);
  // a session belongs to one organisation, and so do all its agents
  const orgs = [...new Set(agents.map((a) => a.org_id))];
  if (orgs.length > 1) {
    throw new TunaError('bad_request', `the agents chosen belong to ${orgs.length} organisations (${orgs.join(', ')}); a session captures on agents of one organisation`);
  }
  // whole seconds, so expires_at on the wire is exact
  const createdAt = Math.floor(ctx.config.now() / 1000) * 1000;
  const s = await ctx.storage.createSession({
    id: newSessionId(),
    org_id: orgs[0],
    label: body.label,
    criteria: body.criteria,
    capture_rtp: body.capture_rtp,
    capture_pcap: body.capture_pcap,
    duration_seconds: body.duration_seconds,
    created_at: createdAt,
    expires_at: createdAt + body.duration_seconds * 1000,
    agent_ids: agents.map((a) => a.id),
  });
  if (s.capture_pcap) await ctx.pcap.store.create(s.id);
  ctx.lifecycle.schedule(s);
  // every selected agent is told at once, in parallel; the answers set the per-agent states
  void ctx.agents.pushStart(s);
  return s;
}

/** The session, or 404 when it does not exist or belongs to an organisation the caller does not see. */
export async function getSessionOr404(ctx: CenterContext, id: string, who: Caller): Promise<SessionRecord> {
  const s = await ctx.storage.getSession(id);
  if (!s || !sees(who, s.org_id)) throw new TunaError('session_not_found', `no session ${id}`);
  return s;
}

export async function sessionDetail(ctx: CenterContext, s: SessionRecord): Promise<SessionDetail> {
  const now = ctx.config.now();
  const agents = new Map((await ctx.storage.listAgents(s.org_id)).map((a) => [a.id, a]));
  const perAgent = (await ctx.storage.getSessionAgents(s.id)).map((sa) =>
    presentSessionAgent(
      sa,
      agents.get(sa.agent_id),
      now,
      ctx.config.agentOfflineSeconds * 1000,
      s.status === 'running',
      ctx.agents.reachOf(sa.agent_id),
    ),
  );
  const pcap =
    s.capture_pcap &&
    s.pcap_deleted_at === null &&
    ((await ctx.pcap.store.snapshot(s.id)).length > 0 || (await ctx.storage.hasFrames(s.id)));
  return presentDetail(s, perAgent, await ctx.storage.countEventsByKind(s.id), pcap);
}

export async function purgeSession(ctx: CenterContext, s: SessionRecord): Promise<void> {
  if (s.status === 'running') {
    throw new TunaError('session_running', `session ${s.id} is running; stop it first (DELETE without ?purge=1)`);
  }
  await ctx.storage.purgeSession(s.id);
  await ctx.pcap.store.remove(s.id);
}
