// ladder.svg / ladder.png (DESIGN §3): the session's events through the core ladder model
// (buildLadder) and the core SVG renderer (renderLadderSvg), the same code the web UI draws with, so the
// server's picture is the UI's. PNG: @resvg/resvg-js with the DejaVu fonts of the `dejavu-fonts-ttf`
// package and no system fonts, so a bare server draws the same glyphs as any other. Very long ladders
// are cut to the first rows that fit a 16 000 px picture, as the UI's PNG export does, and say so in
// their title and in the `x-ladder-rows` header.
import { createRequire } from 'node:module';
import path from 'node:path';
import { renderAsync } from '@resvg/resvg-js';
import type { FastifyReply } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import { buildLadder, ladderGeometry, renderLadderSvg, rowWindow } from '../../../core/ladder/index.js';
import type { Ladder, LadderEvent } from '../../../core/ladder/index.js';
import type { CenterContext } from '../../context.js';
import type { SessionRecord } from '../../storage/types.js';

export const ladderQuerySchema = z
  .object({ call_id: z.string().min(1, 'call_id must not be empty').max(1024).optional() })
  .strict();

/** events read for one ladder; a session with more is drawn from its first ones */
export const LADDER_MAX_EVENTS = 50_000;
const PAGE = 1000;
/** the largest side of a picture, as the UI's PNG export (web/session/png.ts) */
export const MAX_PICTURE_PX = 16_000;

const require = createRequire(import.meta.url);
let fontFiles: string[] | null = null;
/** The TTF files resvg draws with: DejaVu Sans and Sans Mono, regular and bold (the renderer's font families). */
export function ladderFontFiles(): string[] {
  if (fontFiles === null) {
    const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf'].map((f) => path.join(dir, f));
  }
  return fontFiles;
}

async function loadEvents(ctx: CenterContext, sessionId: string): Promise<{ events: LadderEvent[]; complete: boolean }> {
  const events: LadderEvent[] = [];
  let after = 0;
  for (let page = 0; page * PAGE < LADDER_MAX_EVENTS; page++) {
    const r = await ctx.storage.listEvents(sessionId, after, PAGE);
    for (const e of r.events) events.push(e);
    if (r.events.length > 0) after = r.events[r.events.length - 1].id;
    if (!r.more) return { events, complete: true };
  }
  return { events, complete: false };
}

export interface RenderedLadder {
  svg: string;
  width: number;
  height: number;
  /** rows drawn and rows in the ladder */
  rows: { drawn: number; total: number };
  ladder: Ladder;
}

export async function renderSessionLadder(ctx: CenterContext, s: SessionRecord, callId: string | undefined): Promise<RenderedLadder> {
  const { events, complete } = await loadEvents(ctx, s.id);
  const agentNames = Object.fromEntries((await ctx.storage.getSessionAgents(s.id)).map((a) => [a.agent_id, a.name]));
  const ladder = buildLadder(events, { agentNames, callId: callId ?? null });
  if (callId !== undefined && !ladder.calls.some((c) => c.callId === callId)) {
    throw new TunaError('not_found', `session ${s.id} has no dialog with Call-ID ${JSON.stringify(callId)}`);
  }
  const g = ladderGeometry(ladder);
  const maxRows = Math.floor((MAX_PICTURE_PX - 200) / g.rowHeight);
  const win = rowWindow(ladder, maxRows);
  const total = ladder.rows.length;
  const cut = win.end - win.first < total;
  let title = `${s.label !== '' ? s.label : 'capture'} · session ${s.id}`;
  if (callId !== undefined) title += ` · Call-ID ${callId}`;
  if (cut) title += ` (rows ${win.first + 1}–${win.end} of ${total})`;
  if (!complete) title += ` (first ${LADDER_MAX_EVENTS} events)`;
  const svg = renderLadderSvg(ladder, { ...win, header: true, title });
  const size = /width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
  return {
    svg,
    width: Number(size?.[1] ?? g.width),
    height: Number(size?.[2] ?? 400),
    rows: { drawn: win.end - win.first, total },
    ladder,
  };
}

/** PNG renders at once in this process (each can take seconds of CPU on libuv's pool of 4 threads) */
export const PNG_RENDERS_AT_ONCE = 2;
/** renders that may wait for a turn; past this a request gets 503 at once instead of queueing without bound */
export const PNG_RENDERS_WAITING = 16;
let rendering = 0;
const waiting: (() => void)[] = [];

async function pngTurn<T>(work: () => Promise<T>): Promise<T> {
  if (rendering >= PNG_RENDERS_AT_ONCE) {
    if (waiting.length >= PNG_RENDERS_WAITING) {
      const n = PNG_RENDERS_AT_ONCE + PNG_RENDERS_WAITING;
      throw new TunaError('unavailable', `${n} ladder pictures are being drawn or waiting; try again in a few seconds`);
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else rendering++;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next !== undefined) next(); // the turn passes on: `rendering` stays
    else rendering--;
  }
}

/** PNG of the SVG, at twice the size while the larger side stays within MAX_PICTURE_PX (sharp text in tickets). */
export async function ladderPng(r: Pick<RenderedLadder, 'svg' | 'width' | 'height'>): Promise<Buffer> {
  const scale = Math.max(1, Math.min(2, MAX_PICTURE_PX / Math.max(r.width, r.height)));
  // renderAsync rasterizes on libuv's thread pool: a large ladder does not stall the event loop
  const img = await pngTurn(() =>
    renderAsync(r.svg, {
      background: '#ffffff',
      fitTo: { mode: 'zoom', value: scale },
      font: {
        fontFiles: ladderFontFiles(),
        loadSystemFonts: false,
        defaultFontFamily: 'DejaVu Sans',
        sansSerifFamily: 'DejaVu Sans',
        monospaceFamily: 'DejaVu Sans Mono',
      },
    }),
  );
  return img.asPng();
}

export async function sendLadder(
  ctx: CenterContext,
  reply: FastifyReply,
  s: SessionRecord,
  format: 'svg' | 'png',
  query: unknown,
): Promise<FastifyReply> {
  const q = ladderQuerySchema.parse(query);
  const r = await renderSessionLadder(ctx, s, q.call_id);
  const name = `tunaio-${s.id}${q.call_id !== undefined ? '-dialog' : ''}.${format}`;
  void reply
    .header('x-ladder-rows', `${r.rows.drawn}/${r.rows.total}`)
    .header('content-disposition', `inline; filename="${name}"`)
    .header('cache-control', 'no-store');
  if (format === 'svg') return reply.type('image/svg+xml; charset=utf-8').send(r.svg);
  return reply.type('image/png').send(await ladderPng(r));
}
