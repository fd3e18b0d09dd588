// Options shared by `tunaio center` and `tunaio standalone` (DESIGN §1, §7).
import type { OptionSpec } from '../options.js';

export const centerOptions: OptionSpec[] = [
  { name: 'port', type: 'number', default: 8080, arg: 'PORT', help: 'HTTP port of the command center' },
  { name: 'host', type: 'string', default: '127.0.0.1', arg: 'HOST', help: 'address the command center listens on' },
  { name: 'data', type: 'string', default: './data', arg: 'DIR', help: 'data folder: SQLite database and PCAP files' },
];
