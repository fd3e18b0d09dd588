// ladder.svg / ladder.png (DESIGN §3): the session's events through the core ladder model
// (buildLadder) and the core SVG renderer (renderLadderSvg), the same code the web UI draws with, so the
// server's picture is the UI's. PNG: @resvg/resvg-js with the DejaVu fonts of the `dejavu-fonts-ttf`
// package and no system fonts, so a bare server draws the same glyphs as any other.
// Bounded (issue 16: a shared session with 200 endpoints once took 2.6 GB for one 40 394 × 6 502 px PNG,
// through an anonymous share link): at most LADDER_MAX_EVENTS events and LADDER_MAX_PAYLOAD_BYTES of
// their text are read; at most PICTURE_LIMITS.lanes lanes are drawn (later endpoints share one last
// lane); the rows are cut so the picture stays within PICTURE_LIMITS.side a side and .pixels in all, PNG
// scale included (core/ladder/window.ts, shared with the UI's PNG export); and at most
// LADDER_RENDERS_AT_ONCE ladders are built at once. Every cut is said in the picture's title and in the
// `x-ladder-rows` / `x-ladder-lanes` headers.
import { exportName } from '../../../core/export-name.js';
import { createRequire } from 'node:module';
import path from 'node:path';
import { renderAsync } from '@resvg/resvg-js';
import type { FastifyReply } from 'fastify';
import * as z from 'zod';
import { TunaError } from '../../../core/errors.js';
import { buildLadder, ladderGeometry, pictureCaption, pictureScale, pictureWindow, renderLadderSvg } from '../../../core/ladder/index.js';
import type { Ladder, LadderEvent } from '../../../core/ladder/index.js';
import type { CenterContext } from '../../context.js';
import type { SessionRecord } from '../../storage/types.js';
import { Gate } from '../../http/gate.js';

export const ladderQuerySchema = z
  .object({ call_id: z.string().min(1, 'call_id must not be empty').max(1024).optional() })
  .strict();

/** events read for one ladder; a session with more is drawn from its first ones */
export const LADDER_MAX_EVENTS = 50_000;
/** message and log text read for one ladder, in characters (a SIP payload may hold 64 KiB): the events read stop there */
export const LADDER_MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;
const PAGE = 500;
// the picture's size limits (side, pixels, lanes) are the UI's PNG export's: core/ladder PICTURE_LIMITS

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
  let text = 0;
  while (events.length < LADDER_MAX_EVENTS) {
    const r = await ctx.storage.listEvents(sessionId, after, Math.min(PAGE, LADDER_MAX_EVENTS - events.length));
    for (const e of r.events) {
      text += e.payload?.length ?? 0;
      if (text > LADDER_MAX_PAYLOAD_BYTES) return { events, complete: false };
      events.push(e);
    }
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
  /** lanes drawn and endpoints in the ladder */
  lanes: { drawn: number; total: number };
  ladder: Ladder;
}

export async function renderSessionLadder(ctx: CenterContext, s: SessionRecord, callId: string | undefined): Promise<RenderedLadder> {
  const { events, complete } = await loadEvents(ctx, s.id);
  const agentNames = Object.fromEntries((await ctx.storage.getSessionAgents(s.id)).map((a) => [a.agent_id, a.name]));
  const ladder = buildLadder(events, { agentNames, callId: callId ?? null });
  if (callId !== undefined && !ladder.calls.some((c) => c.callId === callId)) {
    throw new TunaError('not_found', `session ${s.id} has no dialog with Call-ID ${JSON.stringify(callId)}`);
  }
  const picture = pictureWindow(ladder);
  const { ladder: drawn, window: win } = picture;
  const g = ladderGeometry(drawn);
  let title = `${s.label !== '' ? s.label : 'capture'} · session ${s.id}`;
  if (callId !== undefined) title += ` · Call-ID ${callId}`;
  title = pictureCaption(title, picture, ladder.lanes.length);
  if (!complete) title += ` (first ${events.length} events)`;
  const svg = renderLadderSvg(drawn, { ...win, header: true, title });
  const size = /width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
  return {
    svg,
    width: Number(size?.[1] ?? g.width),
    height: Number(size?.[2] ?? 400),
    rows: { drawn: win.end - win.first, total: drawn.rows.length },
    lanes: { drawn: drawn.lanes.length, total: ladder.lanes.length },
    ladder: drawn,
  };
}

/** ladders built and drawn at once in this process (a PNG can take seconds of CPU on libuv's pool of 4 threads) */
export const LADDER_RENDERS_AT_ONCE = 2;
/** ladders that may wait for a turn; past this a request gets 503 at once instead of queueing without bound */
export const LADDER_RENDERS_WAITING = 16;
const gate = new Gate(
  LADDER_RENDERS_AT_ONCE,
  LADDER_RENDERS_WAITING,
  () =>
    new TunaError(
      'unavailable',
      `${LADDER_RENDERS_AT_ONCE + LADDER_RENDERS_WAITING} ladder pictures are being drawn or waiting; try again in a few seconds`,
    ),
);

/** Runs the building and drawing of one ladder in its turn (memory and CPU of LADDER_RENDERS_AT_ONCE ladders at most). */
export const inLadderTurn = <T>(work: () => Promise<T>): Promise<T> => gate.run(work);

/** PNG of the SVG at pictureScale (call it in inLadderTurn). */
export async function ladderPng(r: Pick<RenderedLadder, 'svg' | 'width' | 'height'>): Promise<Buffer> {
  const scale = pictureScale(r.width, r.height);
  // renderAsync rasterizes on libuv's thread pool: a large ladder does not stall the event loop
  const img = await renderAsync(r.svg, {
      background: '#ffffff',
      fitTo: { mode: 'zoom', value: scale },
      font: {
        fontFiles: ladderFontFiles(),
        loadSystemFonts: false,
        defaultFontFamily: 'DejaVu Sans',
        sansSerifFamily: 'DejaVu Sans',
        monospaceFamily: 'DejaVu Sans Mono',
      },
    });
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
  const { r, body } = await inLadderTurn(async () => {
    const r = await renderSessionLadder(ctx, s, q.call_id);
    return { r, body: format === 'svg' ? r.svg : await ladderPng(r) };
  });
  if (r.rows.drawn < r.rows.total || r.lanes.drawn < r.lanes.total) ctx.metrics.laddersCut.inc({ format });
  const name = exportName(s.label, s.id, q.call_id ?? null, format);
  void reply
    .header('x-ladder-rows', `${r.rows.drawn}/${r.rows.total}`)
    .header('x-ladder-lanes', `${r.lanes.drawn}/${r.lanes.total}`)
    .header('content-disposition', `inline; filename="${name}"`)
    .header('cache-control', 'no-store');
  return reply.type(format === 'svg' ? 'image/svg+xml; charset=utf-8' : 'image/png').send(body);
}
