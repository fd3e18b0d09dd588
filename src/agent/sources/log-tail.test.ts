import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogTailSource } from './log-tail.js';

let dir: string;
let lines: string[];
let tail: LogTailSource | undefined;

const make = (file: string, maxLineBytes?: number): LogTailSource => {
  tail = new LogTailSource({
    path: file,
    onLine: (l) => lines.push(l),
    pollMs: 10_000, // the test drives poll() itself
    ...(maxLineBytes ? { maxLineBytes } : {}),
  });
  return tail;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-logtail-'));
  lines = [];
});
afterEach(async () => {
  await tail?.stop();
  tail = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('LogTailSource', () => {
  it('starts at the end of the file and follows appends', async () => {
    const f = join(dir, 'a.log');
    writeFileSync(f, 'old line 1\nold line 2\n');
    const t = make(f);
    await t.start();
    await t.poll();
    expect(lines).toEqual([]);
    appendFileSync(f, 'new 1\nnew 2\r\n');
    await t.poll();
    expect(lines).toEqual(['new 1', 'new 2']);
    expect(t.status().counters.lines).toBe(2);
    expect(t.status().state).toBe('running');
  });

  it('buffers a partial line until its newline arrives', async () => {
    const f = join(dir, 'p.log');
    writeFileSync(f, '');
    const t = make(f);
    await t.start();
    appendFileSync(f, 'half of a ');
    await t.poll();
    expect(lines).toEqual([]);
    appendFileSync(f, 'line\nnext');
    await t.poll();
    expect(lines).toEqual(['half of a line']);
    appendFileSync(f, '\n');
    await t.poll();
    expect(lines).toEqual(['half of a line', 'next']);
  });

  it('follows a rename rotation: rest of the old file first, then the new file from its start', async () => {
    const f = join(dir, 'r.log');
    writeFileSync(f, 'before start\n');
    const t = make(f);
    await t.start();
    appendFileSync(f, 'one\n');
    await t.poll();
    appendFileSync(f, 'two (written just before rotation)\n');
    renameSync(f, `${f}.1`);
    writeFileSync(f, 'three in new file\n');
    await t.poll();
    appendFileSync(f, 'four\n');
    await t.poll();
    expect(lines).toEqual(['one', 'two (written just before rotation)', 'three in new file', 'four']);
    expect(t.status().counters.rotations).toBe(1);
  });

  it('waits while the file is missing after a rename, then picks up the new file', async () => {
    const f = join(dir, 'm.log');
    writeFileSync(f, '');
    const t = make(f);
    await t.start();
    appendFileSync(f, 'a\n');
    renameSync(f, `${f}.1`);
    await t.poll();
    expect(lines).toEqual(['a']);
    expect(t.status().error).toMatch(/does not exist/);
    writeFileSync(f, 'b\n');
    await t.poll();
    expect(lines).toEqual(['a', 'b']);
    expect(t.status().error).toBeUndefined();
  });

  it('follows a truncation (copytruncate) from the new start', async () => {
    const f = join(dir, 't.log');
    writeFileSync(f, 'x'.repeat(100) + '\n');
    const t = make(f);
    await t.start();
    appendFileSync(f, 'before truncate\n');
    await t.poll();
    truncateSync(f, 0);
    appendFileSync(f, 'after\n');
    await t.poll();
    expect(lines).toEqual(['before truncate', 'after']);
    expect(t.status().counters.truncations).toBe(1);
  });

  it('counts overlong and binary lines and keeps going', async () => {
    const f = join(dir, 'g.log');
    writeFileSync(f, '');
    const t = make(f, 64);
    await t.start();
    appendFileSync(f, 'y'.repeat(50));
    await t.poll();
    appendFileSync(f, 'y'.repeat(50) + 'tail of the long one\nok 1\n');
    appendFileSync(f, Buffer.from([0x61, 0x00, 0xff, 0xfe, 0x0a]));
    appendFileSync(f, Buffer.from('ok 2\n'));
    await t.poll();
    expect(lines).toEqual(['ok 1', 'ok 2']);
    expect(t.status().counters.overlong).toBe(1);
    expect(t.status().counters.binary).toBe(1);
  });

  it('reports a file that does not exist, then follows it once created', async () => {
    const f = join(dir, 'later.log');
    const t = make(f);
    await t.start();
    expect(t.status().error).toMatch(/does not exist/);
    writeFileSync(f, 'first\n');
    await t.poll();
    expect(lines).toEqual(['first']);
  });

  it('wakes up on its own via fs.watch or the poll timer', async () => {
    const f = join(dir, 'w.log');
    writeFileSync(f, '');
    tail = new LogTailSource({ path: f, onLine: (l) => lines.push(l), pollMs: 50 });
    await tail.start();
    appendFileSync(f, 'by itself\n');
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lines).toEqual(['by itself']);
  });
});
