// The registry of `tunaio` subcommands, in the order `tunaio --help` lists them.
import type { Command } from '../command.js';
import { standalone } from './standalone.js';
import { center } from './center.js';
import { agent } from './agent.js';
import { decode } from './decode.js';
import { filter } from './filter.js';

export const commands: Command[] = [standalone, center, agent, decode, filter];
