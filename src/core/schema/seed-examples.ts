// The seed's three POST /api/sessions request bodies, word for word
// (../shared/seed/000_732d9fd9507f83e8.txt). Tests prove they are accepted as written; docs may show them.
export const SEED_SESSION_BODIES = [
  {
    label: 'customer DID test',
    duration_seconds: 3600,
    criteria: { from: '15554430191', to: '15558672044', method: 'INVITE' },
    capture_rtp: false,
    capture_pcap: true,
    agent_ids: [12, 18, 29],
  },
  {
    label: 'registration trace',
    duration_seconds: 900,
    criteria: { text: 'customer-domain.example', method: 'REGISTER' },
    capture_rtp: false,
    capture_pcap: false,
    agent_ids: [7, 8],
  },
  {
    label: 'known call follow-up',
    duration_seconds: 1800,
    criteria: { call_id: 'c38b4c9d7b0e@example-sbc', method: 'INVITE' },
    capture_rtp: true,
    capture_pcap: true,
    agent_ids: [2, 9, 14, 23],
  },
] as const;
