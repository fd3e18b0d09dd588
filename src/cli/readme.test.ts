import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commands } from './commands/index.js';
import { renderConfigTable, replaceConfigTable } from './config-table.js';

describe('README configuration table', () => {
  it('lists every option of every command with its environment twin (run `npm run docs:config` to refresh)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(replaceConfigTable(readme, renderConfigTable(commands))).toBe(readme);
  });
});
