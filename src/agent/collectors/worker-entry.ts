// Runs in a worker thread, one per user collector module (`--collector PATH`, worker-host.ts is the
// agent's side). It loads the module and hosts it behind the same fence as in the agent
// (CollectorHost: checks, the --collector-rate bound, counts), so a refused emit is refused here,
// synchronously, at the module's cost. What passes is batched and posted to the agent: one message
// per BATCH_MAX records or per turn of this thread's event loop, with the SIP payloads of a batch
// packed into one transferred buffer. At most `maxInflight` batches wait for the agent's
// acknowledgement; beyond that records are dropped and counted (`dropped_backlog`), never queued.
// A heartbeat (with the module's status) goes out every `heartbeatMs`: a thread that stops sending
// it is busy and the agent terminates it. An exception or unhandled rejection anywhere in the module
// ends this thread after the pending batch and the reason are posted.
import { parentPort, workerData } from 'node:worker_threads';
import type { PacketInput } from '../capture-manager.js';
import type { CallStateEmit, RouteEmit } from './collector.js';
import { CollectorHost, type CollectorSink } from './host.js';
import { loadCollectorModule } from './module.js';
import type { FromWorker, ModuleWorkerData, ToWorker, WorkerRecord } from './worker-protocol.js';

const data = workerData as ModuleWorkerData;
const port = parentPort!;
const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

let records: WorkerRecord[] = [];
let payloads: Uint8Array[] = [];
let payloadBytes = 0;
let scheduled = false;
let inflight = 0;
let droppedBacklog = 0;

function flush(): void {
  scheduled = false;
  if (records.length === 0) return;
  // one buffer for the batch's payloads, moved (not copied) to the agent's thread
  const packed = new Uint8Array(payloadBytes);
  let at = 0;
  for (const p of payloads) {
    packed.set(p, at);
    at += p.length;
  }
  const batch = records;
  records = [];
  payloads = [];
  payloadBytes = 0;
  inflight++;
  post({ t: 'batch', records: batch, payloads: packed.buffer }, [packed.buffer]);
}

function push(r: WorkerRecord, payload?: Uint8Array): void {
  if (inflight >= data.maxInflight) {
    droppedBacklog++;
    return;
  }
  if (payload) {
    payloads.push(payload);
    payloadBytes += payload.length;
  }
  records.push(r);
  if (records.length >= data.batchMax || payloadBytes >= data.batchBytes) flush();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

const sink: CollectorSink = {
  onPacket: (p: PacketInput) => push(['p', p.tsUs, p.transport, p.src.ip, p.src.port, p.dst.ip, p.dst.port, p.payload.length], p.payload),
  onLogLine: (line, tsUs, source, callId) => push(['l', line, tsUs, source, callId]),
  onCallState: (e: CallStateEmit & { ts_us: number }) => push(['c', e]),
  onRoute: (e: RouteEmit & { ts_us: number }, source) => push(['r', e, source]),
  onLinkCalls: (a, b) => push(['k', a, b]),
};

const host = new CollectorHost(sink, (m) => post({ t: 'log', message: m }));

const status = () => {
  const s = host.statuses()[0];
  if (s && droppedBacklog > 0) s.counters.dropped_backlog = droppedBacklog;
  return s;
};

process.on('uncaughtException', (e: unknown) => {
  // the module threw from its own callback or left a promise rejected: say why, then end this thread
  flush();
  const why = e instanceof Error ? `${e.name}: ${e.message}` : `non-error thrown: ${String(e).slice(0, 500)}`;
  post({ t: 'crash', error: why.slice(0, 1000), status: status() });
  process.exit(1);
});

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'ack':
      inflight = Math.max(0, inflight - m.n);
      break;
    case 'start':
      void host.start().then(() => post({ t: 'started', status: status() }));
      break;
    case 'stop':
      void host.stop().then(() => {
        flush();
        post({ t: 'stopped', status: status() }); // the agent ends this thread then
      });
      break;
  }
});

const beat = (): void => {
  Atomics.store(data.beat, 0, BigInt(Date.now()));
  post({ t: 'heartbeat', status: status() });
};
setInterval(beat, data.heartbeatMs);
beat();
const mod = await loadCollectorModule(data.path);
host.add(mod.create, { name: mod.name, maxEventsPerSecond: data.rate });
post({ t: 'ready', status: status() });
