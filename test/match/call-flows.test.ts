// The call-flow suite (issue 13): every flow of flows.ts, with every criteria set, run through the
// agent's engine on datagrams (raw pre-checks + parse), on parsed messages (TCP/HEP path) and
// through `tunaio filter` on a pcapng of the flow; each must take exactly the expected packets.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanFlows, flowPcap, throughEngine, throughFilter, throughParsed } from './flow-kit.js';
import { FLOWS } from './flows.js';

const report: string[] = [];
afterAll(() => {
  cleanFlows();
  console.log(`call flows (flow | criteria | expected | engine | filter):\n${report.join('\n')}`);
});

describe('call flows from the RFCs and DESIGN §5', () => {
  for (const f of FLOWS) {
    describe(f.name, () => {
      for (const c of f.cases) {
        it(`${JSON.stringify(c.criteria)}${c.rtp ? ' +rtp' : ''}: ${c.why}`, async () => {
          const engine = throughEngine(f, c);
          const parsed = throughParsed(f, c);
          const file = flowPcap(f);
          const filtered = await throughFilter(f, c, file);
          const expectedSip = c.expect.filter((l) => f.packets.find((p) => p.label === l)!.data[0] < 0x80);
          const expectedMedia = c.expect.length - expectedSip.length;
          report.push(`${f.name} | ${JSON.stringify(c.criteria)} | ${c.expect.length} | ${engine.length} | ${filtered.sip.length + filtered.media}`);
          expect(engine, 'engine on datagrams').toEqual(c.expect);
          expect(parsed, 'engine on parsed messages').toEqual(c.expect);
          expect(filtered.sip, 'tunaio filter (SIP)').toEqual(expectedSip);
          expect(filtered.media, 'tunaio filter (media)').toBe(expectedMedia);
        });
      }
    });
  }
});
