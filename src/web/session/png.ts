// PNG export of the ladder as shown (current dialog selection): the core renderer's SVG with a title,
// drawn onto a canvas and downloaded as `<label>-<id>.png`. Very large ladders are bounded as the
// center's ladder.png is (core/ladder PICTURE_LIMITS): rows around the selection, lanes folded past
// the limit, so the canvas stays within the browser's size limit and memory.
import type { Ladder } from '../../core/ladder/types.js';
import { ladderGeometry, renderLadderSvg } from '../../core/ladder/svg.js';
import type { ClockZone } from '../../core/ladder/svg.js';
import { pictureCaption, pictureScale, pictureWindow, rowOfArrow } from '../../core/ladder/window.js';

export async function ladderPng(full: Ladder, title: string, selected: number | null, zone: ClockZone): Promise<Blob> {
  const around = selected === null ? undefined : Math.max(0, rowOfArrow(full, selected));
  const picture = pictureWindow(full, around);
  const { ladder, window: win } = picture;
  const g = ladderGeometry(ladder);
  const svg = renderLadderSvg(ladder, { ...win, header: true, zone, title: pictureCaption(title, picture, full.lanes.length) });
  const size = /width="(\d+)" height="(\d+)"/.exec(svg);
  const width = Number(size?.[1] ?? g.width);
  const height = Number(size?.[2] ?? 400);
  // twice the resolution while it fits: small text stays sharp when the picture is zoomed in a ticket
  const scale = pictureScale(width, height);
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(width * scale);
  canvas.height = Math.ceil(height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0, width, height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the PNG could not be made'))), 'image/png'),
  );
}

export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
