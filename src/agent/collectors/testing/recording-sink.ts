// Test support: a CollectorSink that records what collectors emitted, and a host around it.
import type { CallStateEmit, RouteEmit } from '../collector.js';
import { CollectorHost, type CollectorSink } from '../host.js';
import type { PacketInput } from '../../capture-manager.js';

export function recordingHost() {
  const got = {
    packets: [] as PacketInput[],
    logs: [] as { line: string; tsUs: number; source: string; callId?: string }[],
    states: [] as (CallStateEmit & { ts_us: number; source: string })[],
    routes: [] as (RouteEmit & { ts_us: number; source: string })[],
    links: [] as [string, string][],
  };
  const sink: CollectorSink = {
    onPacket: (p) => got.packets.push(p),
    onLogLine: (line, tsUs, source, callId) => got.logs.push({ line, tsUs, source, ...(callId !== undefined ? { callId } : {}) }),
    onCallState: (e, source) => got.states.push({ ...e, source }),
    onRoute: (e, source) => got.routes.push({ ...e, source }),
    onLinkCalls: (a, b) => got.links.push([a, b]),
  };
  const log: string[] = [];
  return { host: new CollectorHost(sink, (m) => log.push(m)), got, log };
}
