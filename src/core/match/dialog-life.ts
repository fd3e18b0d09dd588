// The dialog life cycle (DESIGN §5 "until the dialog ends plus a short linger"): which messages end
// a captured dialog, which keep it, and how long an unanswered request or a ringing INVITE is kept.
import type { SipMessage } from '../../protocol/sip.js';
import { Kind, kindOf, methodName, own, St, topViaBranch, type Dialog } from './dialog.js';
import type { DialogTable } from './dialog-table.js';
import type { MessageView } from './message-view.js';

export interface LifeTimes {
  /** capture time a dialog stays captured after it ended */
  lingerUs: number;
  /** a request without a final answer (RFC 3261 Timer F/B) */
  transactionTimeoutUs: number;
  /** a ringing INVITE (RFC 3261 Timer C) */
  provisionalTimeoutUs: number;
}

export class DialogLife {
  constructor(
    private readonly table: DialogTable,
    private readonly times: LifeTimes,
    private readonly counters: { dialogsEnded: number },
  ) {}

  /** The dialog ended at capture time `now`: it lingers, then goes. */
  end(d: Dialog, now: number): void {
    if (d.state !== St.Ended) this.counters.dialogsEnded++;
    d.state = St.Ended;
    this.table.schedule(d, now + this.times.lingerUs);
  }

  // Ends: a BYE answered; a final non-2xx to the initial INVITE (CANCEL → 487 included) once no
  // other branch of a fork may still answer (+ACK within the linger); a stand-alone transaction
  // (REGISTER, OPTIONS, MESSAGE…) answered; a subscription terminated. Does not end: a failed
  // re-INVITE or UPDATE (RFC 3261 §14.1: the dialog stays as it was), a failed fork branch while
  // another is pending (RFC 3261 §16.7, Timer C keeps it at most provisionalTimeoutUs). A new initial
  // request on the same Call-ID (an INVITE or REGISTER re-sent with credentials after 401/407)
  // revives it.
  track(d: Dialog, msg: SipMessage, v: MessageView, now: number): void {
    const o = this.times;
    const table = this.table;
    if (msg.isRequest) {
      const m = msg.method;
      if (v.isInitialRequest && m !== 'ACK' && m !== 'CANCEL') {
        if (d.state !== St.Active || d.createdBy === undefined) {
          d.state = St.Active;
          d.confirmed = false;
        }
        d.kind = kindOf(m);
        if (d.createdBy === undefined) d.createdBy = methodName(m);
        if (m === 'INVITE') {
          if (msg.cseq !== undefined) d.inviteSeq = msg.cseq.seq;
          const b = topViaBranch(msg);
          if (b !== undefined && (d.branches === null || !d.branches.includes(b))) d.branches = d.branches === null ? [own(b)] : [...d.branches, own(b)];
        }
        // An unanswered request goes away after the transaction timeout; an established dialog stays.
        if (!d.confirmed) table.schedule(d, now + o.transactionTimeoutUs);
      } else if (m === 'BYE') {
        // A BYE retransmitted after the 200 must not extend an ended dialog.
        if (d.state === St.Active) {
          d.state = St.Ending;
          table.schedule(d, now + o.transactionTimeoutUs);
        }
      } else if (m === 'NOTIFY') {
        const ss = msg.header('subscription-state');
        if (ss !== undefined && /^\s*terminated/i.test(ss)) d.notifyTerminated = true;
      }
      return;
    }
    const code = msg.statusCode ?? 0;
    const cm = msg.cseq?.method;
    if (code < 200) {
      if (cm === 'INVITE' && d.state === St.Active && !d.confirmed) table.schedule(d, now + o.provisionalTimeoutUs);
      return;
    }
    if (cm === 'BYE') {
      this.end(d, now);
      return;
    }
    if (cm === 'INVITE' || cm === 'SUBSCRIBE' || cm === 'REFER') {
      if (code < 300) {
        d.confirmed = true;
        d.branches = null;
        if (d.state === St.Ended) d.state = St.Active; // a forked 2xx after another branch's failure
        if (d.state === St.Active) table.schedule(d, 0);
        return;
      }
      // 491 only ever answers a re-INVITE (RFC 3261 §14.1); so does a CSeq other than the initial one.
      if (d.confirmed || code === 491 || (cm === 'INVITE' && d.inviteSeq >= 0 && msg.cseq!.seq !== d.inviteSeq)) return;
      if (cm === 'INVITE' && d.branches !== null) {
        const b = topViaBranch(msg);
        const rest = d.branches.filter((x) => x !== b);
        d.branches = rest.length === 0 ? null : rest;
        if (rest.length > 0) {
          if (d.state === St.Active) table.schedule(d, now + o.provisionalTimeoutUs);
          return;
        }
      }
      this.end(d, now);
      return;
    }
    if (cm === 'NOTIFY' && d.notifyTerminated) {
      this.end(d, now);
      return;
    }
    if (d.kind === Kind.Transaction && cm !== 'CANCEL') this.end(d, now);
  }
}
