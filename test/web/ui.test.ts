// The web UI in Debian's Chromium (playwright-core) against a real center, with real sipp traffic
// captured on loopback and posted through POST /api/ingest as an agent would (issue 5's test list).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CRITERIA_REQUIRED_MESSAGE } from '../../src/core/schema/criteria.js';
import { Agent } from '../../src/agent/agent.js';
import { ADMIN_PASSWORD, ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, buildWebUi, forSession, runSippCall, sippCall, sippPorts, startStack } from './harness.js';
import type { Stack, WireEvent } from './harness.js';

let stack: Stack;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let call: WireEvent[];
let webRoot: string;

beforeAll(async () => {
  const [root, traffic] = await Promise.all([buildWebUi(), sippCall()]);
  webRoot = root;
  call = traffic;
  stack = await startStack(webRoot);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1500, height: 1000 } });
  page = await ctx.newPage();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (webRoot) fs.rmSync(webRoot, { recursive: true, force: true });
});

async function login(p: Page): Promise<void> {
  await p.goto(stack.url + '/');
  await p.getByLabel('User name').fill('admin');
  await p.getByLabel('Password').fill(ADMIN_PASSWORD);
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.getByRole('heading', { name: 'Capture sessions' }).waitFor();
}

/** Fills the new capture form; returns the session id from the page URL after it is created. */
async function createThroughForm(p: Page, label: string, criteria: Record<string, string>, rtp = false): Promise<string> {
  await p.getByRole('link', { name: 'New capture' }).first().click();
  await p.getByRole('heading', { name: 'New capture' }).waitFor();
  await p.locator('input[name="label"]').fill(label);
  for (const [k, v] of Object.entries(criteria)) await p.locator(`input[name="${k}"]`).fill(v);
  if (rtp) await p.locator('input[name="capture_rtp"]').check();
  await p.locator('input[name="agent"]').first().check();
  await p.getByTestId('start-capture').click();
  await p.waitForURL(/\/sessions\/[0-9a-f]{20}$/);
  return /\/sessions\/([0-9a-f]{20})$/.exec(p.url())![1];
}

const arrowLabels = (p: Page): Promise<string[]> =>
  p.getByTestId('ladder-arrow').evaluateAll((els) => els.map((e) => (e.querySelector('text')?.textContent ?? '').trim()));

describe('web UI in Chromium', () => {
  let sessionId = '';
  const label = 'ui call #1';

  it('logs in through the form and keeps no token in localStorage', async () => {
    await login(page);
    expect(await page.evaluate('JSON.stringify({ ...localStorage, ...sessionStorage })')).toBe('{}');
    const cookies = await ctx.cookies();
    expect(cookies.find((c) => c.name === 'tunaio_session')?.httpOnly).toBe(true);
  });

  it('refuses method-only criteria with the API message and creates nothing', async () => {
    const before = (await stack.api('GET', '/api/sessions')).json.sessions.length;
    await page.getByRole('link', { name: 'New capture' }).first().click();
    await page.locator('input[name="method"]').fill('INVITE');
    await page.locator('input[name="agent"]').first().check();
    await page.getByTestId('start-capture').click();
    await expect.poll(() => page.getByTestId('criteria-error').textContent()).toBe(CRITERIA_REQUIRED_MESSAGE);
    // the API says the same thing, word for word
    const api = await stack.api('POST', '/api/sessions', { criteria: { method: 'INVITE' }, agent_ids: [stack.agent.id] });
    expect(api.status).toBe(400);
    expect(api.json.error.message).toBe(CRITERIA_REQUIRED_MESSAGE);
    expect((await stack.api('GET', '/api/sessions')).json.sessions.length).toBe(before);
    expect(page.url()).toMatch(/\/sessions\/new$/);
  });

  it('shows an API error next to its field', async () => {
    await page.locator('input[name="method"]').fill('');
    await page.locator('input[name="provider_ip"]').fill('not-an-ip');
    await page.getByTestId('start-capture').click();
    const err = page.locator('.field.has-error', { has: page.locator('input[name="provider_ip"]') }).locator('.field-error');
    await expect.poll(() => err.textContent()).toMatch(/IPv4 or IPv6 address or a CIDR/);
    // named as the form names it, not by its API key
    expect(await err.textContent()).toMatch(/^Provider IP must be/);
    // the label is limited, with a counter
    await page.locator('input[name="label"]').fill('x'.repeat(250));
    expect((await page.locator('input[name="label"]').inputValue()).length).toBe(200);
    expect(await page.getByTestId('label-counter').textContent()).toBe('200/200');
    await page.locator('input[name="label"]').fill('');
  });

  it('adds and updates an agent on the agents page; tag chips show which agents a tag selects', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByTestId('agents-table').waitFor();
    const form = page.getByTestId('agent-form');
    await form.locator('input[name="name"]').fill('edge-b');
    await form.locator('input[name="url"]').fill('not a url');
    await form.locator('input[name="token"]').fill('edge-b-token-abcdefghijklmnopqrstuvwxyz');
    await form.locator('input[name="tags"]').fill('lab, fra');
    await form.getByRole('button', { name: 'Add agent' }).click();
    await expect.poll(() => form.locator('.field.has-error .field-error').textContent()).toMatch(/http\(s\) URL/);
    await form.locator('input[name="url"]').fill('http://127.0.0.1:9071');
    await form.getByRole('button', { name: 'Add agent' }).click();
    const row = page.getByTestId('agents-table').locator('tr', { hasText: 'edge-b' });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('fra');
    // update by name: disable it
    await row.getByRole('button', { name: 'edit' }).click();
    await form.getByLabel('Enabled').uncheck();
    await form.getByRole('button', { name: 'Update agent' }).click();
    await expect.poll(() => row.textContent()).toContain('disabled');
    const agents = (await stack.api('GET', '/api/agents')).json.agents as { name: string; enabled: boolean; tags: string[] }[];
    expect(agents.find((a) => a.name === 'edge-b')).toMatchObject({ enabled: false, tags: ['lab', 'fra'] });
    // the new capture form: the "lab" chip selects the enabled agents carrying it
    await page.getByRole('link', { name: 'New capture' }).first().click();
    const chip = page.getByRole('button', { name: /^lab/ });
    expect(await chip.textContent()).toBe(`lab → ${stack.agent.name}`);
    await chip.click();
    expect(await page.locator('input[name="agent"]').first().isChecked()).toBe(true);
    await chip.click();
  });

  it('lists a session created elsewhere without a reload', async () => {
    await page.goto(stack.url + '/');
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    const s = await stack.api('POST', '/api/sessions', { label: 'made by the API', criteria: { to: '4711' }, agent_ids: [stack.agent.id] });
    expect(s.status).toBe(201);
    await expect.poll(() => page.getByTestId('sessions-table').textContent(), { timeout: 10_000 }).toContain('made by the API');
    const row = page.getByTestId('sessions-table').locator('tr', { hasText: 'made by the API' });
    expect(await row.locator('.status').textContent()).toBe('running');
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^(59|60):\d\d$|^1h 00m$/);
  });

  it('creates a session through the form; a sipp call appears live, arrow by arrow, in order, across a reconnect', async () => {
    await page.goto(stack.url + '/');
    const sip = call.filter((e) => e.kind === 'sip');
    expect(sip.map((e) => (e.sip as { method?: string; status?: number }).method ?? (e.sip as { status: number }).status)).toEqual([
      'INVITE', 180, 200, 'ACK', 'BYE', 200,
    ]);
    sessionId = await createThroughForm(page, label, { to: (sip[0].sip as { to_user: string }).to_user });
    await page.getByTestId('ladder-empty').waitFor();
    await expect.poll(() => page.getByTestId('stream-state').textContent()).toContain('live');
    const wire = forSession(sessionId, sip);
    for (let i = 0; i < 3; i++) {
      expect((await stack.ingest([wire[i]])).accepted).toBe(1);
      await expect.poll(() => page.getByTestId('ladder-arrow').count()).toBe(i + 1);
    }
    // the connection drops; what is captured meanwhile arrives after the reconnect, once, in order
    expect(stack.dropStreams()).toBe(1);
    expect((await stack.ingest(wire.slice(3, 5))).accepted).toBe(2);
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 15_000 }).toBe(5);
    expect((await stack.ingest([wire[5]])).accepted).toBe(1);
    await expect.poll(() => page.getByTestId('ladder-arrow').count()).toBe(6);
    expect(await arrowLabels(page)).toEqual(['INVITE (SDP)', '180 Ringing', '200 OK (SDP)', 'ACK', 'BYE', '200 OK']);
    // a log line with the Call-ID lands between the messages, by time, with its source
    const invite = sip[0];
    const [log] = forSession(sessionId, [
      { ts: invite.ts + 1, kind: 'log', call_id: invite.call_id, payload: `NOTICE: routing INVITE callid=${invite.call_id}`, log: { source: '/var/log/proxy.log' } },
    ]);
    expect((await stack.ingest([log])).accepted).toBe(1);
    await expect.poll(() => page.locator('[data-log]').count()).toBe(1);
    expect(await page.locator('[data-log]').textContent()).toContain(`[${stack.agent.name} /var/log/proxy.log] NOTICE: routing INVITE`);
    const rowOf = (sel: string) => page.locator(sel).first().evaluate((el) => Number(el.querySelector('rect')?.getAttribute('y')));
    expect(await rowOf('[data-log]')).toBeGreaterThan(await rowOf('[data-arrow="0"]'));
    expect(await rowOf('[data-log]')).toBeLessThan(await rowOf('[data-arrow="1"]'));
    // the lanes are the two sipp endpoints, caller first
    const src = sip[0].src as { port: number };
    const dst = sip[0].dst as { port: number };
    const header = await page.locator('svg.ladder-header').textContent();
    expect(header!.indexOf(`127.0.0.1:${src.port}`)).toBeGreaterThan(-1);
    expect(header!.indexOf(`127.0.0.1:${src.port}`)).toBeLessThan(header!.indexOf(`127.0.0.1:${dst.port}`));
  });

  it('shows the INVITE text with highlighted header names on click, and ↓ moves to the next message', async () => {
    await page.getByTestId('ladder-arrow').first().click();
    const detail = page.getByTestId('message-detail');
    await expect.poll(() => detail.locator('.sip-start').textContent()).toMatch(/^INVITE sip:\S+ SIP\/2\.0$/);
    const names = await detail.locator('.sip-hname').allTextContents();
    expect(names).toEqual(expect.arrayContaining(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Type']));
    expect(await detail.locator('.sdp-key').count()).toBeGreaterThan(3);
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => detail.locator('.sip-start').textContent()).toMatch(/^SIP\/2\.0 180 Ringing/);
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => detail.locator('.sip-start').textContent()).toMatch(/^INVITE /);
  });

  it('exports the ladder as a PNG named <label>-<id>.png', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
    expect(download.suggestedFilename()).toBe(`ui_call_1-${sessionId}.png`);
    const file = path.join(ARTIFACTS, 'ladder-export.png');
    await download.saveAs(file);
    const png = fs.readFileSync(file);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    // two lanes at 2x: wide enough for both IP:port labels; six rows plus header and title
    expect(width).toBeGreaterThanOrEqual(1000);
    expect(height).toBeGreaterThanOrEqual(2 * (28 + 58 + 6 * 32));
    expect(png.length).toBeGreaterThan(15_000);
    await page.locator('.ladder-area').screenshot({ path: path.join(ARTIFACTS, 'ladder.png') });
  });

  it('opens the share link logged out, read-only; revoking it makes it 404', async (t) => {
    const probe = await stack.api('POST', `/api/sessions/${sessionId}/share`);
    if (probe.status === 404 && probe.json?.error?.message?.startsWith('no route')) {
      t.skip(); // share endpoints (issue 6) are not in the center yet
      return;
    }
    // the probe made a link: "Show share link" shows that one (after a reload too), it does not rotate it
    await page.reload();
    await page.getByTestId('share-show').click();
    const first = await page.getByTestId('share-url').inputValue();
    expect(first).toContain(`/share/${probe.json.token}`);
    await page.reload();
    await page.getByTestId('share-show').click();
    expect(await page.getByTestId('share-url').inputValue()).toBe(first);
    expect((await fetch(`${stack.url}/api/share/${probe.json.token}`)).status).toBe(200);
    let warned = '';
    page.once('dialog', (d) => {
      warned = d.message();
      void d.accept();
    });
    await page.getByTestId('share-rotate').click();
    await expect.poll(() => page.getByTestId('share-url').inputValue()).not.toBe(first);
    expect(warned).toContain('stops working');
    expect((await fetch(`${stack.url}/api/share/${/\/share\/([^/?#]+)/.exec(first)![1]}`)).status).toBe(404);
    const url = await page.getByTestId('share-url').inputValue();
    const token = /\/share\/([^/?#]+)/.exec(url)![1];
    const anon = await browser.newContext();
    try {
      const p = await anon.newPage();
      await p.goto(`${stack.url}/share/${token}`);
      await expect.poll(() => p.getByTestId('ladder-arrow').count()).toBe(6);
      for (const id of ['stop', 'purge', 'share-create', 'share-show', 'share-rotate', 'share-revoke', 'logout']) expect(await p.getByTestId(id).count()).toBe(0);
      expect(await p.content()).not.toContain('127.0.0.1:9'); // no agent URL
      p.once('dialog', (d) => void d.accept());
      page.once('dialog', (d) => void d.accept());
      await page.getByTestId('share-revoke').click();
      await expect.poll(async () => (await fetch(`${stack.url}/api/share/${token}`)).status).toBe(404);
      await p.reload();
      await p.getByTestId('session-error').waitFor();
    } finally {
      await anon.close();
    }
  });

  it('fills the RTP table in an RTP run', async () => {
    const rtpCall = await sippCall(true);
    await page.goto(stack.url + '/');
    const id = await createThroughForm(page, 'ui rtp run', { to: 'service' }, true);
    await page.getByTestId('rtp-empty').waitFor();
    await stack.ingest(forSession(id, rtpCall));
    const rows = page.getByTestId('rtp-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    const cells = await rows.first().locator('td').allTextContents();
    expect(cells[0]).toMatch(/^127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+$/);
    expect(cells[2]).toBe('PCMA'); // sipp's uac_pcap plays G.711 A-law
    expect(Number(cells[3])).toBeGreaterThan(100);
    expect(cells[4]).toBe('0.0');
    expect(Number(cells[6])).toBeGreaterThan(4);
    // media are drawn on the ladder too, between the lanes of the endpoints whose SDP announced them
    expect(await page.locator('[data-media] line').count()).toBeGreaterThanOrEqual(2);
    // quality over time: a uPlot chart per reported stream, one point per report
    const charts = page.getByTestId('rtp-chart');
    await expect.poll(() => charts.count()).toBeGreaterThanOrEqual(2);
    expect(Number(await charts.first().getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    expect(await charts.first().locator('canvas').count()).toBe(1);
  });

  it('shows a call captured by a real agent (tcpdump on lo) live, with its RTP streams', async () => {
    const ports = sippPorts();
    const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-web-spool-'));
    const agent = new Agent({
      name: stack.agent.name,
      token: stack.agent.token,
      listen: { host: '127.0.0.1', port: 0 },
      interfaces: ['lo'],
      bpf: `udp and portrange ${ports.first}-${ports.last}`,
      spoolDir: spool,
      log: () => undefined,
    });
    const addr = await agent.start();
    try {
      await expect.poll(() => agent.sources[0].status().state, { timeout: 10_000 }).toBe('running');
      await page.goto(stack.url + '/');
      const id = await createThroughForm(page, 'real agent call', { to: 'service' }, true);
      // what the center's agent reconciler does: hand the capture to the agent
      const put = await fetch(`http://127.0.0.1:${addr!.port}/v1/captures/${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${stack.agent.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          criteria: { to: 'service' },
          capture_rtp: true,
          capture_pcap: false,
          expires_at: new Date(Date.now() + 600_000).toISOString(),
          ingest_url: `${stack.center.url}/api/ingest`,
        }),
      });
      expect(put.status).toBe(201);
      await runSippCall(ports, true);
      await expect.poll(() => arrowLabels(page), { timeout: 15_000 }).toEqual(['INVITE (SDP)', '180 Ringing', '200 OK (SDP)', 'ACK', 'BYE', '200 OK']);
      const rows = page.getByTestId('rtp-table').locator('tbody tr');
      await expect.poll(() => rows.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      // both directions of the G.711 call (sipp plays ~240 packets each way), with the agent's quality figures
      const table = () => rows.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
      await expect.poll(async () => (await table()).filter((r) => r[2] === 'PCMA' && Number(r[3]) > 100).length, { timeout: 20_000 }).toBe(2);
      console.log('RTP table from the real agent:\n' + (await table()).map((r) => r.join(' | ')).join('\n'));
      expect(await page.getByTestId('session-agents').textContent()).toContain(stack.agent.name);
      expect(await page.locator('[data-media] line').count()).toBeGreaterThanOrEqual(2);
      await page.locator('.session').screenshot({ path: path.join(ARTIFACTS, 'session-real-agent.png') });
    } finally {
      await agent.stop();
      fs.rmSync(spool, { recursive: true, force: true });
    }
  });

  it('stops a session after confirmation, then purges it', async () => {
    await page.goto(`${stack.url}/sessions/${sessionId}`);
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('stop').click();
    await page.getByTestId('purge').waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('purge').click();
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    expect((await stack.api('GET', `/api/sessions/${sessionId}`)).status).toBe(404);
  });

  it('opens a 10 000-event session a page at a time and stays responsive', async () => {
    const s = await stack.api('POST', '/api/sessions', { label: 'ten thousand', criteria: { domain: 'example.com' }, agent_ids: [stack.agent.id] });
    expect(s.status).toBe(201);
    const id = s.json.id as string;
    const t0 = 1_780_000_000_000_000;
    const all: WireEvent[] = [];
    for (let i = 0; i < 10_000; i++) {
      const callId = `load-${Math.floor(i / 10)}@example.com`;
      const cseq = `${i} OPTIONS`;
      all.push({
        ts: t0 + i * 2000,
        kind: 'sip',
        transport: 'udp',
        src: { ip: '192.0.2.1', port: 5060 },
        dst: { ip: i % 2 ? '192.0.2.2' : '192.0.2.3', port: 5060 },
        call_id: callId,
        sip: { method: 'OPTIONS', cseq_seq: i, cseq_method: 'OPTIONS', has_sdp: false },
        payload: `OPTIONS sip:ping@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK${i}\r\nFrom: <sip:a@example.com>;tag=f${i}\r\nTo: <sip:ping@example.com>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq}\r\nContent-Length: 0\r\n\r\n`,
      });
    }
    const wire = forSession(id, all);
    for (let i = 0; i < wire.length; i += 1000) expect((await stack.ingest(wire.slice(i, i + 1000))).accepted).toBe(1000);
    // "All" reads the session's events a page at a time: the first page is drawn, the next one is read
    // when the ladder is scrolled to its end
    const started = Date.now();
    await page.goto(`${stack.url}/sessions/${id}`);
    await page.locator('.ladder-scroll[data-arrows="1000"]').waitFor({ timeout: 60_000 });
    const renderMs = Date.now() - started;
    // windowed: only the rows in view are in the DOM
    const drawn = await page.getByTestId('ladder-arrow').count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(200);
    const t1 = Date.now();
    await page.locator('.ladder-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator('.ladder-scroll[data-arrows="2000"]').waitFor({ timeout: 30_000 });
    await page.locator('.ladder-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator('[data-arrow="1999"]').click();
    await expect.poll(() => page.getByTestId('message-detail').locator('.sip-start').textContent()).toMatch(/^OPTIONS /);
    const scrollClickMs = Date.now() - t1;
    // one call of the thousand, by deep link: its ten messages only
    await page.goto(`${stack.url}/sessions/${id}?call=load-7@example.com`);
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(10);
    const note = `10 000-event session: ${renderMs} ms from navigation to the first page of the ladder drawn; ${scrollClickMs} ms to scroll to its end, read the next page and open its last message (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)\n`;
    fs.writeFileSync(path.join(ARTIFACTS, 'render-10k.txt'), note);
    console.log(note.trim());
  }, 120_000);

  it('logs out: the cookie no longer works and the login page shows', async () => {
    await page.goto(stack.url + '/');
    await page.getByTestId('logout').click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await page.evaluate(`fetch('/api/sessions').then((r) => r.status)`)).toBe(401);
    await page.goto(stack.url + '/agents');
    await page.getByRole('button', { name: 'Log in' }).waitFor();
  });
});
