// One SIP message as the criteria see it: the identities, hosts and tenant sources the matcher needs,
// extracted lazily and at most once per message however many sessions look at it. The engine reuses
// one view object for every message (reset()), so the no-match path allocates only what a criterion
// actually asks for.
import type { SipMessage } from '../../protocol/sip.js';
import { headerTag, parseUriParts, uriOfHeaderValue, type UriParts } from './uri-parts.js';

/** Headers naming the caller (DESIGN §5 `from`). */
export const CALLER_HEADERS = ['p-asserted-identity', 'p-preferred-identity', 'remote-party-id'] as const;
/** Headers naming the called party besides the Request-URI and To (DESIGN §5 `to`). */
export const CALLED_HEADERS = ['diversion', 'history-info'] as const;

const NONE: readonly string[] = [];

export class MessageView {
  msg!: SipMessage;
  srcIp = '';
  dstIp = '';
  /**
   * True for a message sent by the called side of a dialog (the callee's BYE, re-INVITE, NOTIFY…, or
   * a response to one): its From names the callee. The engine knows this from the dialog's initial
   * request (its From-tag); when unknown the message is taken at face value.
   */
  reversed = false;
  private _ruri: UriParts | null | undefined;
  private _from: UriParts | null | undefined;
  private _to: UriParts | null | undefined;
  private _callers: readonly string[] | undefined;
  private _called: readonly string[] | undefined;
  private _hosts: readonly string[] | undefined;
  private _toTag: string | null | undefined;

  reset(msg: SipMessage, srcIp: string, dstIp: string): this {
    this.msg = msg;
    this.srcIp = srcIp;
    this.dstIp = dstIp;
    this.reversed = false;
    this._ruri = undefined;
    this._from = undefined;
    this._to = undefined;
    this._callers = undefined;
    this._called = undefined;
    this._hosts = undefined;
    this._toTag = undefined;
    return this;
  }

  get ruri(): UriParts | null {
    if (this._ruri === undefined) {
      const u = this.msg.requestUri;
      this._ruri = u === undefined ? null : parseUriParts(u);
    }
    return this._ruri;
  }

  get fromUri(): UriParts | null {
    if (this._from === undefined) {
      const v = this.msg.header('from');
      this._from = v === undefined ? null : parseUriParts(uriOfHeaderValue(v));
    }
    return this._from;
  }

  get toUri(): UriParts | null {
    if (this._to === undefined) {
      const v = this.msg.header('to');
      this._to = v === undefined ? null : parseUriParts(uriOfHeaderValue(v));
    }
    return this._to;
  }

  /** To-tag, or null: a request without one is out of dialog (RFC 3261 §12.2). */
  get toTag(): string | null {
    if (this._toTag === undefined) this._toTag = headerTag(this.msg.header('to')) ?? null;
    return this._toTag;
  }

  /** An out-of-dialog request: the one that can create a dialog. */
  get isInitialRequest(): boolean {
    return this.msg.isRequest && this.toTag === null;
  }

  // Roles (RFC 3261 §8.1.1.3/§8.2.6.2, RFC 3325 §9.1): From names the originator of the transaction
  // and To its target; the originator is the caller unless the called side sent the request
  // (`reversed`). P-Asserted-Identity, P-Preferred-Identity and Remote-Party-ID name the *sender of
  // this message*: the originator for a request, the responder for a response. So a 200 OK's PAI
  // names the callee, and a callee's BYE names the callee in From and PAI.

  /** Users naming the caller of this message, orientation applied. */
  get callerUsers(): readonly string[] {
    if (this._callers === undefined) {
      const senderIsCaller = this.msg.isRequest !== this.reversed;
      this._callers = this.users(this.reversed ? this.toUri : this.fromUri, senderIsCaller, false);
    }
    return this._callers;
  }

  /** Users naming the called party of this message, orientation applied. */
  get calledUsers(): readonly string[] {
    if (this._called === undefined) {
      const senderIsCaller = this.msg.isRequest !== this.reversed;
      this._called = this.users(this.reversed ? this.fromUri : this.toUri, !senderIsCaller, true);
    }
    return this._called;
  }

  /** Lowercase hosts of the Request-URI, From and To (DESIGN §5 `domain`). */
  get hosts(): readonly string[] {
    if (this._hosts === undefined) {
      const out: string[] = [];
      const r = this.ruri?.host;
      const f = this.fromUri?.host;
      const t = this.toUri?.host;
      if (r !== undefined) out.push(r);
      if (f !== undefined && f !== r) out.push(f);
      if (t !== undefined && t !== r && t !== f) out.push(t);
      this._hosts = out;
    }
    return this._hosts;
  }

  // The party header's user, the identity headers when they name the same party, and for the called
  // party the Request-URI (initial requests only: in a dialog it is the peer's Contact, not the
  // dialled number), Diversion and History-Info (the retargeting history of the call).
  private users(party: UriParts | null, identity: boolean, called: boolean): readonly string[] {
    let out: string[] | undefined;
    if (called && this.msg.isRequest && this.toTag === null) {
      const r = this.ruri?.user;
      if (r !== undefined) out = [r];
    }
    const p = party?.user;
    if (p !== undefined) (out ??= []).push(p);
    if (identity) out = this.headerUsers(CALLER_HEADERS, out);
    if (called) out = this.headerUsers(CALLED_HEADERS, out);
    return out ?? NONE;
  }

  private headerUsers(names: readonly string[], out: string[] | undefined): string[] | undefined {
    for (const h of names) {
      if (this.msg.header(h) === undefined) continue;
      for (const v of this.msg.headerAll(h)) {
        const u = parseUriParts(uriOfHeaderValue(v))?.user;
        if (u !== undefined) (out ??= []).push(u);
      }
    }
    return out;
  }
}
