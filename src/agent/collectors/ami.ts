// Asterisk manager collector (`--ami tcp:HOST:PORT`, `--ami-user`, `--ami-secret`): reads the banner
// (`Asterisk Call Manager/x.y.z`), logs in (`Action: Login`, call events only), pings to tell a
// quiet server from a stalled one, and turns channel events into `callstate` events on the leg's SIP
// Call-ID: Newchannel (created), Newstate (ringing, up → answered, …), DialBegin / DialEnd (dialing,
// dial ANSWER/BUSY/…), BridgeEnter (bridged), Hangup (with Cause, the Q.850 code, and Cause-txt).
// Asterisk's channel events carry no SIP Call-ID of their own: it comes from the channel variables
// manager.conf reports (`channelvars = SIPCALLID`, set by chan_sip, or a PJSIP dialplan
// `Set(__SIPCALLID=${CHANNEL(pjsip,call-id)})`), read from `ChanVariable: SIPCALLID=…`. Legs are
// remembered by Uniqueid (bounded). Framing is protocol/ami.ts; connection life is tcp-client.ts.
import { amiAction, amiChanVars, AmiFramer, amiGet, type AmiMessage } from '../../protocol/ami.js';
import type { CallMetaValue, CollectorContext } from './collector.js';
import { TcpClientCollector, type TcpClientOptions } from './tcp-client.js';

export interface AmiOptions extends TcpClientOptions {
  user: string;
  secret: string;
}

const KEEP = ['Channel', 'ChannelStateDesc', 'CallerIDNum', 'ConnectedLineNum', 'Context', 'Exten', 'Uniqueid', 'Linkedid', 'Cause', 'Cause-txt', 'DialStatus', 'DialString', 'DestChannel', 'BridgeUniqueid', 'BridgeType'];
const MAX_LEGS = 20_000;
/** SIPCALLID (chan_sip sets it; PJSIP dialplans set it from CHANNEL(pjsip,call-id)), or any variable named like a Call-ID */
const CALL_ID_VAR = /call[-_]?id/i;

type Phase = 'banner' | 'login' | 'events';

export class AmiCollector extends TcpClientCollector {
  readonly kind = 'ami';
  readonly name: string;
  private framer = new AmiFramer();
  private phase: Phase = 'banner';
  private actionSeq = 0;
  private loginId = '';
  /** Uniqueid → SIP Call-ID */
  private readonly legs = new Map<string, string>();
  readonly counters = { events: 0, call_states: 0, no_call_id: 0, other_events: 0, pongs: 0 };
  version: string | undefined;

  constructor(
    ctx: CollectorContext,
    private readonly opts: AmiOptions,
  ) {
    super(ctx, opts);
    this.name = `ami:${opts.host}:${opts.port}`;
  }

  protected onConnected(): void {
    this.framer = new AmiFramer();
    this.phase = 'banner';
  }

  protected keepalive(): void {
    if (this.phase === 'events') this.send(amiAction([['Action', 'Ping'], ['ActionID', `tunaio-ping-${++this.actionSeq}`]]));
  }

  protected protocolCounters(): Record<string, number> {
    return { ...this.counters, legs: this.legs.size };
  }

  protected onData(chunk: Buffer): void {
    const msgs = this.framer.push(chunk);
    if (this.phase === 'banner' && this.framer.banner !== null) {
      const m = /^Asterisk Call Manager\/(\S+)/.exec(this.framer.banner);
      if (!m) return this.protocolError(`not an Asterisk manager: the banner is "${this.framer.banner.slice(0, 80)}"`);
      this.version = m[1];
      this.phase = 'login';
      this.loginId = `tunaio-login-${++this.actionSeq}`;
      // Events: call — channel events only, not the agent/queue/log traffic a busy box also has.
      this.send(amiAction([['Action', 'Login'], ['ActionID', this.loginId], ['Username', this.opts.user], ['Secret', this.opts.secret], ['Events', 'call']]));
    }
    for (const m of msgs) this.onMessage(m);
    if (this.framer.error) this.protocolError(`not an AMI stream: ${this.framer.error}`);
  }

  private onMessage(m: AmiMessage): void {
    const response = amiGet(m, 'Response');
    if (this.phase === 'login') {
      if (response === undefined || amiGet(m, 'ActionID') !== this.loginId) return; // an event before the reply
      if (response.toLowerCase() !== 'success') return this.authenticationFailed(`Asterisk answered "${amiGet(m, 'Message') ?? response}" (check --ami-user / --ami-secret)`);
      this.phase = 'events';
      this.sessionEstablished();
      return;
    }
    if (this.phase !== 'events') return;
    if (response !== undefined) {
      if (amiGet(m, 'Ping') === 'Pong' || response.toLowerCase() === 'success') this.counters.pongs++;
      return;
    }
    const event = amiGet(m, 'Event');
    if (event) this.onEvent(event, m);
  }

  private callIdOf(m: AmiMessage, prefix: '' | 'Dest'): string | undefined {
    const uid = amiGet(m, `${prefix}Uniqueid`);
    for (const [k, v] of amiChanVars(m, prefix)) {
      if (v !== '' && CALL_ID_VAR.test(k)) {
        if (uid) this.remember(uid, v);
        return v;
      }
    }
    return uid ? this.legs.get(uid) : undefined;
  }

  private onEvent(event: string, m: AmiMessage): void {
    this.counters.events++;
    let state: string;
    let cause: string | undefined;
    let q850: number | undefined;
    switch (event) {
      case 'Newchannel':
        state = 'created';
        break;
      case 'Newstate': {
        const desc = (amiGet(m, 'ChannelStateDesc') ?? '').toLowerCase();
        state = desc === 'up' ? 'answered' : desc || 'state';
        break;
      }
      case 'DialBegin':
        state = 'dialing';
        break;
      case 'DialEnd':
        state = `dial ${(amiGet(m, 'DialStatus') ?? '').toLowerCase()}`.trim();
        break;
      case 'BridgeEnter':
        state = 'bridged';
        break;
      case 'Hangup': {
        state = 'hangup';
        const c = amiGet(m, 'Cause');
        const n = Number(c);
        // Hangup's Cause is the Q.850 cause value (ast_channel_hangupcause), Cause-txt its words
        if (c !== undefined && /^\d{1,3}$/.test(c) && n <= 127) q850 = n;
        cause = amiGet(m, 'Cause-txt') ?? c;
        break;
      }
      default:
        this.counters.other_events++;
        return;
    }
    const callId = this.callIdOf(m, '');
    const destCallId = event.startsWith('Dial') ? this.callIdOf(m, 'Dest') : undefined;
    if (!callId) {
      this.counters.no_call_id++;
      return;
    }
    const fields: Record<string, CallMetaValue> = {};
    for (const k of KEEP) {
      const v = amiGet(m, k);
      if (v !== undefined && v !== '') fields[k] = v;
    }
    if (destCallId && destCallId !== callId) {
      fields.other_leg_call_id = destCallId;
      this.ctx.linkCallIds(callId, destCallId); // the dialled leg of the same call
    }
    this.counters.call_states++;
    // `timestampevents = yes` in manager.conf adds "Timestamp: 1700000000.123456"
    const ts = Number(amiGet(m, 'Timestamp'));
    this.ctx.emitCallState({
      ...(Number.isFinite(ts) && ts > 0 ? { ts_us: Math.round(ts * 1e6) } : {}),
      call_id: callId, platform: 'asterisk', state, ...(cause ? { cause } : {}), ...(q850 !== undefined ? { q850 } : {}), fields });
    if (event === 'Hangup') {
      const uid = amiGet(m, 'Uniqueid');
      if (uid) this.legs.delete(uid);
    }
  }

  private remember(uid: string, callId: string): void {
    if (this.legs.has(uid)) return;
    if (this.legs.size >= MAX_LEGS) this.legs.delete(this.legs.keys().next().value as string);
    this.legs.set(uid, callId);
  }
}
