// The command center's public surface: build it (createCenter, for in-process tests with inject),
// or build it and listen (startCenter, for the cli and SSE tests).
import type { AgentView } from '../core/schema/index.js';
import { DEFAULT_ORG_ID } from '../core/schema/index.js';
import { createCenter } from './app.js';
import type { Center } from './app.js';
import type { CenterConfig } from './config.js';
import { upsertAgent } from './routes/agents/routes.js';

export type { Center } from './app.js';
export type { CenterConfig } from './config.js';
export { CENTER_DEFAULTS } from './config.js';
export type { BootstrapCredentials } from './auth/bootstrap.js';
export { createCenter } from './app.js';
export { newToken } from './auth/secrets.js';

export interface RunningCenter extends Center {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  /** add or update an agent by name (what POST /api/agents does), e.g. standalone's `local` */
  ensureAgent(a: { name: string; url: string; token: string; tags: string[]; enabled?: boolean }): Promise<AgentView>;
}

export async function startCenter(config: CenterConfig): Promise<RunningCenter> {
  const center = await createCenter(config);
  try {
    await center.app.listen({ port: center.config.port, host: center.config.host });
  } catch (e) {
    await center.close();
    throw e;
  }
  const addr = center.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : center.config.port;
  const host = center.config.host.includes(':') ? `[${center.config.host}]` : center.config.host;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  // agents are called only once the center can be reached back (ingest_url)
  center.ctx.agents.start(center.config.publicUrl ?? url);
  return {
    ...center,
    url,
    async ensureAgent(a) {
      const { agent } = await upsertAgent(center.ctx, { enabled: true, ...a }, DEFAULT_ORG_ID);
      return agent;
    },
  };
}
