// criteriaFast (zod-free, used by `tunaio filter`) against criteriaSchema (the contract): whenever the
// fast path answers, its answer is exactly the schema's output; on the usual command-line criteria it
// does answer; and it never answers for an input the schema rejects.
import { describe, expect, it } from 'vitest';
import { prng } from '../../protocol/testing/prng.js';
import { criteriaSchema } from './criteria.js';
import { CRITERION_MAX_LENGTH, criteriaFast } from './criteria-rules.js';

const KEYS = ['from', 'to', 'tenant', 'domain', 'provider_ip', 'text', 'call_id', 'method'];
const VALUES: unknown[] = [
  '15554430191', '+1 (555) 443-0191', ' 4420700001 ', '\t816666\n', '\u00a0816666\u2003', '', '   ', 'ab', 'abc', 'INITECH',
  'x'.repeat(CRITERION_MAX_LENGTH), 'x'.repeat(CRITERION_MAX_LENGTH + 1), ` ${'y'.repeat(CRITERION_MAX_LENGTH)} `,
  'example.com', 'sip.example.net', 'exa mple.com', 'bücher.de', 'a_b.com',
  '203.0.113.7', '203.0.113.0/24', '10.0.0.0/8', '0.0.0.0/0', '255.255.255.255/32', '203.0.113.0/33', '01.2.3.4', '256.1.1.1',
  '1.2.3', '1.2.3.4/', '1.2.3.4/08', '2001:db8::1', '2001:db8::/32', '::ffff:1.2.3.4', 'fe80::1%eth0',
  'invite', 'INVITE', 'Register', 'INV ITE', 'X-CUSTOM.method!', 'M'.repeat(32), 'M'.repeat(33), 'ÄCK',
  'abc@host', 'a6f1c2d4-91b7@10.0.0.1', 5, null, true, ['1555'], { v: 1 },
];

describe('criteriaFast is criteriaSchema, where it answers', () => {
  it('agrees on 20 000 random criteria objects', () => {
    const rnd = prng(20261126);
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      const raw: Record<string, unknown> = {};
      const n = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < n; j++) raw[KEYS[Math.floor(rnd() * KEYS.length)]] = VALUES[Math.floor(rnd() * VALUES.length)];
      if (rnd() < 0.02) raw.caller = '1555';
      const fast = criteriaFast(raw);
      const zod = criteriaSchema.safeParse(raw);
      if (fast === undefined) continue;
      answered++;
      expect(zod.success, JSON.stringify(raw)).toBe(true);
      expect(fast, JSON.stringify(raw)).toStrictEqual(zod.data);
      expect(Object.keys(fast)).toEqual(Object.keys(zod.data!));
    }
    expect(answered).toBeGreaterThan(2_000);
  });

  it.each([
    [{ from: '816666' }],
    [{ to: ' 4420700001 ', method: 'invite' }],
    [{ provider_ip: '203.0.113.0/24', text: 'INITECH' }],
    [{ domain: 'example.net', tenant: 'acme', call_id: 'abc@host' }],
  ])('answers for the usual command-line criteria %j', (raw) => {
    expect(criteriaFast(raw)).toStrictEqual(criteriaSchema.parse(raw));
  });

  it('leaves to the schema what it is not sure of', () => {
    for (const raw of [{ provider_ip: '2001:db8::1' }, { from: '' }, { from: 5 }, { caller: '1' }, Object.create({ from: '1' }) as object]) {
      expect(criteriaFast(raw as Record<string, unknown>)).toBeUndefined();
    }
  });
});
