// Drawing of the ladder model as SVG text: one renderer for the browser (on screen, windowed, and the
// PNG export) and the center (ladder.svg / ladder.png through resvg), so every picture is the same.
// Only presentation attributes (no CSS classes), so a serialised SVG looks the same outside the page.
// Pure: model in, string out. Owns geometry (ladderGeometry), colours, time labels and escaping.
import type { CallMark, Ladder, LadderArrow, LogLine, MediaStream } from './types.js';

export const LADDER_PALETTE = [
  '#1f6fd1', '#c2410c', '#15803d', '#9333ea', '#b91c1c', '#0e7490',
  '#a16207', '#be185d', '#4d7c0f', '#4338ca', '#0f766e', '#7c2d12',
] as const;

export const colourOf = (a: Pick<LadderArrow, 'colour'>): string => LADDER_PALETTE[a.colour % LADDER_PALETTE.length];

export const GEOMETRY = {
  timeColumn: 178,
  laneWidth: 200,
  headerHeight: 58,
  rowHeight: 32,
  margin: 16,
  font: 'DejaVu Sans, Verdana, Arial, sans-serif',
  mono: 'DejaVu Sans Mono, Menlo, Consolas, monospace',
} as const;

export interface LadderGeometry {
  width: number;
  headerHeight: number;
  rowHeight: number;
  bodyHeight: number;
  laneX(i: number): number;
}

export function ladderGeometry(ladder: Pick<Ladder, 'lanes' | 'rows'>): LadderGeometry {
  const g = GEOMETRY;
  const lanes = Math.max(ladder.lanes.length, 2);
  return {
    width: g.timeColumn + lanes * g.laneWidth + g.margin,
    headerHeight: g.headerHeight,
    rowHeight: g.rowHeight,
    bodyHeight: Math.max(ladder.rows.length, 1) * g.rowHeight + g.margin,
    laneX: (i) => g.timeColumn + g.laneWidth * (i + 0.5),
  };
}

export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const clip = (s: string, max: number): string => (s.length > max ? s.slice(0, max - 1) + '…' : s);
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The zone a ladder's times are written in: UTC, or a fixed offset (the viewer's zone at the ladder's start). */
export interface ClockZone {
  /** minutes east of UTC */
  offsetMin: number;
  /** "UTC", "+01:00" */
  name: string;
}
export const UTC_ZONE: ClockZone = { offsetMin: 0, name: 'UTC' };

/** `{offsetMin, name}` of an offset in minutes east of UTC ("+05:30", "-03:00"; 0 is "UTC"). */
export function clockZone(offsetMin: number): ClockZone {
  if (offsetMin === 0) return UTC_ZONE;
  const a = Math.abs(offsetMin);
  return { offsetMin, name: `${offsetMin > 0 ? '+' : '-'}${pad(Math.floor(a / 60))}:${pad(a % 60)}` };
}

const zoned = (tsUs: number, zone: ClockZone): Date => new Date(Math.floor(tsUs / 1000) + zone.offsetMin * 60_000);

/** "21:30:00.123" of a µs timestamp, in `zone` (UTC by default): 24-hour, milliseconds. */
export function formatClock(tsUs: number, zone: ClockZone = UTC_ZONE): string {
  const d = zoned(tsUs, zone);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** "2026-12-04" of a µs timestamp, in `zone`. */
export function formatDate(tsUs: number, zone: ClockZone = UTC_ZONE): string {
  const d = zoned(tsUs, zone);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** "+512 ms", "+1.250 s", "+0.3 ms" */
export function formatDelta(us: number): string {
  if (us < 1000) return `+${(us / 1000).toFixed(1)} ms`;
  if (us < 1_000_000) return `+${Math.round(us / 1000)} ms`;
  return `+${(us / 1_000_000).toFixed(3)} s`;
}

export function arrowLabel(a: LadderArrow): string {
  // the leg letter of a B2BUA/SBC call with several legs: "[B] INVITE"
  const leg = a.leg === null ? '' : a.legInferred ? `[${a.leg}, inferred] ` : `[${a.leg}] `;
  return `${a.retransmission ? '↻ ' : ''}${leg}${a.label}${a.hasSdp ? ' (SDP)' : ''}`;
}

export function mediaLabel(m: MediaStream): string {
  const parts = [m.kind === 'webrtc' ? 'WebRTC' : 'RTP', m.codec ?? ''];
  if (m.ssrc !== null) parts.push(`ssrc 0x${m.ssrc.toString(16)}`);
  parts.push(`${m.packets} pkts`);
  if (m.lossPct !== null) parts.push(`loss ${m.lossPct.toFixed(1)}%`);
  if (m.mos !== null) parts.push(`MOS ${m.mos.toFixed(1)}`);
  return parts.filter((p) => p !== '').join(' · ');
}

export interface RenderOptions {
  /** draw the lane header (names and IP:port) on top; the UI draws it separately when scrolling */
  header?: boolean;
  /** rows [first, end) only, positioned where they belong in the full height (windowed drawing) */
  first?: number;
  end?: number;
  /** highlighted arrow index */
  selected?: number | null;
  /** highlighted call mark index */
  selectedMark?: number | null;
  /** a caption line above the header (export) */
  title?: string;
  /** add data-testid / data-arrow attributes (the UI and its tests) */
  testIds?: boolean;
  /** the zone of the time column (UTC by default) */
  zone?: ClockZone;
}

function arrowSvg(a: LadderArrow, y: number, g: LadderGeometry, selected: boolean, ids: boolean): string {
  const colour = colourOf(a);
  const x1 = g.laneX(a.from);
  const x2 = g.laneX(a.to);
  const mid = y + g.rowHeight - 10;
  const dash = a.retransmission ? ' stroke-dasharray="6 4"' : '';
  const attrs = ids ? ` data-testid="ladder-arrow" data-arrow="${a.index}"` : '';
  const out: string[] = [`<g${attrs} cursor="pointer">`];
  const left = Math.min(x1, x2) - 20;
  const right = Math.max(x1, x2) + 20 + (x1 === x2 ? 40 : 0);
  out.push(
    `<rect x="${left}" y="${y + 1}" width="${right - left}" height="${g.rowHeight - 2}" fill="${selected ? '#fff3bf' : '#ffffff'}" fill-opacity="${selected ? 1 : 0}"${selected ? ' stroke="#f59f00"' : ''}/>`,
  );
  let labelX: number;
  if (x1 === x2) {
    // a message from an endpoint to itself (or two sockets behind one lane): a small loop
    out.push(`<path d="M${x1} ${mid - 8} h36 v12 h-32" fill="none" stroke="${colour}" stroke-width="1.6"${dash}/>`);
    out.push(`<path d="M${x1} ${mid + 4} l8 -4 v8 z" fill="${colour}"/>`);
    labelX = x1 + 42;
    out.push(`<text x="${labelX}" y="${mid - 4}" font-family="${GEOMETRY.font}" font-size="12" fill="${colour}">${escapeXml(arrowLabel(a))}</text>`);
  } else {
    const dir = x2 > x1 ? 1 : -1;
    out.push(`<line x1="${x1}" y1="${mid}" x2="${x2 - dir * 8}" y2="${mid}" stroke="${colour}" stroke-width="1.8"${dash}/>`);
    out.push(`<path d="M${x2} ${mid} l${-dir * 10} -5 v10 z" fill="${colour}"/>`);
    labelX = (x1 + x2) / 2;
    // labels may overhang the arrow by half a lane each side: nothing else shares the row
    const label = escapeXml(clip(arrowLabel(a), Math.max(14, Math.floor((Math.abs(x2 - x1) + GEOMETRY.laneWidth - 20) / 7))));
    out.push(
      `<text x="${labelX}" y="${mid - 5}" text-anchor="middle" font-family="${GEOMETRY.font}" font-size="12" font-weight="600" fill="${colour}">${label}</text>`,
    );
  }
  if (a.callTag !== null) {
    // which call (the "All" view colours by call): beside the arrow's tail, under the line
    out.push(
      `<text x="${x1 + (x2 >= x1 ? 6 : -6)}" y="${mid + 11}" text-anchor="${x2 >= x1 ? 'start' : 'end'}" font-family="${GEOMETRY.font}" font-size="9" fill="${colour}" data-call-tag="">${escapeXml(a.callTag)}</text>`,
    );
  }
  if (a.agents.length > 1) {
    out.push(
      `<text x="${Math.max(x1, x2) - 4}" y="${mid + 11}" text-anchor="end" font-family="${GEOMETRY.font}" font-size="9" fill="#6b7280">seen by ${escapeXml(clip(a.agentNames.join(', '), 48))}</text>`,
    );
  }
  out.push('</g>');
  return out.join('');
}

function mediaSvg(m: MediaStream, y: number, g: LadderGeometry): string {
  const x1 = g.laneX(m.from);
  const x2 = g.laneX(m.to);
  const mid = y + g.rowHeight - 10;
  const colour = '#0f766e';
  const label = escapeXml(mediaLabel(m));
  if (x1 === x2) {
    // both ends on one lane (media to an address nobody announced): a stub, labelled to its right
    return (
      `<g data-media="${escapeXml(m.key)}">` +
      `<rect x="${x1}" y="${mid - 5}" width="28" height="10" fill="${colour}" fill-opacity="0.15"/>` +
      `<path d="M${x1 + 28} ${mid} l-10 -6 v12 z" fill="${colour}"/>` +
      `<text x="${x1 + 34}" y="${mid + 4}" font-family="${GEOMETRY.font}" font-size="11" fill="${colour}">${label}</text>` +
      '</g>'
    );
  }
  const left = Math.min(x1, x2);
  const width = Math.abs(x2 - x1);
  const dir = x2 >= x1 ? 1 : -1;
  return (
    `<g data-media="${escapeXml(m.key)}">` +
    `<rect x="${left}" y="${mid - 5}" width="${width}" height="10" fill="${colour}" fill-opacity="0.15"/>` +
    `<line x1="${x1}" y1="${mid}" x2="${x2 - dir * 8}" y2="${mid}" stroke="${colour}" stroke-width="3" stroke-dasharray="2 3"/>` +
    `<path d="M${x2} ${mid} l${-dir * 10} -6 v12 z" fill="${colour}"/>` +
    `<text x="${left + width / 2}" y="${mid - 8}" text-anchor="middle" font-family="${GEOMETRY.font}" font-size="11" fill="${colour}">${label}</text>` +
    '</g>'
  );
}

function logSvg(l: LogLine, y: number, g: LadderGeometry): string {
  const mid = y + g.rowHeight - 12;
  const chars = Math.floor((g.width - GEOMETRY.timeColumn - 16) / 6.6);
  return (
    `<g data-log="${l.eventId}"><rect x="${GEOMETRY.timeColumn}" y="${y + 4}" width="${g.width - GEOMETRY.timeColumn - GEOMETRY.margin}" height="${g.rowHeight - 8}" fill="#f3f4f6"/>` +
    `<text x="${GEOMETRY.timeColumn + 6}" y="${mid + 2}" font-family="${GEOMETRY.mono}" font-size="11" fill="#374151">` +
    `<tspan fill="#6b7280">[${escapeXml(clip(l.source, 40))}]</tspan> ${escapeXml(clip(l.text.replace(/\s+/g, ' '), chars - l.source.length - 3))}</text></g>`
  );
}

/** Colour of a call state: created blue, ringing/dialling amber, answered green, bridged violet, hangup red. */
export function stateColour(state: string | null): string {
  const s = (state ?? '').toLowerCase();
  if (s.startsWith('hangup') || s.includes('busy') || s.includes('fail') || s.includes('cancel')) return '#b91c1c';
  if (s.startsWith('answer') || s === 'up' || s.includes('answer')) return '#15803d';
  if (s.startsWith('bridge')) return '#7c3aed';
  if (s.startsWith('ring') || s.startsWith('dial')) return '#a16207';
  if (s.startsWith('creat')) return '#1d4ed8';
  return '#475569';
}

function markSvg(m: CallMark, index: number, y: number, g: LadderGeometry, selected: boolean, ids: boolean): string {
  const x = g.laneX(m.lane);
  const mid = y + g.rowHeight / 2;
  const attrs = ids ? ` data-testid="ladder-mark" data-mark="${index}" data-kind="${m.kind}"` : '';
  const room = Math.floor((g.width - x - GEOMETRY.margin - 20) / 6.6);
  if (m.kind === 'callstate') {
    const colour = stateColour(m.state);
    // the label goes where there is more room: right of the marker, or left of it on the last lanes
    const roomLeft = Math.floor((x - GEOMETRY.timeColumn - 20) / 6.6);
    const left = roomLeft > room && room < m.label.length;
    const text = clip(m.label, Math.max(16, left ? roomLeft : room));
    const w = text.length * 6.6 + 30;
    return (
      `<g${attrs} cursor="pointer">` +
      (selected ? `<rect x="${left ? x - w + 12 : x - 12}" y="${y + 2}" width="${w}" height="${g.rowHeight - 4}" fill="#fff3bf" stroke="#f59f00"/>` : '') +
      `<path d="M${x} ${mid - 8} l8 8 l-8 8 l-8 -8 z" fill="${colour}" stroke="#ffffff" stroke-width="1.5"/>` +
      `<text x="${left ? x - 14 : x + 14}" y="${mid + 4}"${left ? ' text-anchor="end"' : ''} font-family="${GEOMETRY.font}" font-size="11" font-weight="600" fill="${colour}">${escapeXml(text)}</text>` +
      '</g>'
    );
  }
  // a route decision: a note pinned to the proxy's lane, shifted left when the lane is near the edge
  const full = Math.floor((g.width - GEOMETRY.timeColumn - GEOMETRY.margin - 16) / 6.6);
  const text = clip(m.label, Math.max(16, full));
  const w = text.length * 6.6 + 16;
  const x0 = Math.max(GEOMETRY.timeColumn, Math.min(x - 6, g.width - GEOMETRY.margin - w));
  return (
    `<g${attrs} cursor="pointer">` +
    `<path d="M${x0} ${y + 5} h${w - 8} l8 8 v${g.rowHeight - 18} h-${w} z" fill="${selected ? '#fff3bf' : '#fef9c3'}" stroke="${selected ? '#f59f00' : '#ca8a04'}"/>` +
    `<circle cx="${x}" cy="${y + 5}" r="3" fill="#ca8a04"/>` +
    `<text x="${x0 + 8}" y="${mid + 4}" font-family="${GEOMETRY.mono}" font-size="11" fill="#713f12">${escapeXml(text)}</text>` +
    '</g>'
  );
}

/** The lane header alone, as the inner markup of an SVG of `width` × headerHeight. */
export function headerMarkup(ladder: Pick<Ladder, 'lanes' | 'rows'>, g = ladderGeometry(ladder), y0 = 0, zone: ClockZone = UTC_ZONE): string {
  const out: string[] = [];
  out.push(`<rect x="0" y="${y0}" width="${g.width}" height="${g.headerHeight}" fill="#f8fafc"/>`);
  // the date and the zone of the time column; a row on another day carries its own date
  const day = ladder.rows.length > 0 ? `${formatDate(ladder.rows[0].ts, zone)} ` : '';
  out.push(
    `<text x="8" y="${y0 + 34}" font-family="${GEOMETRY.font}" font-size="11" fill="#6b7280" data-clock-zone="${zone.name}">${day}${zone.name} · delta</text>`,
  );
  for (const lane of ladder.lanes) {
    const x = g.laneX(lane.index);
    const w = GEOMETRY.laneWidth - 14;
    out.push(`<rect x="${x - w / 2}" y="${y0 + 6}" width="${w}" height="${g.headerHeight - 12}" rx="6" fill="#ffffff" stroke="#94a3b8"/>`);
    const name = lane.name ?? (lane.port === null ? 'media' : null);
    if (name !== null) {
      out.push(
        `<text x="${x}" y="${y0 + 25}" text-anchor="middle" font-family="${GEOMETRY.font}" font-size="12" font-weight="700" fill="#111827">${escapeXml(clip(name, 26))}</text>`,
      );
    }
    // the IP:port is always there, in full: it must survive the export
    // (an IPv6 key is shrunk to fit the lane, never cut: a monospace glyph is about 0.6 em wide)
    const size = Math.min(name === null ? 12 : 11, Math.floor(((w - 8) / lane.key.length / 0.6) * 10) / 10);
    out.push(
      `<text x="${x}" y="${y0 + (name === null ? 34 : 42)}" text-anchor="middle" font-family="${GEOMETRY.mono}" font-size="${size}" font-weight="${name === null ? 700 : 400}" fill="#111827">${escapeXml(lane.key)}</text>`,
    );
  }
  return out.join('');
}

/** Rows [first, end) and the lifelines, in body coordinates (y = 0 at the first row), shifted by y0. */
export function bodyMarkup(ladder: Ladder, opts: RenderOptions = {}, g = ladderGeometry(ladder), y0 = 0): string {
  const first = Math.max(0, opts.first ?? 0);
  const end = Math.min(ladder.rows.length, opts.end ?? ladder.rows.length);
  const out: string[] = [];
  const top = y0 + first * g.rowHeight;
  const bottom = y0 + Math.max(end, first + 1) * g.rowHeight + 8;
  for (const lane of ladder.lanes) {
    const x = g.laneX(lane.index);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#cbd5e1" stroke-width="2"/>`);
  }
  for (let r = first; r < end; r++) {
    const row = ladder.rows[r];
    const y = y0 + r * g.rowHeight;
    if (r % 2 === 1) out.push(`<rect x="0" y="${y}" width="${GEOMETRY.timeColumn - 6}" height="${g.rowHeight}" fill="#f8fafc"/>`);
    const zone = opts.zone ?? UTC_ZONE;
    const day = formatDate(row.ts, zone);
    // past midnight (of the header's date) a row says its day
    const clock = day === formatDate(ladder.rows[0].ts, zone) ? formatClock(row.ts, zone) : `${day.slice(5)} ${formatClock(row.ts, zone)}`;
    out.push(`<text x="8" y="${y + 14}" font-family="${GEOMETRY.mono}" font-size="11" fill="#111827">${clock}</text>`);
    if (row.type === 'arrow') {
      const a = ladder.arrows[row.arrow];
      out.push(`<text x="8" y="${y + 27}" font-family="${GEOMETRY.mono}" font-size="10" fill="#6b7280">${formatDelta(a.deltaUs)}</text>`);
      out.push(arrowSvg(a, y, g, opts.selected === a.index, opts.testIds ?? false));
    } else if (row.type === 'media') {
      out.push(mediaSvg(ladder.media[row.media], y, g));
    } else if (row.type === 'mark') {
      out.push(markSvg(ladder.marks[row.mark], row.mark, y, g, opts.selectedMark === row.mark, opts.testIds ?? false));
    } else {
      out.push(logSvg(ladder.logs[row.log], y, g));
    }
  }
  return out.join('');
}

/** width of one character of the 14 px bold title, generous (DejaVu Sans Bold averages ~0.6 em) */
const TITLE_CHAR_PX = 9;
const TITLE_LINE_PX = 18;

/**
 * The title in lines that fit `width`: a long title (label · session · Call-ID · date and zone) on a
 * narrow ladder wraps at " · ", then at spaces, then anywhere, instead of running off the picture.
 */
export function titleLines(title: string, width: number): string[] {
  const max = Math.max(12, Math.floor((width - 16) / TITLE_CHAR_PX));
  const lines: string[] = [];
  let line = '';
  for (const word of title.split(/(?<= · )|(?<= )/)) {
    if ((line + word).trimEnd().length <= max) {
      line += word;
      continue;
    }
    if (line.trim() !== '') lines.push(line.trimEnd());
    line = word;
    while (line.length > max) {
      lines.push(line.slice(0, max));
      line = line.slice(max);
    }
  }
  if (line.trim() !== '') lines.push(line.trimEnd());
  return lines;
}

/** A whole, self-contained SVG document: optional title, header, then the rows (all, or a window). */
export function renderLadderSvg(ladder: Ladder, opts: RenderOptions = {}): string {
  const g = ladderGeometry(ladder);
  const first = Math.max(0, opts.first ?? 0);
  const end = Math.min(ladder.rows.length, opts.end ?? ladder.rows.length);
  const title = opts.title ? titleLines(opts.title, g.width) : [];
  const titleH = title.length > 0 ? 10 + TITLE_LINE_PX * title.length : 0;
  const headH = opts.header === false ? 0 : g.headerHeight;
  const rowsH = Math.max(end - first, 1) * g.rowHeight + GEOMETRY.margin;
  const height = titleH + headH + rowsH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${height}" viewBox="0 0 ${g.width} ${height}"${opts.testIds ? ' data-testid="ladder"' : ''}>`,
    `<rect x="0" y="0" width="${g.width}" height="${height}" fill="#ffffff"/>`,
  ];
  title.forEach((line, i) => {
    parts.push(
      `<text x="8" y="${19 + i * TITLE_LINE_PX}" font-family="${GEOMETRY.font}" font-size="14" font-weight="700" fill="#111827">${escapeXml(line)}</text>`,
    );
  });
  if (headH > 0) parts.push(headerMarkup(ladder, g, titleH, opts.zone));
  // rows drawn from `first` start right under the header
  parts.push(bodyMarkup(ladder, { ...opts, first, end }, g, titleH + headH - first * g.rowHeight));
  if (ladder.rows.length === 0) {
    parts.push(`<text x="8" y="${titleH + headH + 20}" font-family="${GEOMETRY.font}" font-size="12" fill="#6b7280">no messages</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
