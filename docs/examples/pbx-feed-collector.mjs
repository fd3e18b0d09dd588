// A complete TunaIO collector module (docs/collectors.md): follows a JSON-lines feed that a PBX-side
// script appends to (one object per line) and reports what it says on the calls' timelines.
//
//   {"type":"state","call_id":"a84b4c76e66710@pc33","state":"answered","platform":"mypbx"}
//   {"type":"state","call_id":"a84b4c76e66710@pc33","state":"hangup","cause":"USER_BUSY","q850":17}
//   {"type":"route","call_id":"a84b4c76e66710@pc33","route":"SALES","destination":"sip:agent-7@pbx"}
//   {"type":"log","call_id":"a84b4c76e66710@pc33","line":"picked agent 7 (longest idle)"}
//   {"type":"sip","src":"192.0.2.1:5060","dst":"192.0.2.2:5060","text":"INVITE sip:… SIP/2.0\r\n…"}
//
// Run it with:  MY_PBX_FEED=/var/log/mypbx/calls.jsonl tunaio agent … --collector ./pbx-feed-collector.mjs
import { open, stat } from 'node:fs/promises';

export function createCollector(ctx) {
  const feed = process.env.MY_PBX_FEED ?? new URL('./calls.jsonl', import.meta.url).pathname;
  const counters = { lines: 0, bad_lines: 0, refused: 0 };
  let timer;
  let pos = 0;
  let rest = '';
  let error;
  let reading = false;

  const endpoint = (s) => {
    const i = String(s).lastIndexOf(':');
    return { ip: String(s).slice(0, i), port: Number(String(s).slice(i + 1)) };
  };

  function handle(o) {
    const ts_us = typeof o.ts_us === 'number' ? o.ts_us : Date.now() * 1000;
    let ok;
    switch (o.type) {
      case 'state':
        ok = ctx.emitCallState({ ts_us, call_id: o.call_id, platform: o.platform ?? 'mypbx', state: o.state, cause: o.cause, q850: o.q850, fields: o.fields });
        break;
      case 'route':
        ok = ctx.emitRoute({ ts_us, call_id: o.call_id, route: o.route, destination: o.destination, fields: o.fields });
        break;
      case 'log':
        ok = ctx.emitLog({ ts_us, line: o.line, call_id: o.call_id });
        break;
      case 'sip':
        ok = ctx.emitSip({ ts_us, transport: o.transport ?? 'udp', src: endpoint(o.src), dst: endpoint(o.dst), payload: o.text });
        break;
      case 'legs':
        // a B2BUA's two dialogs of one call: sessions capturing one capture both
        ctx.linkCallIds(o.call_id, o.other_call_id);
        ok = true;
        break;
      default:
        ok = false;
    }
    // false: refused (invalid, or over the agent's --collector-rate); the agent counts it too
    if (!ok) counters.refused++;
  }

  async function poll() {
    if (reading) return;
    reading = true;
    try {
      const st = await stat(feed);
      if (st.size < pos) pos = 0; // truncated: start over
      if (st.size > pos) {
        const fh = await open(feed, 'r');
        try {
          const buf = Buffer.alloc(Math.min(st.size - pos, 1 << 20));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          pos += bytesRead;
          const lines = (rest + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) {
            if (line.trim() === '') continue;
            counters.lines++;
            let o;
            try {
              o = JSON.parse(line);
            } catch {
              counters.bad_lines++;
              continue;
            }
            handle(o);
          }
        } finally {
          await fh.close();
        }
      }
      error = undefined;
    } catch (e) {
      error = `${feed}: ${e.message}`;
    } finally {
      reading = false;
    }
  }

  return {
    name: 'pbx-feed',
    async start() {
      // like tail -F: only what is appended from now on
      try {
        pos = (await stat(feed)).size;
      } catch {
        pos = 0;
      }
      timer = setInterval(() => void poll(), 100);
      ctx.log(`following ${feed}`);
    },
    stop() {
      clearInterval(timer);
    },
    status() {
      return { state: error ? 'restarting' : 'running', ...(error ? { error } : {}), counters: { ...counters } };
    },
  };
}
