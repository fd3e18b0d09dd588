// What every capture source is to the agent: something that starts, stops and reports its state and
// counters in `GET /v1/status` → `sources`. What a source produces (units, log lines) goes to
// callbacks given at construction — the collector context's emits (collectors/collector.ts), which
// every source is hosted behind; this module owns only the shared shape.

export type SourceKind = 'live' | 'hep' | 'log' | 'replay' | 'esl' | 'ami' | 'syslog' | 'collector';

export type SourceState =
  /** started, waiting for the capture to be ready (tcpdump's "listening on") */
  | 'starting'
  | 'running'
  /** the child exited or the listener failed; a restart is scheduled */
  | 'restarting'
  /** cannot run (tcpdump missing, capture not permitted, port in use): `error` says why */
  | 'failed'
  /** a replay that reached the end of its file */
  | 'done'
  | 'stopped';

export interface SourceStatus {
  name: string;
  /** a SourceKind; `collector` for a user's module */
  kind: string;
  state: SourceState;
  /** a precise human message when something is wrong */
  error?: string;
  counters: Record<string, number>;
}

export interface Source {
  readonly name: string;
  readonly kind: SourceKind;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}
