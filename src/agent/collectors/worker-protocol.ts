// The messages between the agent and a user collector module's worker thread (worker-host.ts on the
// agent's side, worker-entry.ts in the thread). Shapes only.
import type { SourceStatus } from '../sources/source.js';
import type { CallStateEmit, RouteEmit } from './collector.js';

export interface ModuleWorkerData {
  path: string;
  /** --collector-rate: events a second the module may emit */
  rate: number;
  heartbeatMs: number;
  /** records per batch at most */
  batchMax: number;
  /** payload bytes per batch (a batch is sent when it passes this) */
  batchBytes: number;
  /** batches posted and not yet acknowledged, at most */
  maxInflight: number;
  /** the heartbeat: Date.now() of the thread's last timer turn, written by the thread */
  beat: BigInt64Array;
}

/**
 * One accepted emit, already checked by the worker's fence. `p`: a packet whose payload is the next
 * `length` bytes of the batch's `payloads` buffer.
 */
export type WorkerRecord =
  | ['p', tsUs: number, transport: string, srcIp: string, srcPort: number, dstIp: string, dstPort: number, length: number]
  | ['l', line: string, tsUs: number, source: string, callId: string | undefined]
  | ['c', CallStateEmit & { ts_us: number }]
  | ['r', RouteEmit & { ts_us: number }, source: string]
  | ['k', a: string, b: string];

export type FromWorker =
  | { t: 'heartbeat'; status?: SourceStatus }
  | { t: 'ready'; status?: SourceStatus }
  | { t: 'started'; status?: SourceStatus }
  | { t: 'stopped'; status?: SourceStatus }
  | { t: 'crash'; error: string; status?: SourceStatus }
  | { t: 'log'; message: string }
  | { t: 'batch'; records: WorkerRecord[]; payloads: ArrayBuffer };

export type ToWorker = { t: 'start' } | { t: 'stop' } | { t: 'ack'; n: number };
