// The call list in Chromium (issue 14) against a real center: a 300-call sipp session (one call of
// them busy) and a generated 100 000-event session. Call rows equal the API's, the search finds the
// one call among 300, a deep link to a call and a message survives a reload and works on the share
// link, and the large session opens on its first screen (timings are measured in `npm run bench`).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Dialog } from '../../src/core/schema/index.js';
import { ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, buildWebUi, forSession, generatedCalls, sippCall, startStack } from './harness.js';
import type { Stack } from './harness.js';

const FIX = path.resolve('test/e2e/fixtures');
const BRIEFS = '/work/briefs/shots';

let stack: Stack;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let webRoot: string;
let sid = '';
let busyId = '';
/** every console error and CSP violation of every page of this file (asserted empty at the end) */
const consoleErrors: string[] = [];
const watchConsole = (p: Page): void => {
  p.on('console', (m) => {
    // the app asks whether a login is needed (GET /api/sessions?limit=1 → 401 before logging in)
    if (/status of 401 \(Unauthorized\)/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy|script-src|default-src/i.test(m.text())) consoleErrors.push(`${p.url()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: ${e.message}`));
  // what a violation was about (Chromium's own console line names only the fallback directive)
  void p.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) =>
      console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' at ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample));`,
  });
};

/** every row of a public (share) call list, page by page */
async function apiRows(base: string): Promise<Dialog[]> {
  const out: Dialog[] = [];
  let after = 0;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${stack.url}${base}/dialogs?limit=500&after=${after}`);
    const j = (await r.json()) as { dialogs: Dialog[]; next_after: number; more: boolean };
    out.push(...j.dialogs);
    after = j.next_after;
    if (!j.more) break;
  }
  return out;
}

const shownRows = (p: Page): Promise<{ id: string; state: string; text: string[] }[]> =>
  p.getByTestId('call-row').evaluateAll((els) =>
    els
      .map((e) => ({ y: Number(/translateY\(([\d.]+)px\)/.exec(e.getAttribute('style') ?? '')?.[1] ?? 0), e }))
      .sort((a, b) => a.y - b.y)
      .map(({ e }) => ({
        id: e.getAttribute('data-call-id') ?? '',
        state: e.getAttribute('data-state') ?? '',
        text: [...e.querySelectorAll('span')].map((s) => s.textContent ?? ''),
      })),
  );

beforeAll(async () => {
  const [root, ok, busy] = await Promise.all([
    buildWebUi(),
    sippCall(false, undefined, 299),
    sippCall(false, { uas: path.join(FIX, 'uas-busy.xml'), uac: path.join(FIX, 'uac-invite-fail.xml') }),
  ]);
  webRoot = root;
  stack = await startStack(webRoot);
  const s = await stack.api('POST', '/api/sessions', { label: 'three hundred calls', criteria: { to: 'service' }, agent_ids: [stack.agent.id], capture_pcap: true });
  sid = s.json.id;
  busyId = busy.find((e) => e.kind === 'sip')!.call_id as string;
  // the busy call in the middle of the others, by time
  const mid = ok[Math.floor(ok.length / 2)].ts;
  const all = [...ok, ...busy.map((e) => ({ ...e, ts: mid + (e.ts - busy[0].ts) }))].sort((a, b) => a.ts - b.ts);
  const wire = forSession(sid, all);
  for (let i = 0; i < wire.length; i += 1000) await stack.ingest(wire.slice(i, i + 1000));
  fs.mkdirSync(BRIEFS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  ctx = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  page = await ctx.newPage();
  watchConsole(page);
  await page.goto(stack.url + '/');
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (webRoot) fs.rmSync(webRoot, { recursive: true, force: true });
});

describe('call list in Chromium', () => {
  it('a 300-call session: the rows are the API\'s, in order, with their state; the failed call stands out', async () => {
    const api = (await stack.api('GET', `/api/sessions/${sid}/dialogs?limit=500`)).json.dialogs as Dialog[];
    expect(api).toHaveLength(300);
    expect(api.filter((d) => d.state === 'failed').map((d) => d.call_id)).toEqual([busyId]);
    await page.goto(`${stack.url}/sessions/${sid}`);
    await page.getByTestId('call-row').first().waitFor();
    const first = await shownRows(page);
    expect(first.length).toBeGreaterThan(5);
    expect(first.length).toBeLessThan(100); // virtualised
    expect(first.map((r) => [r.id, r.state])).toEqual(api.slice(0, first.length).map((d) => [d.call_id, d.state]));
    // scrolling to the end reads the next page: the last rows are the API's last
    for (let i = 0; i < 20; i++) {
      await page.locator('.call-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
      if ((await page.getByTestId('call-all').textContent())?.includes('300 listed')) break;
      await page.waitForTimeout(200);
    }
    await expect.poll(() => page.getByTestId('call-all').textContent(), { timeout: 30_000 }).toContain('300 listed');
    await page.locator('.call-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await expect.poll(async () => (await shownRows(page)).at(-1)?.id, { timeout: 30_000 }).toBe(api[299].call_id);
    const busyRow = page.locator(`[data-testid="call-row"][data-call-id="${busyId}"]`);
    await page.locator('.call-scroll').evaluate((el, i) => (el.scrollTop = i * 26 - 100), api.findIndex((d) => d.call_id === busyId));
    await busyRow.waitFor();
    expect(await busyRow.getAttribute('class')).toContain('bad');
    expect(await busyRow.textContent()).toContain('486 Busy Here');
    await page.locator('.call-list').screenshot({ path: path.join(BRIEFS, 'ui-call-list.png') }).catch(() => undefined);
  });

  it('the search finds the one call among 300 and narrows the ladder to it', async () => {
    await page.getByTestId('session-search').fill('busy-uas');
    await expect.poll(async () => (await shownRows(page)).map((r) => r.id), { timeout: 30_000 }).toEqual([busyId]);
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(4);
    const tags = await page.locator('[data-call-tag]').allTextContents();
    expect(new Set(tags).size).toBe(1); // "All" labels each arrow with its call: one call here
    await page.getByTestId('session-search').fill('');
    await expect.poll(async () => (await shownRows(page)).length, { timeout: 30_000 }).toBeGreaterThan(5);
  });

  it('a click opens the call; call and message deep links survive a reload and work on the share link', async () => {
    await page.getByTestId('session-search').fill(busyId);
    await page.locator(`[data-testid="call-row"][data-call-id="${busyId}"]`).click();
    await expect.poll(() => page.getByTestId('ladder-title').textContent(), { timeout: 30_000 }).toContain(busyId);
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(4); // INVITE, 180, 486, ACK
    await page.locator('[data-arrow="2"]').click();
    await expect.poll(() => page.getByTestId('message-detail').locator('.sip-start').textContent(), { timeout: 30_000 }).toMatch(/^SIP\/2\.0 486 Busy Here/);
    const url = new URL(page.url());
    expect(url.searchParams.get('call')).toBe(busyId);
    const msg = url.searchParams.get('msg');
    expect(msg).toMatch(/^\d+$/);
    await page.reload();
    await expect.poll(() => page.getByTestId('message-detail').locator('.sip-start').textContent(), { timeout: 15_000 }).toMatch(/^SIP\/2\.0 486 Busy Here/);
    expect(await page.getByTestId('ladder-title').textContent()).toContain(busyId);
    // the share view: the same list, the same deep link
    const token = (await stack.api('POST', `/api/sessions/${sid}/share`)).json.token as string;
    const anon = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    try {
      const p = await anon.newPage();
      watchConsole(p);
      await p.goto(`${stack.url}/share/${token}`);
      await p.getByTestId('call-row').first().waitFor();
      const shared = await shownRows(p);
      const api = await apiRows(`/api/share/${token}`);
      expect(api).toHaveLength(300);
      expect(shared.map((r) => r.id)).toEqual(api.slice(0, shared.length).map((d) => d.call_id));
      await p.goto(`${stack.url}/share/${token}?call=${encodeURIComponent(busyId)}&msg=${msg}`);
      await expect.poll(() => p.getByTestId('message-detail').locator('.sip-start').textContent(), { timeout: 15_000 }).toMatch(/^SIP\/2\.0 486 Busy Here/);
    } finally {
      await anon.close();
    }
  });

  it('compares two messages, and exports the call alone as a PCAP named after the session and the call', async () => {
    await page.goto(`${stack.url}/sessions/${sid}?call=${encodeURIComponent(busyId)}`);
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(4);
    await page.locator('[data-arrow="0"]').click();
    await page.getByTestId('compare-mark').click();
    await page.getByTestId('compare-hint').waitFor();
    await page.locator('[data-arrow="2"]').click();
    const diff = page.getByTestId('message-diff');
    await diff.waitFor();
    const removed = await diff.locator('[data-op="-"]').allTextContents();
    const added = await diff.locator('[data-op="+"]').allTextContents();
    expect(removed[0]).toMatch(/^- INVITE sip:/);
    expect(added[0]).toMatch(/^\+ SIP\/2\.0 486 Busy Here/);
    // the Call-ID line is the same in both: not marked
    const same = await diff.locator('[data-op=" "]').allTextContents();
    expect(same.some((l) => l.includes(busyId))).toBe(true);
    await page.getByTestId('diff-close').click();
    expect(await diff.count()).toBe(0);

    const link = page.getByTestId('export-call-pcap');
    expect(await link.getAttribute('download')).toBe(`three_hundred_calls-${busyId.replace(/[^\w.-]+/g, '_')}-${sid}.pcap`);
    const href = (await link.getAttribute('href'))!;
    const pcap = Buffer.from(await (await page.request.get(stack.url + href)).body());
    let off = 24;
    const texts: string[] = [];
    while (off < pcap.length) {
      const caplen = pcap.readUInt32LE(off + 8);
      texts.push(pcap.subarray(off + 16, off + 16 + caplen).toString('latin1'));
      off += 16 + caplen;
    }
    // one record per event of the call (the API's), each of them carrying its Call-ID: no other call's packet
    const events = (await stack.api('GET', `/api/sessions/${sid}/events?call_id=${encodeURIComponent(busyId)}&limit=1000`)).json.events as unknown[];
    expect(texts.length).toBe(events.length);
    expect(texts.length).toBeGreaterThanOrEqual(4);
    expect(texts.filter((t) => !t.includes(busyId))).toEqual([]);
  });

  it('at 1024 px the ladder keeps the selected arrow in view as the user moves through the messages', async () => {
    const narrow = await ctx.newPage();
    watchConsole(narrow);
    try {
      await narrow.setViewportSize({ width: 1024, height: 768 });
      await narrow.goto(`${stack.url}/sessions/${sid}`);
      await narrow.locator('[data-testid="ladder-arrow"]').first().waitFor({ timeout: 30_000 });
      await narrow.locator('[data-arrow="0"]').click();
      await narrow.getByTestId('message-detail').waitFor();
      const inView = () =>
        narrow.evaluate<{ i: number; visible: boolean }>(`(() => {
          const box = document.querySelector('.ladder-scroll').getBoundingClientRect();
          const sel = document.querySelector('[data-testid="message-detail"] .facts dd').textContent;
          const i = Number(/^(\\d+)/.exec(sel)[1]) - 1;
          const arrow = document.querySelector('[data-arrow="' + i + '"]');
          if (!arrow) return { i, visible: false };
          const r = arrow.getBoundingClientRect();
          // the client area: under the sticky lane header, above the horizontal scroll bar
          const sc = document.querySelector('.ladder-scroll');
          const top = box.top + sc.clientTop + document.querySelector('.ladder-header').getBoundingClientRect().height;
          const bottom = box.top + sc.clientTop + sc.clientHeight;
          const visible = r.top >= top && r.bottom <= bottom && r.left < box.left + sc.clientWidth && r.right > box.left;
          return visible ? { i, visible } : { i, visible, arrow: [r.top, r.bottom, r.left, r.right].map(Math.round), box: [box.top, box.bottom, box.left, box.right].map(Math.round) };
        })()`);
      for (let k = 0; k < 40; k++) await narrow.keyboard.press('ArrowDown');
      await expect.poll(inView, { timeout: 15_000 }).toMatchObject({ i: 40, visible: true });
      for (let k = 0; k < 25; k++) await narrow.keyboard.press('ArrowUp');
      await expect.poll(inView, { timeout: 15_000 }).toMatchObject({ i: 15, visible: true });
    } finally {
      await narrow.close();
    }
  });

  it('every time carries its date and zone, in UTC or the browser\'s zone (switch), 24-hour, on the ladder and in the detail', async () => {
    // the link made earlier in this file, shown again (or a new one when this test runs alone)
    const shown = await stack.api('GET', `/api/sessions/${sid}/share`);
    const token = (shown.status === 200 ? shown.json.token : (await stack.api('POST', `/api/sessions/${sid}/share`)).json.token) as string;
    const india = await browser.newContext({ viewport: { width: 1500, height: 1000 }, timezoneId: 'Asia/Kolkata' }); // +05:30, no DST
    try {
      const p = await india.newPage();
      watchConsole(p);
      await p.goto(`${stack.url}/share/${token}?call=${encodeURIComponent(busyId)}`);
      await expect.poll(() => p.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(4);
      const zoneText = () => p.locator('[data-clock-zone]').first().textContent();
      await expect.poll(zoneText).toMatch(/^\d{4}-\d{2}-\d{2} UTC · delta$/);
      const utcClock = await p.locator('svg[data-testid="ladder"] text').first().textContent();
      await p.locator('[data-arrow="0"]').click();
      const detailTime = () => p.getByTestId('message-detail').locator('.facts dd').nth(1).textContent();
      await expect.poll(detailTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC /);
      await p.getByTestId('tz-select').selectOption('local');
      await expect.poll(zoneText).toMatch(/^\d{4}-\d{2}-\d{2} \+05:30 · delta$/);
      await expect.poll(detailTime).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \+05:30 /);
      // the same instant, 5 h 30 later on the clock
      const localClock = await p.locator('svg[data-testid="ladder"] text').first().textContent();
      const mins = (c: string) => {
        const [h, m] = c.split(':').map(Number);
        return h * 60 + m;
      };
      expect((mins(localClock!) - mins(utcClock!) + 1440) % 1440).toBe(330);
      // the choice is kept, and lists and headers follow it (24-hour, zone named)
      await p.reload();
      await expect.poll(zoneText, { timeout: 15_000 }).toContain('+05:30');
      expect(await p.locator('.session-head .meta').textContent()).toMatch(/created \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \+05:30/);
    } finally {
      await india.close();
    }
  });

  it('the sessions list finds a session by a Call-ID seen in it, by label, and filters by status, agent and share', async () => {
    const other = (await stack.api('POST', '/api/sessions', { label: 'unrelated ticket', criteria: { to: 'nobody' }, agent_ids: [stack.agent.id] })).json.id as string;
    await stack.api('DELETE', `/api/sessions/${other}`);
    await page.goto(`${stack.url}/`);
    const labels = () => page.getByTestId('sessions-table').locator('tbody tr td:first-child a').allTextContents();
    await expect.poll(labels, { timeout: 15_000 }).toEqual(expect.arrayContaining(['three hundred calls', 'unrelated ticket']));
    await page.getByTestId('sessions-search').fill(busyId);
    await expect.poll(labels, { timeout: 15_000 }).toEqual(['three hundred calls']);
    expect(new URL(page.url()).searchParams.get('q')).toBe(busyId);
    // the filters survive a reload (they are in the URL)
    await page.reload();
    await expect.poll(labels, { timeout: 15_000 }).toEqual(['three hundred calls']);
    await page.getByTestId('sessions-search').fill('UNRELATED');
    await expect.poll(labels, { timeout: 15_000 }).toEqual(['unrelated ticket']);
    await page.getByTestId('sessions-status').selectOption('running');
    await page.getByTestId('sessions-none').waitFor({ timeout: 15_000 });
    await page.getByTestId('sessions-search').fill('');
    await expect.poll(labels, { timeout: 15_000 }).toEqual(['three hundred calls']);
    await page.getByTestId('sessions-status').selectOption('');
    await page.getByTestId('sessions-shared').selectOption('true'); // the previous test shared the 300-call session
    await expect.poll(labels, { timeout: 15_000 }).toEqual(['three hundred calls']);
    await page.getByTestId('sessions-shared').selectOption('');
    await page.getByTestId('sessions-agent').selectOption(String(stack.agent.id));
    await expect.poll(labels, { timeout: 15_000 }).toEqual(expect.arrayContaining(['three hundred calls', 'unrelated ticket']));
    await page.getByTestId('sessions-agent').selectOption('');
  });

  it('a generated 100 000-event session opens on its first screen: call rows and the first ladder page, never every event', async () => {
    const s = await stack.api('POST', '/api/sessions', { label: 'one hundred thousand', criteria: { domain: 'example.com' }, agent_ids: [stack.agent.id] });
    const id = s.json.id as string;
    const wire = forSession(id, generatedCalls(100_000));
    for (let i = 0; i < wire.length; i += 1000) expect((await stack.ingest(wire.slice(i, i + 1000))).accepted).toBe(Math.min(1000, wire.length - i));
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${stack.url}/sessions/${id}`);
    await page.getByTestId('call-row').first().waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="ladder-arrow"]').first().waitFor({ timeout: 30_000 });
    const rows = await shownRows(page);
    expect(rows.length).toBeLessThan(100);
    expect(rows[0].id).toBe('gen-0-0@198.51.100.10');
    // bounded reads: one page of calls, one page of events
    const events = requests.filter((u) => u.includes(`/api/sessions/${id}/events`));
    expect(events.length, events.join('\n')).toBeLessThanOrEqual(2);
    expect(Number(await page.locator('.ladder-scroll').getAttribute('data-arrows'))).toBeLessThanOrEqual(2000);
    // a failed call among the 14 000: search it, open it
    await page.getByTestId('state-filter').selectOption('failed,cancelled');
    await expect.poll(async () => (await shownRows(page))[0]?.state, { timeout: 30_000 }).toBe('failed');
    await page.getByTestId('call-row').first().click();
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(5);
    await page.screenshot({ path: path.join(BRIEFS, 'ui-large-session.png') }).catch(() => undefined);
  }, 180_000);

  it('no page of this file logged a console error or a Content Security Policy violation', () => {
    expect(consoleErrors.join("\n")).toBe("");
  });
});
