// FreeSWITCH event socket collector (`--esl tcp:HOST:PORT`, `--esl-password`): logs in to
// mod_event_socket as an inbound client (auth/request → `auth PASSWORD`), subscribes with
// `event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE HEARTBEAT`, and
// turns each channel event into a `callstate` event on the leg's SIP Call-ID (`variable_sip_call_id`):
// created, answered, bridged (with the other leg), hangup with its cause and Q.850 code. Legs are
// remembered by Unique-ID (bounded) so an event without the SIP Call-ID (an outbound leg before its
// INVITE) or the other leg of a bridge can still be named. Framing is protocol/esl.ts; connection
// life and back-off are tcp-client.ts.
import { EslFramer, parsePlainEvent, type EslMessage } from '../../protocol/esl.js';
import type { CallMetaValue, CollectorContext } from './collector.js';
import { TcpClientCollector, type TcpClientOptions } from './tcp-client.js';

export interface EslOptions extends TcpClientOptions {
  password: string;
}

const SUBSCRIBE = 'event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE HEARTBEAT\n\n';
const STATES: Record<string, string> = {
  CHANNEL_CREATE: 'created',
  CHANNEL_ANSWER: 'answered',
  CHANNEL_BRIDGE: 'bridged',
  CHANNEL_HANGUP_COMPLETE: 'hangup',
};
/** the headers kept as the platform's view of the call (message detail) */
const KEEP = [
  'Unique-ID',
  'Channel-Name',
  'Call-Direction',
  'Caller-Caller-ID-Number',
  'Caller-Destination-Number',
  'Answer-State',
  'Hangup-Cause',
  'variable_hangup_cause_q850',
  'variable_sip_term_status',
  'variable_sip_hangup_disposition',
  'variable_billsec',
  'Other-Leg-Unique-ID',
  'Bridge-A-Unique-ID',
  'Bridge-B-Unique-ID',
  'FreeSWITCH-Hostname',
];
const MAX_LEGS = 20_000;

type Phase = 'auth-request' | 'auth-reply' | 'subscribe-reply' | 'events';

export class EslCollector extends TcpClientCollector {
  readonly kind = 'esl';
  readonly name: string;
  private framer = new EslFramer();
  private phase: Phase = 'auth-request';
  /** Unique-ID → SIP Call-ID of the legs seen (insertion-ordered, bounded) */
  private readonly legs = new Map<string, string>();
  readonly counters = { events: 0, call_states: 0, heartbeats: 0, no_call_id: 0, other_events: 0 };

  constructor(
    ctx: CollectorContext,
    private readonly opts: EslOptions,
  ) {
    super(ctx, opts);
    this.name = `esl:${opts.host}:${opts.port}`;
  }

  protected onConnected(): void {
    this.framer = new EslFramer();
    this.phase = 'auth-request';
  }

  protected keepalive(): void {
    // Subscribing again is idempotent and always answered: proof of a live server without `api` rights.
    if (this.phase === 'events') this.send(SUBSCRIBE);
  }

  protected protocolCounters(): Record<string, number> {
    return { ...this.counters, legs: this.legs.size };
  }

  protected onData(chunk: Buffer): void {
    for (const m of this.framer.push(chunk)) this.onMessage(m);
    if (this.framer.error) this.protocolError(`not an event socket stream: ${this.framer.error}`);
  }

  private onMessage(m: EslMessage): void {
    const type = m.headers.get('Content-Type');
    const reply = m.headers.get('Reply-Text') ?? '';
    if (type === 'text/disconnect-notice') return; // the close that follows says the rest
    switch (this.phase) {
      case 'auth-request':
        if (type !== 'auth/request') return this.protocolError(`expected "Content-Type: auth/request" from the event socket, got "${type ?? 'nothing'}"`);
        this.phase = 'auth-reply';
        this.send(`auth ${this.opts.password.replace(/[\r\n]/g, '')}\n\n`);
        return;
      case 'auth-reply':
        if (type !== 'command/reply') return this.protocolError(`expected the reply to auth, got "${type ?? 'nothing'}"`);
        if (!reply.startsWith('+OK')) return this.authenticationFailed(`FreeSWITCH answered "${reply}" (check --esl-password)`);
        this.phase = 'subscribe-reply';
        this.send(SUBSCRIBE);
        return;
      case 'subscribe-reply':
        if (type !== 'command/reply' || !reply.startsWith('+OK')) return this.protocolError(`FreeSWITCH refused the event subscription: "${reply}"`);
        this.phase = 'events';
        this.sessionEstablished();
        return;
      case 'events':
        if (type === 'text/event-plain') this.onEvent(m);
        return; // command/reply to a keepalive
    }
  }

  private onEvent(m: EslMessage): void {
    const ev = parsePlainEvent(m);
    if (!ev) return;
    this.counters.events++;
    const h = ev.headers;
    const name = h.get('Event-Name') ?? '';
    if (name === 'HEARTBEAT') {
      this.counters.heartbeats++;
      return;
    }
    const state = STATES[name];
    if (!state) {
      this.counters.other_events++;
      return;
    }
    const uuid = h.get('Unique-ID');
    let callId = h.get('variable_sip_call_id');
    if (uuid && callId) this.remember(uuid, callId);
    callId ??= uuid ? this.legs.get(uuid) : undefined;
    if (!callId) {
      // an outbound leg before its INVITE left, or a non-SIP channel: nothing to correlate with
      this.counters.no_call_id++;
      return;
    }
    const fields: Record<string, CallMetaValue> = {};
    for (const k of KEEP) {
      const v = h.get(k);
      if (v !== undefined && v !== '') fields[k] = v;
    }
    const otherUuid = h.get('Other-Leg-Unique-ID') ?? (h.get('Bridge-A-Unique-ID') === uuid ? h.get('Bridge-B-Unique-ID') : h.get('Bridge-A-Unique-ID'));
    const otherCallId = otherUuid ? this.legs.get(otherUuid) : undefined;
    // The other leg's SIP Call-ID names the B2BUA's second dialog: a session capturing one leg captures both.
    if (otherCallId && otherCallId !== callId) {
      fields.other_leg_call_id = otherCallId;
      this.ctx.linkCallIds(callId, otherCallId);
    }
    const tsUs = Number(h.get('Event-Date-Timestamp'));
    const q850 = Number(h.get('variable_hangup_cause_q850'));
    const cause = state === 'hangup' ? h.get('Hangup-Cause') : undefined;
    this.counters.call_states++;
    this.ctx.emitCallState({
      ...(Number.isSafeInteger(tsUs) && tsUs > 0 ? { ts_us: tsUs } : {}),
      call_id: callId,
      platform: 'freeswitch',
      state,
      ...(cause ? { cause } : {}),
      ...(state === 'hangup' && Number.isInteger(q850) && h.get('variable_hangup_cause_q850') ? { q850 } : {}),
      fields,
    });
    if (state === 'hangup' && uuid) this.legs.delete(uuid);
  }

  private remember(uuid: string, callId: string): void {
    if (this.legs.has(uuid)) return;
    if (this.legs.size >= MAX_LEGS) this.legs.delete(this.legs.keys().next().value as string);
    this.legs.set(uuid, callId);
  }
}
