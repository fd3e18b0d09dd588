// `tunaio standalone` (what `npm start` runs): center + one local agent.
import type { Command } from '../command.js';
import { centerOptions } from './center-options.js';

export const standalone: Command = {
  spec: {
    name: 'standalone',
    summary: 'command center + a local agent on loopback and HEP UDP 9060 (what `npm start` runs)',
    usage: 'tunaio standalone [--port 8080] [--host 127.0.0.1] [--data ./data]',
    options: centerOptions,
  },
  async run() {
    process.stderr.write('tunaio standalone: not built yet\n');
    return 1;
  },
};
