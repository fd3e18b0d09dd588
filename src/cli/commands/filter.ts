// `tunaio filter`: apply the session criteria engine to capture files.
import type { Command } from '../command.js';

export const filter: Command = {
  spec: {
    name: 'filter',
    summary: 'apply capture criteria to pcap/pcapng files; write matching packets',
    usage: 'tunaio filter --read FILE… [--from N] [--to N] … [--write OUT.pcap] [--json]',
    options: [
      { name: 'read', type: 'string', multiple: true, arg: 'FILE', help: 'input capture file' },
      { name: 'from', type: 'string', arg: 'NUMBER', help: 'caller (From/PAI/PPI/RPID user)' },
      { name: 'to', type: 'string', arg: 'NUMBER', help: 'called number (R-URI/To/Diversion/History-Info user)' },
      { name: 'tenant', type: 'string', arg: 'CODE', help: 'tenant code' },
      { name: 'domain', type: 'string', arg: 'DOMAIN', help: 'SIP domain (or parent domain)' },
      { name: 'provider-ip', type: 'string', arg: 'IP|CIDR', help: 'source or destination IP' },
      { name: 'text', type: 'string', arg: 'TEXT', help: 'case-insensitive substring' },
      { name: 'call-id', type: 'string', arg: 'CALLID', help: 'exact Call-ID' },
      { name: 'method', type: 'string', arg: 'METHOD', help: 'method that creates the dialog' },
      { name: 'rtp', type: 'boolean', help: 'also keep RTP/RTCP negotiated by matched dialogs' },
      { name: 'write', type: 'string', arg: 'OUT.pcap', help: 'write matching packets to this pcap' },
      { name: 'json', type: 'boolean', help: 'print matching SIP messages as JSON lines' },
    ],
  },
  async run() {
    process.stderr.write('tunaio filter: not built yet\n');
    return 1;
  },
};
