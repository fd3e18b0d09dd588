// Test support: a throwaway PostgreSQL 15 (MACHINE-NOTES "throwaway server"): initdb into a temp
// folder owned by `postgres`, pg_ctl start on a free loopback port with fsync off, stopped and
// deleted at teardown. One server per test file (start it in beforeAll); each suite takes a fresh
// database from it with createDatabase(), so suites never see each other's rows. `npm test` installs
// the `postgresql` package (scripts/ensure-system-deps.sh), so tests that use it never skip.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/ */
  baseUrl: string;
  port: number;
  /** creates an empty database and returns its URL */
  createDatabase(): Promise<string>;
  /** the postmaster's process id (bench/ingest.ts counts the server's CPU) */
  serverPid(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const asPostgres = (args: string[]): ReturnType<typeof spawnSync> =>
  process.getuid?.() === 0
    ? spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' })
    : spawnSync(args[0], args.slice(1), { encoding: 'utf8' });

let dbCounter = 0;

/**
 * `durable`: fsync and full-page writes on (the server a benchmark measures); commits stay
 * asynchronous (synchronous_commit off). Tests leave it off: nothing they write must survive a crash.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<TestPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  const init = asPostgres([`${BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8', '--locale=C']);
  if (init.status !== 0) throw new Error(`initdb failed: ${String(init.stderr)}`);
  let port: number;
  // a port probed free may be taken by another test before the server binds it: try a few
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const start = asPostgres([
      `${BIN}/pg_ctl`, '-D', data, '-l', path.join(dir, 'pg.log'), '-w', '-t', '30',
      '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} ${opts.durable === true ? '' : '-c fsync=off -c full_page_writes=off '}-c synchronous_commit=off -c max_connections=200`,
      'start',
    ]);
    if (start.status === 0) break;
    if (attempt >= 3) throw new Error(`pg_ctl start failed: ${String(start.stderr)} ${fs.readFileSync(path.join(dir, 'pg.log'), 'utf8')}`);
  }
  const baseUrl = `postgres://postgres@127.0.0.1:${port}/`;
  let stopped = false;
  return {
    baseUrl,
    port,
    async createDatabase() {
      const name = `t${process.pid}_${++dbCounter}`;
      const c = new pg.Client({ connectionString: `${baseUrl}postgres` });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `${baseUrl}${name}`;
    },
    serverPid() {
      return Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      asPostgres([`${BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
