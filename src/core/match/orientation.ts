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

  /** Sets v.reversed for a message of Call-ID `callId` (dialog `d` when captured); learns initial requests. */
  orient(v: MessageView, d: Dialog | undefined, callId: string): void {
    const msg = v.msg;
    if (v.toTag === null) {
      if (msg.isRequest && d === undefined && (msg.method === 'INVITE' || msg.method === 'SUBSCRIBE' || msg.method === 'REFER')) {
        if (!this.cache.has(callId)) {
          const tag = headerTag(msg.header('from'));
          if (tag !== undefined) this.remember(own(callId), own(tag));
        }
      }
      return;
    }
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
