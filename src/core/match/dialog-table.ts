// The Call-ID table of captured dialogs: by Call-ID, by a hash of the Call-ID's bytes (so the
// no-match path asks "is this raw message's Call-ID captured?" without making a string), in
// least-recently-active order (eviction), and the set of dialogs with a deadline (linger, timers).
import { asciiHash, rawCallIdSpan, type Span } from './raw-scan.js';
import { HASH_MASK, type Dialog } from './dialog.js';

export class DialogTable {
  private readonly map = new Map<string, Dialog>();
  /** the dialogs with an ASCII Call-ID by asciiHash: the no-match path looks them up without a string */
  private readonly byHash = new Map<number, Dialog>();
  private readonly span: Span = { start: 0, end: 0 };
  /** most recently active */
  head: Dialog | null = null;
  tail: Dialog | null = null;
  /** dialogs with a deadline (deadlineUs ≠ 0) */
  readonly scheduled = new Set<Dialog>();

  get size(): number {
    return this.map.size;
  }

  get(callId: string): Dialog | undefined {
    return this.map.get(callId);
  }

  values(): IterableIterator<Dialog> {
    return this.map.values();
  }

  /** true when `d` is the table's dialog for its Call-ID */
  holds(d: Dialog): boolean {
    return this.map.get(d.callId) === d;
  }

  /** Adds a new dialog as the most recently active one. */
  insert(d: Dialog): void {
    this.map.set(d.callId, d); // the detached copy: the key lives as long as the dialog
    if (d.hash >= 0) {
      d.sameHash = this.byHash.get(d.hash) ?? null;
      this.byHash.set(d.hash, d);
    }
    this.linkHead(d);
  }

  remove(d: Dialog): void {
    this.map.delete(d.callId);
    if (d.hash >= 0) {
      const first = this.byHash.get(d.hash);
      if (first === d) {
        if (d.sameHash === null) this.byHash.delete(d.hash);
        else this.byHash.set(d.hash, d.sameHash);
      } else {
        for (let x: Dialog | null = first ?? null; x !== null; x = x.sameHash) {
          if (x.sameHash === d) {
            x.sameHash = d.sameHash;
            break;
          }
        }
      }
      d.sameHash = null;
    }
    this.scheduled.delete(d);
    this.unlink(d);
  }

  /** Sets (0: clears) the capture time at which the dialog goes. */
  schedule(d: Dialog, deadlineUs: number): void {
    d.deadlineUs = deadlineUs;
    if (deadlineUs === 0) this.scheduled.delete(d);
    else this.scheduled.add(d);
  }

  touch(d: Dialog): void {
    if (this.head === d) return;
    this.unlink(d);
    this.linkHead(d);
  }

  // Whether the Call-ID of the raw message is in the table: hashed in place and compared byte for
  // byte, so the no-match path makes no string (non-ASCII Call-IDs go the string way).
  hasRawCallId(payload: Buffer): boolean {
    const sp = this.span;
    if (!rawCallIdSpan(payload, sp)) return false;
    // A folded Call-ID (RFC 3261 §7.3.1: the value continues on the next line) is not read here:
    // "maybe", the parse decides.
    if (foldedAfter(payload, sp.end)) return true;
    const raw = asciiHash(payload, sp.start, sp.end);
    if (raw < 0) return this.map.has(payload.toString('utf8', sp.start, sp.end));
    const h = raw & HASH_MASK;
    const len = sp.end - sp.start;
    for (let d: Dialog | null = this.byHash.get(h) ?? null; d !== null; d = d.sameHash) {
      // an ASCII Call-ID (hash >= 0): one char per byte, compared without a Buffer per dialog
      const b = d.callId;
      if (b.length !== len) continue;
      let i = 0;
      while (i < len && b.charCodeAt(i) === payload[sp.start + i]) i++;
      if (i === len) return true;
    }
    return false;
  }

  private linkHead(d: Dialog): void {
    d.prev = null;
    d.next = this.head;
    if (this.head !== null) this.head.prev = d;
    this.head = d;
    if (this.tail === null) this.tail = d;
  }

  private unlink(d: Dialog): void {
    if (d.prev !== null) d.prev.next = d.next;
    else this.head = d.next;
    if (d.next !== null) d.next.prev = d.prev;
    else this.tail = d.prev;
    d.prev = d.next = null;
  }
}

/** true when the header line holding `from` continues on the next line (starts with SP or HT) */
function foldedAfter(buf: Buffer, from: number): boolean {
  let i = from;
  while (i < buf.length && buf[i] !== 0x0a) i++;
  const c = buf[i + 1];
  return c === 0x20 || c === 0x09;
}
