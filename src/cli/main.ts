// The `tunaio` binary: picks the subcommand, parses its options (flag > env twin > default) and runs
// it. Wiring only; every command's work lives in its own module.
import type { Command } from './command.js';
import { parseCommand, renderHelp, UsageError } from './options.js';
import { commands } from './commands/index.js';

const topHelp = (): string =>
  [
    'tunaio — SIP troubleshooting: scoped captures, live ladders, clean handoff',
    '',
    'Usage: tunaio <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(12)}${c.spec.summary}`),
    '',
    'Run `tunaio <command> --help` for the options of one command.',
    'Every option also reads an environment variable (--port <-> TUNAIO_PORT).',
    '',
  ].join('\n');

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('tunaio 0.1.0\n');
    return 0;
  }
  const cmd: Command | undefined = commands.find((c) => c.spec.name === name);
  if (!cmd) {
    process.stderr.write(`tunaio: unknown command "${name}"\n\n${topHelp()}`);
    return 2;
  }
  try {
    const { values, positionals, help } = parseCommand(cmd.spec, rest, env);
    if (help) {
      process.stdout.write(renderHelp(cmd.spec));
      return 0;
    }
    return await cmd.run(values, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tunaio ${name}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

