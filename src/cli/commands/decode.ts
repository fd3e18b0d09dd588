// `tunaio decode FILE… [--json]`: every SIP message found in capture files, one line each.
import type { Command } from '../command.js';

export const decode: Command = {
  spec: {
    name: 'decode',
    summary: 'print every SIP message in capture files, one line each',
    usage: 'tunaio decode FILE… [--json]',
    positionals: true,
    options: [{ name: 'json', type: 'boolean', help: 'one JSON object per line' }],
  },
  async run() {
    process.stderr.write('tunaio decode: not built yet\n');
    return 1;
  },
};
