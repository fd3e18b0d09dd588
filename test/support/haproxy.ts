// Test support: a real haproxy (Debian package, scripts/ensure-system-deps.sh) in front of several
// centers, as docs/scale-out.md sets it up: round robin, health checks on /api/health, a failed
// connection retried on another center, inactivity timeouts longer than the SSE heartbeat. Runs in
// the foreground (-db) from a config in a temp folder, on a free loopback port; stop() ends only
// this haproxy's own process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HaproxyBackend {
  name: string;
  port: number;
}

/**
 * The configuration docs/scale-out.md shows (there with real addresses and 2 s checks): what the
 * tests run is what the docs say.
 */
export function haproxyConfig(o: { bind: string; backends: { name: string; address: string }[]; checkInterval: string }): string {
  return `global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  # inactivity timeouts: an SSE stream sends a heartbeat every 15 s (--heartbeat-seconds), keep them above it
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  # a connection refused by a dead center is tried again on another one (the request was not sent yet)
  retries 2
  option redispatch 1

frontend tunaio
  bind ${o.bind}
  default_backend centers

backend centers
  balance roundrobin
  option httpchk GET /api/health
  http-check expect status 200
  default-server check inter ${o.checkInterval} fall 2 rise 2
${o.backends.map((b) => `  server ${b.name} ${b.address}`).join('\n')}
`;
}

export class Haproxy {
  private child: ChildProcess | undefined;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-haproxy-'));
  /** haproxy's stderr (alerts), for failure messages */
  log = '';

  /** `port`: where it listens, known before start (the centers' --public-url names it) */
  constructor(
    private readonly backends: HaproxyBackend[],
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const cfg = path.join(this.dir, 'haproxy.cfg');
    fs.writeFileSync(
      cfg,
      haproxyConfig({
        bind: `127.0.0.1:${this.port}`,
        backends: this.backends.map((b) => ({ name: b.name, address: `127.0.0.1:${b.port}` })),
        checkInterval: '500ms',
      }),
    );
    const c = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (this.log = (this.log + d).slice(-20_000)));
    this.child = c;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      if (c.exitCode !== null) throw new Error(`haproxy exited ${c.exitCode}: ${this.log}`);
      if ((await fetch(`${this.url}/api/health`).catch(() => null))?.ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`haproxy did not answer on ${this.url}: ${this.log}`);
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
