// Rewrites the configuration table in README.md from the CLI's option declarations.
import { readFileSync, writeFileSync } from 'node:fs';
import { commands } from '../src/cli/commands/index.js';
import { renderConfigTable, replaceConfigTable } from '../src/cli/config-table.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, replaceConfigTable(readFileSync(path, 'utf8'), renderConfigTable(commands)));
