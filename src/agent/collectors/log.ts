// The log-file collector (`--log PATH`): the rotation-safe tail of sources/log-tail.ts, whose lines go
// through the line interpreter (log-lines.ts): JSON-lines logs give their Call-ID, level and message
// fields, and route decisions (`route=… callid=…`, a JSON route field) become route events.
import { LogTailSource } from '../sources/log-tail.js';
import type { SourceStatus } from '../sources/source.js';
import type { CollectorContext } from './collector.js';
import { lineEmitter, type LineFormat } from './log-lines.js';

export class LogCollector extends LogTailSource {
  private readonly lineCounters = { json_lines: 0, not_json: 0, routes: 0 };

  constructor(ctx: CollectorContext, path: string, format: LineFormat) {
    // the tail needs its consumer before `this` exists: a holder filled right after
    const to: { emit?: ReturnType<typeof lineEmitter> } = {};
    super({ path, onLine: (line, tsUs, source) => to.emit?.(line, tsUs, source) });
    to.emit = lineEmitter(ctx, format, this.lineCounters);
  }

  override status(): SourceStatus {
    const st = super.status();
    return { ...st, counters: { ...st.counters, ...this.lineCounters } };
  }
}
