// B2BUA and SBC legs of one call (issue 13): a back-to-back UA ends one dialog and starts another
// with a new Call-ID, so the legs share no SIP identifier unless the platform carries one across.
// Legs are linked, in this order of trust, by:
//   - a header naming the other leg's Call-ID (`X-CID`, `X-Call-ID`, configurable as sngrep's
//     sip.xcid): the two Call-IDs are linked directly;
//   - RFC 7989 `Session-ID` (end-to-end, kept by a compliant B2BUA): legs carrying the same non-null
//     UUID (local or remote) are linked;
//   - `P-Charging-Vector` icid-value (RFC 7315 §4.6, kept across an IMS call): the same icid links;
//   - Call-IDs a platform collector reports as legs of one call (`MatchEngine.linkCallIds`);
//   - inferred, when none of those is there (`inferLegs`, labelled so on events and the ladder): a new
//     INVITE sent by the host a captured INVITE went to, within 5 s, to the same called number (the
//     suffix rule of numbers.ts) is taken as that call's next leg — what a B2BUA without X-CID does.
// Linked keys form groups (union by size); a group records the sessions that follow it, so a leg
// that links later is captured by them too. Bounded: the oldest groups go first, counted.
import type { SipMessage } from '../../protocol/sip.js';
import { own, type SessionState } from './dialog.js';
import { compileUserMatcher, telephoneDigits, type UserMatcher } from './numbers.js';

/** how long after a captured INVITE a B2BUA's new leg may follow it to be inferred as its leg */
export const INFER_WINDOW_US = 5_000_000;
const INFER_MAX = 4096;

interface RecentInvite {
  tsUs: number;
  called: UserMatcher;
  callId: string;
  /** the captured INVITE's own hop ("ip port" both ends): a leg of it is a different hop */
  hop: string;
}

export class LegGroup {
  /** a link of this group was inferred (number and time), not read from a header or a platform */
  inferred = false;
  /** the Call-IDs of the legs (and the Session-ID / icid keys that joined them) */
  keys: string[] = [];
  callIds: string[] = [];
  sessions: SessionState[] = [];
}

/** Default headers carrying the other leg's Call-ID (sngrep's sip.xcid default is X-Call-ID, X-CID). */
export const DEFAULT_LINK_HEADERS: readonly string[] = ['x-cid', 'x-call-id'];

const NULL_UUID = '00000000000000000000000000000000';
const UUID = /^[0-9a-f]{32}$/;

export class LegLinks {
  private readonly byKey = new Map<string, LegGroup>();
  evicted = 0;
  /**
   * true once a group followed by a session holds a Session-ID or icid key: from then on any message
   * carrying those headers may be a leg of it (conservative: never reset)
   */
  capturedKeys = false;
  constructor(
    readonly headers: readonly string[],
    private readonly maxKeys: number,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  groupOf(callId: string): LegGroup | undefined {
    return this.byKey.get(callId);
  }

  /**
   * The link keys a message carries: Call-IDs in the link headers, Session-ID UUIDs, the icid.
   * Empty for most messages (no header of the kind).
   */
  keysOf(msg: SipMessage): string[] {
    let out: string[] | undefined;
    for (const h of this.headers) {
      const v = msg.header(h);
      if (v !== undefined && v.trim() !== '') (out ??= []).push(v.trim());
    }
    const sid = msg.header('session-id');
    if (sid !== undefined) {
      // Session-ID: <local-uuid>;remote=<remote-uuid> (RFC 7989 §5), either may be the null UUID
      const local = sid.split(';')[0].trim().toLowerCase();
      if (UUID.test(local) && local !== NULL_UUID) (out ??= []).push(`session-id:${local}`);
      const remote = /;\s*remote\s*=\s*([0-9a-fA-F]{32})/.exec(sid)?.[1]?.toLowerCase();
      if (remote !== undefined && remote !== NULL_UUID) (out ??= []).push(`session-id:${remote}`);
    }
    const pcv = msg.header('p-charging-vector');
    if (pcv !== undefined) {
      const icid = /(?:^|;)\s*icid-value\s*=\s*"?([^;"\s]+)/i.exec(pcv)?.[1];
      if (icid !== undefined) (out ??= []).push(`icid:${icid}`);
    }
    return out ?? [];
  }

  /** Links Call-ID `callId` with the keys (other Call-IDs, `session-id:`/`icid:` keys); the group. */
  link(callId: string, keys: readonly string[]): LegGroup {
    let g = this.add(callId, true);
    for (const k of keys) {
      if (k === callId) continue;
      const isCallId = !k.startsWith('session-id:') && !k.startsWith('icid:');
      g = this.union(g, this.add(k, isCallId));
    }
    return g;
  }

  private add(key: string, isCallId: boolean): LegGroup {
    let g = this.byKey.get(key);
    if (g !== undefined) return g;
    if (this.byKey.size >= this.maxKeys) this.evictOldest();
    g = new LegGroup();
    const k = own(key);
    g.keys.push(k);
    if (isCallId) g.callIds.push(k);
    this.byKey.set(k, g);
    return g;
  }

  private union(a: LegGroup, b: LegGroup): LegGroup {
    if (a === b) return a;
    const [big, small] = a.keys.length >= b.keys.length ? [a, b] : [b, a];
    for (const k of small.keys) {
      big.keys.push(k);
      this.byKey.set(k, big);
    }
    for (const c of small.callIds) big.callIds.push(c);
    for (const s of small.sessions) if (!big.sessions.includes(s)) big.sessions.push(s);
    if (big.sessions.length > 0 && big.keys.length > big.callIds.length) this.capturedKeys = true;
    return big;
  }

  /** Session `s` follows group `g`. */
  follow(g: LegGroup, s: SessionState): void {
    if (g.sessions.includes(s)) return;
    g.sessions.push(s);
    if (g.keys.length > g.callIds.length) this.capturedKeys = true;
  }

  // ---- inferred legs ----------------------------------------------------------------------------

  /** captured initial INVITEs by the address they went to (canonical text) */
  private readonly recent = new Map<string, RecentInvite[]>();

  get hasRecent(): boolean {
    return this.recent.size > 0;
  }

  /** true while a captured INVITE is recent enough for a leg to be inferred from it */
  hasRecentTo(ip: string): boolean {
    return this.recent.has(ip);
  }

  /** A captured initial INVITE to `dstIp` calling `calledUser` (a number, else nothing is noted). */
  noteInvite(dstIp: string, tsUs: number, calledUser: string | undefined, callId: string, hop: string): void {
    if (calledUser === undefined || telephoneDigits(calledUser) === null) return;
    const list = this.recent.get(dstIp) ?? [];
    if (list.some((r) => r.callId === callId)) return;
    if (this.recent.size >= INFER_MAX && !this.recent.has(dstIp)) this.recent.delete(this.recent.keys().next().value as string);
    list.push({ tsUs, called: compileUserMatcher(calledUser), callId: own(callId), hop: own(hop) });
    if (list.length > 16) list.shift();
    this.recent.set(own(dstIp), list);
  }

  /**
   * The Call-ID of the captured call whose next leg a new INVITE from `srcIp` calling `calledUser` is, if
   * any. A new call on the same hop (same source and destination address and port: a UA placing its next
   * call, as sipp does on loopback) is never a leg: a B2BUA's leg leaves it towards another hop.
   */
  inferFrom(srcIp: string, tsUs: number, calledUser: string | undefined, callId: string, hop: string): string | undefined {
    const list = this.recent.get(srcIp);
    if (list === undefined || calledUser === undefined) return undefined;
    const live = list.filter((r) => tsUs - r.tsUs <= INFER_WINDOW_US && r.tsUs <= tsUs + 1_000_000);
    if (live.length === 0) this.recent.delete(srcIp);
    else if (live.length < list.length) this.recent.set(srcIp, live);
    for (let i = live.length - 1; i >= 0; i--) if (live[i].callId !== callId && live[i].hop !== hop && live[i].called.test(calledUser)) return live[i].callId;
    return undefined;
  }

  /** A session stopped: it follows no group any more. */
  dropSession(s: SessionState): void {
    const seen = new Set<LegGroup>();
    for (const g of this.byKey.values()) {
      if (seen.has(g)) continue;
      seen.add(g);
      const i = g.sessions.indexOf(s);
      if (i >= 0) g.sessions.splice(i, 1);
    }
  }

  private evictOldest(): void {
    const first = this.byKey.keys().next();
    if (first.done === true) return;
    const g = this.byKey.get(first.value)!;
    for (const k of g.keys) this.byKey.delete(k);
    this.evicted++;
  }
}
