// `tunaio center`: the command center alone.
import type { Command } from '../command.js';
import { centerOptions } from './center-options.js';

export const center: Command = {
  spec: {
    name: 'center',
    summary: 'run the command center (HTTP API, web UI, SSE) alone',
    usage: 'tunaio center [--port 8080] [--host 127.0.0.1] [--data ./data]',
    options: centerOptions,
  },
  async run() {
    process.stderr.write('tunaio center: not built yet\n');
    return 1;
  },
};
