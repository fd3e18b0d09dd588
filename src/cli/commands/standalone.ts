// `tunaio standalone` (what `npm start` runs): the center plus the local agent's registration — agent
// `local`, tag `local`, http://127.0.0.1:9070, with a token generated once and kept in
// <data>/local-agent.token (mode 0600) so the agent process can read it. The agent process itself
// joins this command when it exists.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { newToken } from '../../center/index.js';
import { centerConfigFrom, centerOptions } from './center-options.js';
import { printBootstrap, runUntilSignal } from './center.js';

export const LOCAL_AGENT = { name: 'local', url: 'http://127.0.0.1:9070', tags: ['local'] };

/** The local agent's token: read from the data folder, or generated and stored there. */
export function localAgentToken(dataDir: string): string {
  const file = path.join(dataDir, 'local-agent.token');
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    if (t.length >= 22) return t;
  } catch {
    // first start
  }
  const token = newToken();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export const standalone: Command = {
  spec: {
    name: 'standalone',
    summary: 'command center + a local agent on loopback and HEP UDP 9060 (what `npm start` runs)',
    usage: 'tunaio standalone [--port 8080] [--host 127.0.0.1] [--data ./data]',
    options: centerOptions,
  },
  async run(values) {
    const config = centerConfigFrom(values, process.env);
    fs.mkdirSync(config.dataDir, { recursive: true });
    const token = localAgentToken(config.dataDir);
    return runUntilSignal(config, async (c) => {
      await c.ensureAgent({ ...LOCAL_AGENT, token });
      printBootstrap(c);
      process.stdout.write(`tunaio standalone: open ${c.url}/ (data: ${c.config.dataDir}; agent "local" registered)\n`);
    });
  },
};
