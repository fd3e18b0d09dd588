// A real B2BUA call replayed through the agent (issue 13): the shared heplify capture of a WebRTC
// caller through Kamailio into FreeSWITCH, which opens a new UDP leg with its own Call-ID and no
// linking header. A session on the A-leg caller gets both legs — the B leg linked by inference
// (FreeSWITCH sends the B-leg INVITE 28 ms after receiving the A-leg INVITE, to the same number),
// labelled so — and the ladder shows the legs together, lettered A and B. `tunaio filter` agrees.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { ReplaySource } from '../../src/agent/sources/replay.js';
import { IngestServer, waitFor } from '../../src/agent/testing/ingest-server.js';
import { runFilter } from '../../src/cli/commands/filter.js';
import { buildLadder } from '../../src/core/ladder/build.js';
import type { LadderEvent } from '../../src/core/ladder/types.js';

const FILE = join(resolve(process.cwd(), '../shared/pcaps'), 'sip_websocket_and_udp_b2bua_407__heplify.pcap');
const A_LEG = 'kovfhoptshgn59q712sr';
const B_LEG = '926ffd16-6154-1237-09ba-0270b3230128';
const CALLER = '12675941249_Uclx8s21Ck82KTJtkFC1ltbEbcHGKjXLrsz2bdJVWGX';
const TOKEN = 'agent-b2bua-token-0123456789';
const SID = 'b0000000000000000b2b';

const tsharkCount = (filter: string): number =>
  execFileSync('tshark', ['-r', FILE, '-Y', filter], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').filter((l) => l !== '').length;

let dir: string;
let center: IngestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-b2bua-'));
  center = new IngestServer(TOKEN);
  await center.start(0);
});
afterAll(async () => {
  await center?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('B2BUA legs on a shared capture', () => {
  it('a session on the A-leg caller gets both legs; the ladder shows them together, the link labelled inferred', async () => {
    const aLeg = tsharkCount(`sip.Call-ID == "${A_LEG}"`);
    const bLeg = tsharkCount(`sip.Call-ID == "${B_LEG}"`);
    const capture = { session_id: SID, criteria: { from: CALLER }, capture_rtp: false, capture_pcap: false, expires_at: new Date(Date.now() + 300_000).toISOString(), ingest_url: center.url };
    writeFileSync(join(dir, 'captures.json'), JSON.stringify([capture]));
    const a = new Agent({ name: 'b2bua', token: TOKEN, listen: null, read: FILE, spoolDir: dir });
    try {
      await a.start();
      await (a.sources.find((s) => s.kind === 'replay') as ReplaySource).done();
      await waitFor(() => center.of(SID).filter((e) => e.kind === 'sip').length >= aLeg + bLeg);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await a.stop();
    }
    const sip = center.of(SID).filter((e) => e.kind === 'sip');
    const byCall = (id: string) => sip.filter((e) => e.call_id === id);
    console.log(`b2bua replay: A leg ${byCall(A_LEG).length}/${aLeg}, B leg ${byCall(B_LEG).length}/${bLeg} SIP messages (received/tshark)`);
    expect(byCall(A_LEG)).toHaveLength(aLeg);
    expect(byCall(B_LEG)).toHaveLength(bLeg);
    expect(byCall(B_LEG).every((e) => e.linked_call_ids?.includes(A_LEG) && e.linked_inferred === true)).toBe(true);

    const events = sip.map((e, i) => ({ ...e, id: i + 1, agent_id: 1 })) as unknown as LadderEvent[];
    const ladder = buildLadder(events, { callId: A_LEG });
    const calls = ladder.calls.filter((c) => c.callId === A_LEG || c.callId === B_LEG);
    expect(calls.map((c) => [c.callId, c.leg, c.group, c.legsInferred])).toEqual([
      [A_LEG, 'A', A_LEG, true],
      [B_LEG, 'B', A_LEG, true],
    ]);
    // choosing the A leg shows both legs' arrows, each with its letter
    expect(new Set(ladder.arrows.map((x) => `${x.callId}:${x.leg}`))).toEqual(new Set([`${A_LEG}:A`, `${B_LEG}:B`]));

    let text = '';
    const sum = await runFilter({ files: [FILE], criteria: { from: CALLER }, output: 'json', out: (s) => (text += s) });
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { callId: string; legs?: string[]; legs_inferred?: boolean });
    expect(lines.filter((l) => l.callId === B_LEG).every((l) => l.legs?.includes(A_LEG) && l.legs_inferred === true)).toBe(true);
    expect(sum.matchedSip).toBe(aLeg + bLeg);
  }, 60_000);
});
