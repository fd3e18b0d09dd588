// B2BUA legs in the call list, in Chromium against a real center (issues 13 and 14): two calls of two
// legs each, one pair linked by a header (as agents report X-CID / Session-ID links), the other
// inferred by number and time. The list shows one row per call with its legs, the guessed grouping
// labelled inferred; opening a row draws every leg's arrows, lettered [A] / [B] (", inferred").
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { Dialog } from '../../src/core/schema/index.js';
import { ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, buildWebUi, forSession, generatedCalls, startStack } from './harness.js';
import type { Stack, WireEvent } from './harness.js';

let stack: Stack;
let browser: Browser;
let page: Page;
let webRoot: string;
let sid = '';
let ids: string[] = [];

beforeAll(async () => {
  webRoot = await buildWebUi();
  stack = await startStack(webRoot);
  sid = (await stack.api('POST', '/api/sessions', { label: 'b2bua legs', criteria: { domain: 'example.com' }, agent_ids: [stack.agent.id] })).json.id;
  // four generated calls, 50 ms apart: call 1 is call 0's B leg (linked by a header), call 3 is call 2's
  // (inferred); each leg's events name the other leg, as the agent sends them
  const calls = generatedCalls(26);
  ids = [...new Set(calls.map((e) => e.call_id as string))];
  const other = new Map([[ids[0], ids[1]], [ids[1], ids[0]], [ids[2], ids[3]], [ids[3], ids[2]]]);
  const linked = calls.map((e): WireEvent => ({
    ...e,
    linked_call_ids: [other.get(e.call_id as string)],
    ...(e.call_id === ids[2] || e.call_id === ids[3] ? { linked_inferred: true } : {}),
  }));
  expect((await stack.ingest(forSession(sid, linked))).accepted).toBe(26);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await (await browser.newContext({ viewport: { width: 1500, height: 1000 } })).newPage();
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

describe('B2BUA legs in the call list', () => {
  it('one row per call with its legs, the inferred one labelled so; opening it draws every leg, lettered', async () => {
    const api = (await stack.api('GET', `/api/sessions/${sid}/dialogs`)).json.dialogs as Dialog[];
    expect(api.map((d) => [d.call_id, d.legs, d.legs_inferred, d.messages])).toEqual([
      [ids[0], [ids[0], ids[1]], false, 14],
      [ids[2], [ids[2], ids[3]], true, 12],
    ]);
    await page.goto(`${stack.url}/sessions/${sid}`);
    await page.getByTestId('call-row').first().waitFor();
    const rows = page.getByTestId('call-row');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    const row = (id: string) => page.locator(`[data-testid="call-row"][data-call-id="${id}"]`);
    expect(await row(ids[0]).getAttribute('data-legs')).toBe(`${ids[0]} ${ids[1]}`);
    expect(await row(ids[0]).getByTestId('call-legs').textContent()).toBe('2 legs');
    expect(await row(ids[2]).getByTestId('call-legs').textContent()).toBe('2 legs, inferred');
    expect(await row(ids[0]).textContent()).toContain(ids[1]);

    // opening the header-linked call: both legs' arrows, each with its leg letter
    await row(ids[0]).click();
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(14);
    const labels = await page.getByTestId('ladder-arrow').allTextContents();
    expect(labels.filter((l) => l.includes('[A] ')).length).toBe(7);
    expect(labels.filter((l) => l.includes('[B] ')).length).toBe(7);
    // the inferred pair says so on every arrow
    await row(ids[2]).click();
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(12);
    const guessed = await page.getByTestId('ladder-arrow').allTextContents();
    expect([guessed.filter((l) => l.includes('[A, inferred] ')).length, guessed.filter((l) => l.includes('[B, inferred] ')).length]).toEqual([7, 5]);
    // a link to the B leg opens the whole call
    await page.goto(`${stack.url}/sessions/${sid}?call=${encodeURIComponent(ids[1])}`);
    await expect.poll(() => page.getByTestId('ladder-arrow').count(), { timeout: 30_000 }).toBe(14);
  }, 120_000);

  it('live: a B leg seen first is its own row until its earlier A leg arrives, then the call is one row under the A leg', async () => {
    const live = (await stack.api('POST', '/api/sessions', { label: 'legs live', criteria: { domain: 'example.com' }, agent_ids: [stack.agent.id] })).json.id as string;
    const [a, b] = ids.slice(0, 2);
    const rename = (c: string) => `live-${c}`;
    const leg = (c: string, other: string): WireEvent[] =>
      generatedCalls(14)
        .filter((e) => e.call_id === c)
        .map((e) => ({ ...e, call_id: rename(c), payload: String(e.payload).replace(c, rename(c)), linked_call_ids: [rename(other)] }));
    await stack.ingest(forSession(live, leg(b, a)));
    await page.goto(`${stack.url}/sessions/${live}`);
    const shown = () => page.getByTestId('call-row').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-call-id')}|${e.getAttribute('data-legs')}`));
    await expect.poll(shown, { timeout: 30_000 }).toEqual([`${rename(b)}|${rename(b)} ${rename(a)}`]);
    await stack.ingest(forSession(live, leg(a, b)));
    await expect.poll(shown, { timeout: 30_000 }).toEqual([`${rename(a)}|${rename(a)} ${rename(b)}`]);
  }, 120_000);
});
