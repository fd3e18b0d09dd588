// Capture criteria (DESIGN §3, §5): what an operator may ask agents to capture. Owns the rules
// every entry point shares (API, agent command, `tunaio filter`): trimming, length limits, IP/CIDR
// validation, method normalisation, and "at least one criterion other than method".
// It does not match anything: the matcher lives in core/match.
import * as z from 'zod';

export const CRITERION_MAX_LENGTH = 256;
/** `text` is a substring search: shorter markers would capture almost everything. */
export const TEXT_MIN_LENGTH = 3;

/** The criteria that select traffic on their own; `method` only narrows (seed: "not enough by itself"). */
export const SEARCH_CRITERIA = ['from', 'to', 'tenant', 'domain', 'provider_ip', 'text', 'call_id'] as const;
export type SearchCriterion = (typeof SEARCH_CRITERIA)[number];

// An empty string after trimming means "not given", so forms can send every field.
const optional = <T extends z.ZodType<string | undefined>>(inner: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), inner.optional());

const bounded = (what: string, min = 1) =>
  z
    .string()
    .trim()
    .min(min, `${what} needs at least ${min} characters`)
    .max(CRITERION_MAX_LENGTH, `${what} is limited to ${CRITERION_MAX_LENGTH} characters`);

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
const SIP_TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export const providerIpSchema = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], {
  error: 'provider_ip must be an IPv4 or IPv6 address or a CIDR block (e.g. 203.0.113.7 or 203.0.113.0/24)',
});

export const criteriaSchema = z
  .object({
    from: optional(bounded('from')),
    to: optional(bounded('to')),
    tenant: optional(bounded('tenant')),
    domain: optional(
      bounded('domain').regex(/^[A-Za-z0-9.-]+$/, 'domain must be a host name such as example.com'),
    ),
    provider_ip: optional(z.string().trim().pipe(providerIpSchema)),
    text: optional(bounded('text', TEXT_MIN_LENGTH)),
    call_id: optional(bounded('call_id')),
    method: optional(
      z
        .string()
        .trim()
        .max(32, 'method is limited to 32 characters')
        .regex(SIP_TOKEN, 'method must be a SIP method token such as INVITE')
        .transform((m) => m.toUpperCase()),
    ),
  })
  .strict();

export type Criteria = z.infer<typeof criteriaSchema>;

/** True when the criteria select traffic by something other than `method`. */
export const hasSearchCriterion = (c: Criteria): boolean => SEARCH_CRITERIA.some((k) => c[k] !== undefined);

export const CRITERIA_REQUIRED_MESSAGE =
  `at least one search criterion other than method is required: ${SEARCH_CRITERIA.join(', ')} ` +
  '(method can narrow a capture but is not enough by itself)';
