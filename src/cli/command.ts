// What a `tunaio` subcommand is: its declared options (options.ts) and the function that runs it.
import type { CommandSpec, OptionValues } from './options.js';

export interface Command {
  spec: CommandSpec;
  /** Resolves to the process exit code. Long-running commands resolve when they stop. */
  run(values: OptionValues, positionals: string[]): Promise<number>;
}
