// ui benchmark (issue 14 item 3): a 100 000-event session opened in Chromium. Targets: the first
// screen (call rows and the first ladder arrows drawn) in ≤ 2 s, the browser within 300 MB; the
// center's endpoints bounded in time and memory on such a session.
// - A center in this process (SQLite in the work folder, the web UI built by vite), one agent, one
//   session of 100 000 generated SIP events (test/web/harness.ts generatedCalls: ~14 300 calls of 5-7
//   messages, one in seven busy) posted through POST /api/ingest in batches of 1000.
// - Per run: a fresh page (logged-in context) navigates to /sessions/{id}; the page's own clock marks
//   the moment a call row and a ladder arrow are both in the DOM (first screen, from navigation start).
//   Then memory: the renderer's JS heap (CDP Performance.getMetrics) and the whole browser's resident
//   memory (RSS and PSS summed over Chromium's processes from /proc). Then the list is scrolled to
//   its end ten pages deep and one failed call opened, and memory is read again.
// - Server: the endpoints the page calls on this session, timed (median of 5), and this process's
//   RSS growth while serving them.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, OPERATOR_TOKEN, buildWebUi, forSession, generatedCalls, startStack } from '../test/web/harness.js';
import type { BenchResult, SystemBenchmark } from './lib/bench.js';
import { median } from './lib/report.js';

const EVENTS = Number(process.env.TUNAIO_BENCH_UI_EVENTS ?? 100_000);
const FIRST_SCREEN_TARGET_MS = 2000;
const BROWSER_TARGET_MB = 300;

const mb = (bytes: number): string => (bytes / 1048576).toFixed(0);

/** The descendants of `root` (Chromium and its helpers, launched by this process), from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out.slice(1);
}

/** RSS and PSS (shared pages counted once, in proportion) of the browser, in bytes: every process this one started. */
function browserMemory(): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of descendants(process.pid)) {
    try {
      // only Chromium's processes (vite's esbuild service is a child of this process too)
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chrom')) continue;
      const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(s)?.[1] ?? 0) * 1024;
    } catch {
      /* gone */
    }
  }
  return { rss, pss };
}

async function jsHeap(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN;
}

const FIRST_SCREEN = `new MutationObserver((_, obs) => {
  if (document.querySelector('[data-testid="call-row"]') && document.querySelector('[data-testid="ladder-arrow"]')) {
    window.__firstScreen = performance.now();
    obs.disconnect();
  }
}).observe(document, { subtree: true, childList: true })`;

export const uiBench: SystemBenchmark = {
  name: 'ui',
  corpora: null,
  async run({ runs }): Promise<BenchResult> {
    const webRoot = await buildWebUi();
    const stack = await startStack(webRoot);
    let browser: Browser | undefined;
    try {
      const s = await stack.api('POST', '/api/sessions', { label: 'bench 100k', criteria: { domain: 'example.com' }, agent_ids: [stack.agent.id] });
      const id = s.json.id as string;
      const wire = forSession(id, generatedCalls(EVENTS));
      const t0 = Date.now();
      for (let i = 0; i < wire.length; i += 1000) await stack.ingest(wire.slice(i, i + 1000));
      const ingestS = (Date.now() - t0) / 1000;
      const calls = (await stack.api('GET', `/api/sessions/${id}`)).json;
      const failedRow = (await stack.api('GET', `/api/sessions/${id}/dialogs?state=failed&limit=1`)).json.dialogs[0];

      // the server side: each endpoint the page uses, on this session
      const rssBefore = process.memoryUsage().rss;
      const endpoints: [string, string][] = [
        ['first page of calls', `/api/sessions/${id}/dialogs?limit=200`],
        ['calls, state filter', `/api/sessions/${id}/dialogs?limit=200&state=failed,cancelled`],
        ['calls, q = a number (row text)', `/api/sessions/${id}/dialogs?limit=200&q=${failedRow.to}`],
        ['calls, q = message text', `/api/sessions/${id}/dialogs?limit=200&q=gen-uas%2F2.0`],
        ['calls, page 50 (after=)', ''],
        ['events of one call', `/api/sessions/${id}/events?call_id=${encodeURIComponent(failedRow.call_id)}`],
        ['first page of events', `/api/sessions/${id}/events?limit=1000`],
      ];
      // a cursor 50 pages in
      let after = 0;
      for (let i = 0; i < 50; i++) after = (await stack.api('GET', `/api/sessions/${id}/dialogs?limit=200&after=${after}`)).json.next_after;
      endpoints[4][1] = `/api/sessions/${id}/dialogs?limit=200&after=${after}`;
      const serverRows: string[][] = [];
      for (const [what, url] of endpoints) {
        const ms: number[] = [];
        let bytes = 0;
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          const r = await fetch(stack.url + url, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
          bytes = (await r.arrayBuffer()).byteLength;
          ms.push(performance.now() - t);
        }
        serverRows.push([`server: ${what}`, `${median(ms).toFixed(0)} ms`, `${(bytes / 1024).toFixed(0)} KB answer`]);
      }
      const rssGrowth = process.memoryUsage().rss - rssBefore;

      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const ctx = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
      const login = await ctx.request.post(`${stack.url}/api/login`, { data: { username: 'admin', password: ADMIN_PASSWORD } });
      if (!login.ok()) throw new Error(`login ${login.status()}`);
      await ctx.addInitScript(FIRST_SCREEN);
      const first: number[] = [];
      const wall: number[] = [];
      const heap: number[] = [];
      const mem: { rss: number; pss: number }[] = [];
      let after10: { heap: number; rss: number; pss: number } | null = null;
      for (let r = 0; r < runs; r++) {
        const page = await ctx.newPage();
        const w0 = Date.now();
        await page.goto(`${stack.url}/sessions/${id}`);
        // functions, not strings: the UI's CSP forbids eval
        await page.waitForFunction(() => (globalThis as { __firstScreen?: number }).__firstScreen !== undefined, undefined, { timeout: 60_000 });
        wall.push(Date.now() - w0);
        first.push(await page.evaluate(() => (globalThis as { __firstScreen?: number }).__firstScreen ?? NaN));
        await page.waitForTimeout(500); // let the first screen settle before reading memory
        heap.push(await jsHeap(page));
        mem.push(browserMemory());
        if (r === runs - 1) {
          // deeper: ten pages of calls read by scrolling, one failed call opened
          for (let i = 0; i < 60; i++) {
            await page.locator('.call-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
            await page.waitForTimeout(100);
            if (((await page.getByTestId('call-all').textContent()) ?? '').includes('2000')) break;
          }
          await page.goto(`${stack.url}/sessions/${id}?call=${encodeURIComponent(failedRow.call_id)}`);
          await page.locator('[data-testid="ladder-arrow"]').first().waitFor();
          await page.waitForTimeout(500);
          after10 = { heap: await jsHeap(page), ...browserMemory() };
        }
        await page.close();
      }
      const pss = median(mem.map((m) => m.pss));
      const table = {
        headers: ['measure', 'value', 'target / note'],
        rows: [
          ['session', `${EVENTS.toLocaleString('en')} events, ${calls.event_count} stored`, `ingest ${ingestS.toFixed(1)} s`],
          ['first screen (page clock, median)', `${median(first).toFixed(0)} ms`, `≤ ${FIRST_SCREEN_TARGET_MS} ms; runs ${first.map((x) => x.toFixed(0)).join(', ')}`],
          ['first screen (wall, goto → drawn)', `${median(wall).toFixed(0)} ms`, ''],
          ['renderer JS heap after first screen', `${mb(median(heap))} MB`, ''],
          ['browser PSS, all processes', `${mb(pss)} MB`, `≤ ${BROWSER_TARGET_MB} MB`],
          ['browser RSS, all processes (shared pages counted per process)', `${mb(median(mem.map((m) => m.rss)))} MB`, ''],
          ...(after10
            ? [
                ['after 2000 calls listed + one call opened: JS heap', `${mb(after10.heap)} MB`, ''],
                ['after 2000 calls listed + one call opened: browser PSS / RSS', `${mb(after10.pss)} / ${mb(after10.rss)} MB`, `≤ ${BROWSER_TARGET_MB} MB`],
              ]
            : []),
          ...serverRows,
          ['server: RSS growth serving the above (in-process center)', `${mb(rssGrowth)} MB`, ''],
        ],
      };
      return {
        table,
        commands: [`chromium ${CHROMIUM_ARGS.join(' ')} → /sessions/{id} of a ${EVENTS.toLocaleString('en')}-event session (center in-process, SQLite)`],
        notes: [
          `First screen = a call row and a ladder arrow in the DOM, in the page's clock from navigation start; ${runs} runs, each a fresh page in one logged-in context.`,
          'Memory: JS heap from CDP Performance.getMetrics; browser PSS/RSS summed over Chromium and its child processes from /proc/*/smaps_rollup.',
          `Load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}.`,
        ],
      };
    } finally {
      await browser?.close();
      await stack.close();
      rmSync(webRoot, { recursive: true, force: true });
    }
  },
};
