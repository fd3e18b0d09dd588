// The frames-only uploader against a real HTTP ingest server: batches in order with consecutive
// numbers, an outage of the frames path re-sends the same batch (nothing lost, nothing twice),
// refusals and a full queue are counted drops, never silent.
import { afterEach, describe, expect, it } from 'vitest';
import { FrameUploader, framesUrlOf } from './frame-upload.js';
import { IngestServer, waitFor } from './testing/ingest-server.js';

const TOKEN = 'frames-test-token-0123456789';
const SID = 'c0000000000000000001';
let center: IngestServer;
let up: FrameUploader | undefined;
afterEach(async () => {
  await up?.close();
  await center?.stop();
});

const frame = (i: number) => ({ linkType: 1, tsUs: 1_780_000_000_000_000 + i * 20_000, origLen: 100 + (i % 7), data: Buffer.alloc(100 + (i % 7), i & 0xff) });

describe('FrameUploader', () => {
  it('derives the frames URL from the ingest URL', () => {
    expect(framesUrlOf('http://c:8080/api/ingest')).toBe('http://c:8080/api/ingest/frames');
    expect(framesUrlOf('https://c/api/ingest/')).toBe('https://c/api/ingest/frames');
  });

  it('sends every frame once, in order, in few batches; a 503 outage re-sends the same numbers', async () => {
    center = new IngestServer(TOKEN);
    await center.start(0);
    const drops: [string, string, number][] = [];
    up = new FrameUploader({ token: TOKEN, onDrop: (s, r, n) => drops.push([s, r, n]), lingerMs: 20, retryBaseMs: 20, retryMaxMs: 50, nowUs: () => 5_000 });
    for (let i = 0; i < 300; i++) up.enqueue(SID, center.url, frame(i));
    expect(await waitFor(() => center.framesOf(SID).length === 300)).toBe(true);
    center.framesStatus = 503;
    for (let i = 300; i < 400; i++) up.enqueue(SID, center.url, frame(i));
    expect(await waitFor(() => (up!.stats(SID)?.failures ?? 0) >= 2)).toBe(true);
    center.framesStatus = 200;
    expect(await waitFor(() => center.framesOf(SID).length === 400)).toBe(true);
    const got = center.framesOf(SID);
    expect(got.map((f) => f.seq)).toEqual(got.map((_, i) => 5_000 + i));
    got.forEach((f, i) => expect(f.data.equals(frame(i).data) && f.tsUs === frame(i).tsUs && f.origLen === frame(i).origLen).toBe(true));
    expect(drops).toEqual([]);
    expect(up.stats(SID)).toMatchObject({ uploaded: 400, rejected: 0 });
    expect(up.stats(SID)!.batches).toBeLessThan(50);
  });

  it('counts frames refused for good and frames that do not fit the queue', async () => {
    center = new IngestServer(TOKEN);
    await center.start(0);
    const drops: Record<string, number> = {};
    up = new FrameUploader({ token: TOKEN, onDrop: (_s, r, n) => (drops[r] = (drops[r] ?? 0) + n), lingerMs: 10_000, queueMaxBytes: 10 * 120 });
    for (let i = 0; i < 15; i++) up.enqueue(SID, center.url, frame(i));
    expect(drops).toEqual({ frames_queue_full: 6 });
    center.framesStatus = 400;
    await up.flush(2_000);
    expect(drops).toEqual({ frames_queue_full: 6, frames_http_400: 9 });
  });
});
