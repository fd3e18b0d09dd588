// `tunaio center` / `tunaio standalone` as real processes: options → config, first-start
// credentials printed once, the local agent registered, clean stop on SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, parseCommand } from '../options.js';
import { centerConfigFrom, centerOptions } from './center-options.js';
import { center } from './center.js';

const repo = path.resolve(new URL('../../..', import.meta.url).pathname);

interface Proc {
  out: () => string;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Proc {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TUNAIO_')));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/tunaio.ts'), ...args], {
    cwd: repo,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    out: () => out,
    async waitFor(re, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = out.match(re);
        if (m) return m;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${re} in output:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('center options', () => {
  it('turn flags and environment twins into the center configuration; secrets come from the environment only', () => {
    const { values } = parseCommand(center.spec, ['--port', '0', '--max-session-events', '500'], {
      TUNAIO_EVENT_RETENTION_HOURS: '24',
      TUNAIO_HEARTBEAT_SECONDS: '5',
    });
    const cfg = centerConfigFrom(values, { TUNAIO_ADMIN_PASSWORD: 'a-long-password', TUNAIO_ADMIN_TOKEN: '' });
    expect(cfg).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      dataDir: './data',
      maxSessionEvents: 500,
      eventRetentionHours: 24,
      heartbeatSeconds: 5,
      adminPassword: 'a-long-password',
      adminToken: undefined,
      pcapRetentionHours: 72,
      cookieSecure: false,
    });
    expect(centerOptions.find((o) => o.name.includes('admin'))).toBeUndefined();
  });

  it('single sign-on from --oidc-* and their twins, the client secret from the environment only; off when not asked for', () => {
    const { values } = parseCommand(center.spec, ['--oidc-issuer', 'https://idp.example/realms/noc'], { TUNAIO_OIDC_CLIENT_ID: 'tunaio', TUNAIO_OIDC_ROLE_CLAIM: 'groups' });
    expect(centerConfigFrom(values, { TUNAIO_OIDC_CLIENT_SECRET: 's3cret' }).oidc).toEqual({
      issuer: 'https://idp.example/realms/noc',
      clientId: 'tunaio',
      clientSecret: 's3cret',
      orgClaim: 'tunaio_org',
      roleClaim: 'groups',
      usernameClaim: 'preferred_username',
      scopes: 'openid profile',
      name: 'single sign-on',
    });
    expect(centerConfigFrom(parseCommand(center.spec, [], {}).values, {}).oidc).toBeUndefined();
    expect(centerOptions.find((o) => o.name.includes('secret'))).toBeUndefined();
  });

  it.each([
    [['--oidc-issuer', 'https://idp.example', '--oidc-client-id', 'x'], {}],
    [['--oidc-issuer', 'http://idp.example', '--oidc-client-id', 'x'], { TUNAIO_OIDC_CLIENT_SECRET: 's' }],
    [['--oidc-client-id', 'x'], { TUNAIO_OIDC_CLIENT_SECRET: 's' }],
    [['--oidc-issuer', 'https://idp.example', '--oidc-client-id', 'x', '--oidc-scopes', 'profile'], { TUNAIO_OIDC_CLIENT_SECRET: 's' }],
    [['--port', '70000'], {}],
    [['--max-session-events', '1.5'], {}],
    [['--event-retention-hours', '0'], {}],
    [['--log-level', 'loud'], {}],
    [[], { TUNAIO_ADMIN_PASSWORD: 'short' }],
  ])('reject %j %j', (argv, env) => {
    expect(() => centerConfigFrom(parseCommand(center.spec, argv, {}).values, env)).toThrow(UsageError);
  });
});

describe('tunaio standalone (process)', () => {
  it('prints generated credentials once, registers agent "local" (tag local) with a stored token, stops on SIGTERM', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-standalone-'));
    // its own agent ports: the default 9070/9060 may be taken by a running standalone
    const agentArgs = ['--agent-listen', '127.0.0.1:5089', '--agent-hep', 'udp:127.0.0.1:5089', '--agent-interface', 'none'];
    const p = run(['standalone', '--port', '0', '--data', data, '--log-level', 'silent', ...agentArgs]);
    const [, url] = await p.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\//i).catch(async (e: unknown) => {
      await p.stop();
      throw e;
    });
    const token = (await p.waitFor(/API token: (\S+)/))[1];
    expect(p.out()).toMatch(/password: {2}\S{16,}/);
    const agents = (await (await fetch(`${url}/api/agents`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      agents: { name: string; tags: string[]; url: string }[];
    };
    expect(agents.agents).toEqual([expect.objectContaining({ name: 'local', tags: ['local'], url: 'http://127.0.0.1:5089' })]);
    const tokenFile = path.join(data, 'local-agent.token');
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
    const agentToken = fs.readFileSync(tokenFile, 'utf8').trim();
    const ingest = await fetch(`${url}/api/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: '{"events":[]}',
    });
    expect(ingest.status).toBe(200);
    expect(await p.stop()).toBe(0);

    // second start: nothing printed again, same agent token
    const again = run(['standalone', '--port', '0', '--data', data, '--log-level', 'silent', ...agentArgs]);
    await again.waitFor(/open http:/i).catch(async (e: unknown) => {
      await again.stop();
      throw e;
    });
    expect(again.out()).not.toContain('API token');
    expect(fs.readFileSync(tokenFile, 'utf8').trim()).toBe(agentToken);
    expect(await again.stop()).toBe(0);
  }, 90_000);

  it('tunaio center takes TUNAIO_ADMIN_TOKEN and prints no generated token', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-center-cli-'));
    const p = run(['center', '--port', '0', '--data', data, '--log-level', 'silent'], {
      TUNAIO_ADMIN_TOKEN: 'cli-test-operator-token-0123456789',
      TUNAIO_ADMIN_PASSWORD: 'cli-test-password',
    });
    const [, url] = await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    expect(p.out()).not.toContain('First start');
    const r = await fetch(`${url}/api/sessions`, { headers: { authorization: 'Bearer cli-test-operator-token-0123456789' } });
    expect(r.status).toBe(200);
    expect(await p.stop()).toBe(0);
  }, 60_000);
});
