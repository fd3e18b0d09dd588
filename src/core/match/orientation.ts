// Who sent a message of a dialog: the caller's side or the called side. In-dialog messages sent by
// the called side carry the callee in From; knowing the From-tag of the initial request tells them
// apart, so "a call to N never matches from=N" holds in-dialog too. The initiator's tag lives in the
// dialog once it is captured, and before that (or after it is dropped) in a bounded cache per Call-ID.
import type { Dialog } from './dialog.js';
import { own } from './dialog.js';
import type { MessageView } from './message-view.js';
import { headerTag } from './uri-parts.js';

export class Orientation {
  private readonly cache = new Map<string, string>();
  constructor(private readonly size: number) {}

  /**
   * Sets v.reversed for a message of Call-ID `callId` (dialog `d` when captured), after learning
   * what the message tells about the initiator: an initial INVITE/SUBSCRIBE/REFER names it (and a
   * new one on a reused Call-ID names the new call's); when that was never seen, a CANCEL, a PRACK
   * or a provisional response to INVITE carries its tag in From, a NOTIFY in To.
   */
  orient(v: MessageView, d: Dialog | undefined, callId: string): void {
    const msg = v.msg;
    const toTag = v.toTag;
    let learnt: string | undefined;
    let sure = false;
    if (msg.isRequest) {
      const m = msg.method;
      if (toTag === null && (m === 'INVITE' || m === 'SUBSCRIBE' || m === 'REFER')) {
        learnt = headerTag(msg.header('from'));
        sure = true;
      } else if (m === 'CANCEL' || m === 'PRACK') {
        learnt = headerTag(msg.header('from'));
      } else if (m === 'NOTIFY' && toTag !== null && !/^\s*refer\b/i.test(msg.header('event') ?? '')) {
        learnt = toTag;
      }
    } else if (toTag !== null && msg.cseq?.method === 'INVITE' && (msg.statusCode ?? 0) > 100 && (msg.statusCode ?? 0) < 200) {
      learnt = headerTag(msg.header('from'));
    }
    if (learnt !== undefined) {
      if (d !== undefined) {
        if (d.initiatorTag === undefined) d.initiatorTag = own(learnt);
      } else if (this.cache.get(callId) !== learnt && (sure || !this.cache.has(callId))) {
        this.remember(own(callId), own(learnt));
      }
    }
    if (toTag === null) return;
    const initiator = d?.initiatorTag ?? this.cache.get(callId);
    if (initiator === undefined) return;
    const tag = headerTag(msg.header('from'));
    v.reversed = tag !== undefined && tag !== initiator;
  }

  has(callId: string): boolean {
    return this.cache.has(callId);
  }

  /** The remembered initiator tag of `callId`, removed from the cache (the dialog holds it now). */
  take(callId: string): string | undefined {
    const tag = this.cache.get(callId);
    if (tag !== undefined) this.cache.delete(callId);
    return tag;
  }

  forget(callId: string): void {
    this.cache.delete(callId);
  }

  remember(callId: string, tag: string): void {
    const cache = this.cache;
    if (cache.size >= this.size) cache.delete(cache.keys().next().value as string);
    cache.set(callId, tag);
  }
}
