// The sealed agent-token store: round trip across restarts, 0600 files, and entries that do not open
// with another key, under another agent's name, or after tampering.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenVault, agentTokensFile, open, seal, secretKeyFile } from './token-vault.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-vault-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const TOKEN = 'agent-token-0123456789abcdefghijkl';

describe('TokenVault', () => {
  it('keeps tokens across restarts, encrypted, in 0600 files', async () => {
    const d = tmp();
    await new TokenVault(d).set('edge-1', TOKEN);
    const again = new TokenVault(d);
    expect(await again.get('edge-1')).toBe(TOKEN);
    expect(await again.get('edge-2')).toBeNull();
    expect(fs.statSync(secretKeyFile(d)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(agentTokensFile(d)).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(agentTokensFile(d), 'utf8')).not.toContain(TOKEN);
    expect(fs.readFileSync(secretKeyFile(d), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a new key file (data folder restored without it) makes the old entries unusable, not wrong', async () => {
    const d = tmp();
    await new TokenVault(d).set('edge-1', TOKEN);
    fs.rmSync(secretKeyFile(d));
    expect(await new TokenVault(d).get('edge-1')).toBeNull();
  });

  it('an entry does not open under another name, with another key, or after a flipped bit', () => {
    const key = Buffer.alloc(32, 7);
    const s = seal(key, TOKEN, 'edge-1');
    expect(open(key, s, 'edge-1')).toBe(TOKEN);
    expect(open(key, s, 'edge-2')).toBeNull();
    expect(open(Buffer.alloc(32, 8), s, 'edge-1')).toBeNull();
    const b = Buffer.from(s, 'base64');
    b[b.length - 1] ^= 1;
    expect(open(key, b.toString('base64'), 'edge-1')).toBeNull();
    expect(open(key, 'not base64 at all', 'edge-1')).toBeNull();
    // a fresh IV every time
    expect(seal(key, TOKEN, 'edge-1')).not.toBe(s);
  });

  it('a key file of the wrong size is an error that names the file', () => {
    const d = tmp();
    fs.writeFileSync(secretKeyFile(d), 'abcd\n');
    expect(() => new TokenVault(d)).toThrow(/secret\.key must hold 64 hex digits/);
  });
});
