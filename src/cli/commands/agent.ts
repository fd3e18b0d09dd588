// `tunaio agent`: one capture agent.
import type { Command } from '../command.js';

export const agent: Command = {
  spec: {
    name: 'agent',
    summary: 'run one capture agent (live, HEP, log and file sources)',
    usage: 'tunaio agent --name NAME --token TOKEN [--interface lo] [--hep udp:0.0.0.0:9060] [--log PATH]',
    options: [
      { name: 'name', type: 'string', arg: 'NAME', help: 'agent name, as registered on the center' },
      { name: 'token', type: 'string', arg: 'TOKEN', help: 'agent token: authenticates the command API and ingest' },
      { name: 'listen', type: 'string', default: '127.0.0.1:9070', arg: 'HOST:PORT', help: 'command API address' },
      { name: 'interface', type: 'string', multiple: true, arg: 'IFACE', help: 'live capture interface (`any` allowed)' },
      { name: 'bpf', type: 'string', arg: 'FILTER', help: 'BPF capture filter' },
      { name: 'snaplen', type: 'number', default: 8192, arg: 'BYTES', help: 'capture snap length' },
      { name: 'hep', type: 'string', multiple: true, arg: 'udp:ADDR:PORT', help: 'HEP v2/v3 listener (udp: or tcp:)' },
      { name: 'log', type: 'string', multiple: true, arg: 'PATH', help: 'log file to tail (rotation-safe)' },
      { name: 'read', type: 'string', arg: 'FILE', help: 'replay a pcap/pcapng file' },
      { name: 'spool', type: 'string', arg: 'DIR', help: 'on-disk spool for events while the center is unreachable' },
    ],
  },
  async run() {
    process.stderr.write('tunaio agent: not built yet\n');
    return 1;
  },
};
