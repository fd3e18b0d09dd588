// Capture criteria (DESIGN §3, §5): what an operator may ask agents to capture. Owns the rules
// every entry point shares (API, agent command, `tunaio filter`): trimming, length limits, IP/CIDR
// validation, method normalisation, and "at least one criterion other than method".
// It does not match anything: the matcher lives in core/match. The zod-free part (limits, the
// Criteria type, the fast path used by `tunaio filter`) is criteria-rules.ts.
import * as z from 'zod';

import { CRITERION_MAX_LENGTH, DOMAIN_NAME, METHOD_MAX_LENGTH, SIP_TOKEN, TEXT_MIN_LENGTH } from './criteria-rules.js';
import type { Criteria } from './criteria-rules.js';

export * from './criteria-rules.js';

// An empty string after trimming means "not given", so forms can send every field.
const optional = <T extends z.ZodType<string | undefined>>(inner: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), inner.optional());

const bounded = (what: string, min = 1) =>
  z
    .string()
    .trim()
    .min(min, `${what} needs at least ${min} characters`)
    .max(CRITERION_MAX_LENGTH, `${what} is limited to ${CRITERION_MAX_LENGTH} characters`);

export const providerIpSchema = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], {
  error: 'provider_ip must be an IPv4 or IPv6 address or a CIDR block (e.g. 203.0.113.7 or 203.0.113.0/24)',
});

export const criteriaSchema = z
  .object({
    from: optional(bounded('from')),
    to: optional(bounded('to')),
    tenant: optional(bounded('tenant')),
    domain: optional(
      bounded('domain').regex(DOMAIN_NAME, 'domain must be a host name such as example.com'),
    ),
    provider_ip: optional(z.string().trim().pipe(providerIpSchema)),
    text: optional(bounded('text', TEXT_MIN_LENGTH)),
    call_id: optional(bounded('call_id')),
    method: optional(
      z
        .string()
        .trim()
        .max(METHOD_MAX_LENGTH, `method is limited to ${METHOD_MAX_LENGTH} characters`)
        .regex(SIP_TOKEN, 'method must be a SIP method token such as INVITE')
        .transform((m) => m.toUpperCase()),
    ),
  })
  .strict();

// the hand-written Criteria (criteria-rules.ts) is the schema's output type, exactly
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const criteriaTypeMatches: Same<z.output<typeof criteriaSchema>, Criteria> = true;
void criteriaTypeMatches;
