// The capture-criteria rules that need no schema library: the shape of `Criteria`, the limits, which
// criteria select traffic on their own, and a fast path that normalises the usual command-line
// criteria exactly as `criteriaSchema` (criteria.ts) does. The matcher and `tunaio filter` import
// this module, so they start without loading zod (≈ 0.12 s of a short filter run); anything the fast
// path is not certain of goes to the zod schema, which stays the contract and words every error.
// The two are held equal by criteria-fast.case.test.ts.

export const CRITERION_MAX_LENGTH = 256;
/** `text` is a substring search: shorter markers would capture almost everything. */
export const TEXT_MIN_LENGTH = 3;
export const METHOD_MAX_LENGTH = 32;

/** The criteria that select traffic on their own; `method` only narrows (seed: "not enough by itself"). */
export const SEARCH_CRITERIA = ['from', 'to', 'tenant', 'domain', 'provider_ip', 'text', 'call_id'] as const;
export type SearchCriterion = (typeof SEARCH_CRITERIA)[number];

/** Validated criteria (the output of `criteriaSchema`): trimmed, `method` upper-cased. */
export interface Criteria {
  from?: string;
  to?: string;
  tenant?: string;
  domain?: string;
  provider_ip?: string;
  text?: string;
  call_id?: string;
  method?: string;
}

/** True when the criteria select traffic by something other than `method`. */
export const hasSearchCriterion = (c: Criteria): boolean => SEARCH_CRITERIA.some((k) => c[k] !== undefined);

export const CRITERIA_REQUIRED_MESSAGE =
  `at least one search criterion other than method is required: ${SEARCH_CRITERIA.join(', ')} ` +
  '(method can narrow a capture but is not enough by itself)';

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
export const SIP_TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
export const DOMAIN_NAME = /^[A-Za-z0-9.-]+$/;

/** the schema's keys, in its order (the order of its output) */
const KEYS = ['from', 'to', 'tenant', 'domain', 'provider_ip', 'text', 'call_id', 'method'] as const;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
/** dotted-quad IPv4, optionally /0–32, as zod's ipv4 / cidrv4 formats accept them */
const IPV4_OR_CIDR = new RegExp(`^(?:${OCTET}\\.){3}${OCTET}(?:/(?:[0-9]|[12][0-9]|3[0-2]))?$`);

/**
 * The criteria as `criteriaSchema.parse(raw)` would return them, when the fast path is certain of
 * it: only string values, none empty after trimming, no IPv6 `provider_ip`, every rule met.
 * `undefined` means "ask the schema" (which then accepts, or rejects with its message).
 */
export function criteriaFast(raw: Record<string, unknown>): Criteria | undefined {
  if (Object.getPrototypeOf(raw) !== Object.prototype && Object.getPrototypeOf(raw) !== null) return undefined;
  const keys = Object.keys(raw);
  for (const k of keys) if (!(KEYS as readonly string[]).includes(k)) return undefined;
  const out: Criteria = {};
  for (const k of KEYS) {
    if (!Object.hasOwn(raw, k)) continue;
    const v = raw[k];
    if (typeof v !== 'string') return undefined;
    const t = v.trim();
    if (t === '') return undefined;
    if (k === 'method') {
      if (t.length > METHOD_MAX_LENGTH || !SIP_TOKEN.test(t)) return undefined;
      out.method = t.toUpperCase();
      continue;
    }
    if (t.length < (k === 'text' ? TEXT_MIN_LENGTH : 1) || t.length > CRITERION_MAX_LENGTH) return undefined;
    if (k === 'domain' && !DOMAIN_NAME.test(t)) return undefined;
    if (k === 'provider_ip' && !IPV4_OR_CIDR.test(t)) return undefined;
    out[k] = t;
  }
  return out;
}
