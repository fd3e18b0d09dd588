// Agents' plaintext tokens in the database (PostgreSQL mode: nothing on local disk, any center calls
// any agent): sealed as agents/token-vault.ts seals them (AES-256-GCM, the agent name as associated
// data), under a key kept in `center_secrets`, made by the first center that needs it (INSERT … ON
// CONFLICT DO NOTHING, then read: two centers starting at once agree on one key).
// Trade-off (docs/scale-out.md): whoever reads the whole database can call the agents, as whoever
// reads the whole data folder can in the SQLite mode; the database is the trust boundary here.
import crypto from 'node:crypto';
import type pg from 'pg';
import { open, seal } from '../../agents/token-vault.js';
import type { AgentTokenStore, SecretSealer } from '../../agents/token-vault.js';

const KEY_NAME = 'agent_token_key';

export class PostgresTokenVault implements AgentTokenStore, SecretSealer {
  private key: Promise<Buffer> | null = null;

  constructor(private readonly pool: pg.Pool) {}

  private loadKey(): Promise<Buffer> {
    this.key ??= (async () => {
      await this.pool.query('INSERT INTO center_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING', [KEY_NAME, crypto.randomBytes(32)]);
      const [r] = (await this.pool.query('SELECT value FROM center_secrets WHERE name = $1', [KEY_NAME])).rows as { value: Buffer }[];
      return r.value;
    })().catch((e: unknown) => {
      this.key = null;
      throw e;
    });
    return this.key;
  }

  async get(name: string): Promise<string | null> {
    const key = await this.loadKey();
    const [r] = (await this.pool.query('SELECT sealed FROM agent_tokens WHERE name = $1', [name])).rows as { sealed: string }[];
    return r ? open(key, r.sealed, name) : null;
  }

  async sealSecret(plaintext: string, aad: string): Promise<string> {
    return seal(await this.loadKey(), plaintext, aad);
  }

  async openSecret(sealed: string, aad: string): Promise<string | null> {
    return open(await this.loadKey(), sealed, aad);
  }

  async set(name: string, token: string): Promise<void> {
    const key = await this.loadKey();
    await this.pool.query(
      'INSERT INTO agent_tokens (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed',
      [name, seal(key, token, name)],
    );
  }
}
