// `tunaio center`: the command center alone; also how `standalone` runs the center until a signal.
import type { CenterConfig, RunningCenter } from '../../center/index.js';
import type { Command } from '../command.js';
import { centerConfigFrom, centerOptions } from './center-options.js';

export const center: Command = {
  spec: {
    name: 'center',
    summary: 'run the command center (HTTP API, web UI, SSE) alone',
    usage: 'tunaio center [--port 8080] [--host 127.0.0.1] [--data ./data | --database postgres://USER@HOST:PORT/DB]',
    options: centerOptions,
  },
  async run(values) {
    const config = centerConfigFrom(values, process.env);
    return runUntilSignal(config, async (c) => {
      printBootstrap(c);
      process.stdout.write(`tunaio center listening on ${c.url} (${config.database ? 'database: PostgreSQL' : `data: ${c.config.dataDir}`})\n`);
    });
  },
};

export function printBootstrap(center: RunningCenter, out: NodeJS.WritableStream = process.stdout): void {
  const b = center.bootstrap;
  if (!b) return;
  out.write(
    [
      '',
      'First start: created the operator account (shown once, stored hashed — keep it now):',
      `  user:      ${b.username}`,
      ...(b.password ? [`  password:  ${b.password}`] : []),
      ...(b.token ? [`  API token: ${b.token}   (Authorization: Bearer <token>)`] : []),
      'Set TUNAIO_ADMIN_PASSWORD / TUNAIO_ADMIN_TOKEN to choose them instead.',
      '',
    ].join('\n') + '\n',
  );
}

/** Resolves with the exit code when a signal stops the center. */
export async function runUntilSignal(
  config: CenterConfig,
  afterStart: (center: RunningCenter) => Promise<void>,
): Promise<number> {
  // loaded on demand: `tunaio decode`/`filter` must not pay for the server's modules at start-up
  const { startCenter } = await import('../../center/index.js');
  const center = await startCenter(config);
  await afterStart(center);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stderr.write(`tunaio: ${signal}, stopping\n`);
      center.close().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`tunaio: error while stopping: ${String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
