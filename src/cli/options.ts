// Declarative command-line options with environment twins. Each command declares its options once;
// this module parses argv + env against them and renders `--help`. The README's configuration table
// is checked against these declarations by options.test.ts, so docs and code cannot drift apart.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  /** long flag without dashes, e.g. `port` */
  name: string;
  /** environment twin, e.g. `TUNAIO_PORT`; derived from the name when omitted */
  env?: string;
  type: 'string' | 'boolean' | 'number';
  multiple?: boolean;
  default?: string | number | boolean;
  /** shown in --help and the README */
  help: string;
  /** placeholder in help, e.g. HOST:PORT */
  arg?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  /** true when the command takes positional arguments (files) */
  positionals?: boolean;
}

export type OptionValues = Record<string, string | number | boolean | string[] | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const envName = (o: OptionSpec): string =>
  o.env ?? `TUNAIO_${o.name.toUpperCase().replace(/-/g, '_')}`;

const toNumber = (o: OptionSpec, raw: string): number => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${o.name} expects a number, got "${raw}"`);
  return n;
};

const envBool = (o: OptionSpec, raw: string): boolean => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off|)$/i.test(raw)) return false;
  throw new UsageError(`${envName(o)} expects true or false, got "${raw}"`);
};

/** Parses argv for one command. Precedence: flag, then environment twin, then default. */
export function parseCommand(
  spec: CommandSpec,
  argv: string[],
  env: NodeJS.ProcessEnv,
): { values: OptionValues; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const o of spec.options) {
    options[o.name] = { type: o.type === 'boolean' ? 'boolean' : 'string', multiple: o.multiple ?? false };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  if (parsed.values.help) return { values: {}, positionals: [], help: true };
  if (!spec.positionals && parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}" (see tunaio ${spec.name} --help)`);
  }
  const values: OptionValues = {};
  for (const o of spec.options) {
    const flag = (parsed.values as Record<string, unknown>)[o.name];
    const fromEnv = env[envName(o)];
    if (o.multiple) {
      let list: string[] | undefined;
      if (Array.isArray(flag) && flag.length > 0) list = flag as string[];
      else if (fromEnv !== undefined && fromEnv !== '') list = fromEnv.split(',').map((s) => s.trim()).filter(Boolean);
      else if (typeof o.default === 'string') list = [o.default];
      values[o.name] = list ?? [];
      continue;
    }
    if (o.type === 'boolean') {
      values[o.name] =
        flag !== undefined ? Boolean(flag) : fromEnv !== undefined ? envBool(o, fromEnv) : Boolean(o.default ?? false);
      continue;
    }
    const raw = flag !== undefined ? String(flag) : fromEnv;
    if (raw === undefined) values[o.name] = o.default;
    else values[o.name] = o.type === 'number' ? toNumber(o, raw) : raw;
  }
  return { values, positionals: parsed.positionals, help: false };
}

export function renderHelp(spec: CommandSpec): string {
  const rows = spec.options.map((o) => {
    const flag = `--${o.name}${o.type === 'boolean' ? '' : ` ${o.arg ?? o.type.toUpperCase()}`}`;
    const extra = [
      o.multiple ? 'repeatable' : '',
      o.default !== undefined && o.default !== false ? `default ${String(o.default)}` : '',
      `env ${envName(o)}`,
    ].filter(Boolean);
    return [flag, `${o.help} (${extra.join('; ')})`];
  });
  const width = Math.max(12, ...rows.map(([f]) => f.length)) + 2;
  return [
    `tunaio ${spec.name} — ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    'Options:',
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    `  ${'--help, -h'.padEnd(width)}show this help`,
    '',
  ].join('\n');
}
