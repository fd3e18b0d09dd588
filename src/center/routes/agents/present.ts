// Agent rows → the agent view: never the token.
import { isoTime } from '../../../core/schema/index.js';
import type { AgentView } from '../../../core/schema/index.js';
import type { AgentRecord } from '../../storage/types.js';
import type { AgentReach } from '../../agents/commander.js';
import { agentIsOnline } from '../sessions/present.js';

export function presentAgent(a: AgentRecord, now: number, offlineMs: number, reach?: AgentReach): AgentView {
  return {
    id: a.id,
    org_id: a.org_id,
    name: a.name,
    url: a.url,
    enabled: a.enabled,
    tags: a.tags,
    status: agentIsOnline(a, now, offlineMs, reach) ? 'online' : 'offline',
    last_seen: a.last_seen === null ? null : isoTime(a.last_seen),
    version: a.version,
    sources: a.sources,
  };
}
