// What the engine keeps per captured dialog and per session, and the small helpers they share: the
// Dialog record (Call-ID, how it was created, its initiator's From-tag, state, deadline, LRU links,
// media), the SessionState of one session, and string helpers that keep tables compact.
import type { SipMessage } from '../../protocol/sip.js';
import type { Criteria } from '../schema/criteria-rules.js';
import type { CompiledCriteria } from './criteria.js';
import type { SessionCounters, SessionSpec } from './engine-types.js';
import type { DialogMedia } from './media-tracker.js';

export const enum St {
  Active = 0,
  Ending = 1,
  Ended = 2,
}

export const enum Kind {
  Invite = 0,
  Subscribe = 1,
  Transaction = 2,
  Unknown = 3,
}

export class SessionState {
  readonly id: string;
  readonly compiled: CompiledCriteria;
  readonly captureRtp: boolean;
  expiresAtUs: number | undefined;
  dialogs = 0;
  readonly counters: SessionCounters = { sip: 0, rtp: 0, rtcp: 0, webrtc: 0, log: 0, samples: 0, dialogs: 0, evicted: 0 };
  constructor(spec: SessionSpec, compiled: CompiledCriteria) {
    this.id = spec.id;
    this.compiled = compiled;
    this.captureRtp = spec.captureRtp ?? false;
    this.expiresAtUs = spec.expiresAtUs;
  }
}

export class Dialog {
  readonly callId: string;
  kind: Kind;
  createdBy: string | undefined;
  initiatorTag: string | undefined;
  sessions: SessionState[] = NO_SESSIONS;
  state: St = St.Active;
  confirmed = false;
  notifyTerminated = false;
  /** CSeq number of the latest initial INVITE seen (-1: none): a failure with another number is a re-INVITE's */
  inviteSeq = -1;
  /**
   * top-Via branches of the initial INVITE's client transactions without a final answer yet (a
   * forking proxy's branches, RFC 3261 §16.7): the call fails only when none may still answer.
   * Null once answered or when none was seen.
   */
  branches: string[] | null = null;
  deadlineUs = 0;
  prev: Dialog | null = null;
  next: Dialog | null = null;
  media: DialogMedia | null = null;
  /** asciiHash of the Call-ID's bytes & HASH_MASK (-1 when not ASCII), and the next dialog with the same hash */
  readonly hash: number;
  sameHash: Dialog | null = null;
  constructor(callId: string, kind: Kind) {
    this.callId = own(callId);
    this.hash = asciiStringHash(this.callId);
    this.kind = kind;
  }
}

/** shared by every dialog without a session; never mutated (dialogs get fresh exact-size arrays) */
export const NO_SESSIONS: SessionState[] = [];

export const without = <T>(list: T[], i: number): T[] => {
  const out = new Array<T>(list.length - 1);
  for (let j = 0, k = 0; j < list.length; j++) if (j !== i) out[k++] = list[j];
  return out;
};

const DIALOG_METHODS_INVITE = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'PRACK', 'UPDATE', 'INFO']);
const DIALOG_METHODS_SUBSCRIBE = new Set(['SUBSCRIBE', 'NOTIFY', 'REFER']);

/**
 * A copy of `s` that does not keep alive the string it was cut from. Parsed header values are V8
 * slices of the whole message text: a Call-ID or tag kept in a table as is would hold its message's
 * header block (about 1 KB) for as long as the dialog lives (measured: 100 k 30-char slices of 2 KB
 * texts kept 219 MB; copies keep almost nothing). Strings under 13 chars are never slices.
 */
export function own(s: string): string {
  if (s.length < 13) return s;
  // Re-made from bytes: a fresh sequential string. ('' + s, (' ' + s).slice(1) and the like give a
  // cons or sliced string that still points into the source.)
  let latin1 = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) {
      latin1 = false;
      break;
    }
  }
  if (!latin1) return Buffer.from(s, 'utf8').toString('utf8');
  if (scratch.length < s.length) scratch = Buffer.allocUnsafe(Math.max(s.length, 2 * scratch.length));
  const n = scratch.write(s, 0, 'latin1');
  return scratch.toString('latin1', 0, n);
}
let scratch = Buffer.allocUnsafe(256);

/** asciiHash of a string's UTF-8 bytes & HASH_MASK, without encoding it (-1 when not ASCII). */
function asciiStringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return (h >>> 0) & HASH_MASK;
}

/** hashes kept as small integers (V8 Smis): a 32-bit value would be a heap number per dialog and key */
export const HASH_MASK = 0x3fffffff;

/** a hash of any string as a small integer */
export function textHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) & HASH_MASK;
}

/** one string per method name (a dialog keeps the name of the request that created it) */
const METHOD_NAMES = new Map(
  ['INVITE', 'SUBSCRIBE', 'REFER', 'REGISTER', 'OPTIONS', 'MESSAGE', 'NOTIFY', 'PUBLISH', 'INFO', 'UPDATE', 'PRACK', 'BYE', 'ACK', 'CANCEL'].map((m) => [m, m]),
);
export const methodName = (m: string | undefined): string | undefined => (m === undefined ? undefined : (METHOD_NAMES.get(m) ?? own(m)));

export const kindOf = (method: string | undefined): Kind => {
  if (method === undefined) return Kind.Unknown;
  if (DIALOG_METHODS_INVITE.has(method)) return Kind.Invite;
  if (DIALOG_METHODS_SUBSCRIBE.has(method)) return Kind.Subscribe;
  return Kind.Transaction;
};


/** A dialog whose deadline (linger, transaction timeout) has passed at capture time `now`. */
export const expired = (d: Dialog, now: number): boolean => d.deadlineUs !== 0 && d.deadlineUs <= now;

export function sameCriteria(a: Readonly<Criteria>, b: Criteria): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Criteria>;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

// What created the dialog a message belongs to (DESIGN §5 `method` narrows to dialogs *created* by
// that method), when the dialog's initial request was not seen. RFC 3261 §12: only INVITE (and
// SUBSCRIBE/REFER, RFC 6665/3515) create dialogs; BYE, ACK, CANCEL, PRACK (RFC 3262), UPDATE
// (RFC 3311) and INFO (RFC 6086) exist only in INVITE dialogs or transactions; an in-dialog REFER is
// a transfer inside a call; NOTIFY belongs to a subscription (Event: refer to a REFER's).
const IN_INVITE_DIALOG: Record<string, string> = {
  INVITE: 'INVITE',
  ACK: 'INVITE',
  BYE: 'INVITE',
  CANCEL: 'INVITE',
  PRACK: 'INVITE',
  UPDATE: 'INVITE',
  INFO: 'INVITE',
  REFER: 'INVITE',
  SUBSCRIBE: 'SUBSCRIBE',
};

/**
 * The method that created the message's dialog as far as the message alone tells: an out-of-dialog
 * request its own method (ACK/CANCEL: INVITE); an in-dialog request or a response by its (CSeq)
 * method; undefined when it cannot tell (an in-dialog MESSAGE or OPTIONS).
 */
export function creatorOf(msg: SipMessage, toTag: string | null): string | undefined {
  const m = msg.isRequest ? msg.method : msg.cseq?.method;
  if (m === undefined) return undefined;
  if (msg.isRequest && toTag === null) return m === 'ACK' || m === 'CANCEL' ? 'INVITE' : methodName(m);
  const c = IN_INVITE_DIALOG[m];
  if (c !== undefined) return c;
  if (m === 'NOTIFY') return /^\s*refer\b/i.test(msg.header('event') ?? '') ? 'REFER' : 'SUBSCRIBE';
  // responses to stand-alone transactions (REGISTER, OPTIONS, MESSAGE, PUBLISH…)
  return msg.isRequest ? undefined : methodName(m);
}

/** Request methods that may start a message of a dialog created by `method` (a necessary condition). */
export function creatorsStartingWith(method: string): string[] {
  const out = [method];
  for (const [m, c] of Object.entries(IN_INVITE_DIALOG)) if (c === method && m !== method) out.push(m);
  if (method === 'SUBSCRIBE' || method === 'REFER') out.push('NOTIFY');
  return [...new Set(out)];
}

/** The branch parameter of the topmost Via (RFC 3261 §8.1.1.7), the transaction's identifier. */
export function topViaBranch(msg: SipMessage): string | undefined {
  const via = msg.header('via');
  if (via === undefined) return undefined;
  const m = /;\s*branch\s*=\s*([^;,\s]+)/i.exec(via);
  return m === null ? undefined : m[1];
}
