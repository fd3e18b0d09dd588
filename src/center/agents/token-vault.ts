// The agents' plaintext tokens, encrypted at rest. The center stores agent tokens as sha256 digests
// for authenticating ingest, but it must also *call* each agent's command API with that token, so it
// keeps a second copy here: AES-256-GCM under a 256-bit key in `<data>/secret.key` (mode 0600,
// generated on first start), in `<data>/agent-tokens.json` (mode 0600), one sealed entry per agent
// name. A stolen database alone (or a backup without the key file) reveals no agent token.
// Trade-off: whoever reads both files of the data folder can call the agents; the data folder is
// the center's trust boundary anyway (it holds the captures). Does not authenticate anybody: that
// stays with the digests in storage.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TunaError } from '../../core/errors.js';
import { DEFAULT_ORG_ID } from '../../core/schema/index.js';

export const secretKeyFile = (dataDir: string): string => path.join(dataDir, 'secret.key');
export const agentTokensFile = (dataDir: string): string => path.join(dataDir, 'agent-tokens.json');

const KEY_BYTES = 32; // AES-256
const IV_BYTES = 12; // GCM's recommended nonce size (NIST SP 800-38D §8.2)
const FORMAT = 'aes-256-gcm.v1';

interface Sealed {
  /** base64: iv ‖ tag ‖ ciphertext */
  v: string;
}
interface VaultFile {
  format: typeof FORMAT;
  agents: Record<string, Sealed>;
}

/** Reads `<data>/secret.key`, or creates it (0600) on first start. */
export function loadOrCreateKey(dataDir: string): Buffer {
  const file = secretKeyFile(dataDir);
  try {
    const hex = fs.readFileSync(file, 'utf8').trim();
    const key = Buffer.from(hex, 'hex');
    if (key.length !== KEY_BYTES) {
      throw new TunaError('internal', `${file} must hold ${KEY_BYTES * 2} hex digits (an AES-256 key); move it away to create a new one`);
    }
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = crypto.randomBytes(KEY_BYTES);
  fs.mkdirSync(dataDir, { recursive: true });
  // 'wx': two processes starting at once must not overwrite each other's key
  try {
    fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateKey(dataDir);
    throw e;
  }
  return key;
}

export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = crypto.randomBytes(IV_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  // the agent name is authenticated data: an entry copied onto another agent does not open
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

/** null when the entry does not open with this key (wrong key file, tampering, wrong name). */
export function open(key: Buffer, sealed: string, aad: string): string | null {
  try {
    const b = Buffer.from(sealed, 'base64');
    if (b.length < IV_BYTES + 16) return null;
    const d = crypto.createDecipheriv('aes-256-gcm', key, b.subarray(0, IV_BYTES));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(b.subarray(IV_BYTES, IV_BYTES + 16));
    return Buffer.concat([d.update(b.subarray(IV_BYTES + 16)), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/**
 * The vault entry of an agent: its name in the default organisation (entries saved before
 * organisations existed keep working), `<org id>/<name>` in any other (names are unique per
 * organisation; a name cannot hold "/").
 */
export const vaultKey = (a: { org_id: number; name: string }): string => (a.org_id === DEFAULT_ORG_ID ? a.name : `${a.org_id}/${a.name}`);

/** Where the center keeps agents' plaintext tokens (sealed): files here, or the database (postgres-token-vault.ts). */
export interface AgentTokenStore {
  /** the agent's token, or null when none is kept or it does not open with this key */
  get(name: string): Promise<string | null>;
  set(name: string, token: string): Promise<void>;
}

/**
 * Seals other secrets the center must show again under the same key: share-link tokens (routes/share),
 * with `aad` naming what the secret belongs to (an entry copied onto another session does not open).
 */
export interface SecretSealer {
  sealSecret(plaintext: string, aad: string): Promise<string>;
  /** null when it does not open (another key, tampering, another `aad`) */
  openSecret(sealed: string, aad: string): Promise<string | null>;
}

/** Agent name → plaintext token, sealed on disk. Small (one entry per agent); rewritten atomically. */
export class TokenVault implements AgentTokenStore, SecretSealer {
  private readonly key: Buffer;
  private readonly file: string;
  private data: VaultFile;

  constructor(dataDir: string) {
    this.key = loadOrCreateKey(dataDir);
    this.file = agentTokensFile(dataDir);
    this.data = { format: FORMAT, agents: {} };
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<VaultFile>;
      if (parsed.format === FORMAT && parsed.agents && typeof parsed.agents === 'object') this.data.agents = parsed.agents;
    } catch {
      // first start, or an unreadable file: agents' tokens must be saved again (POST /api/agents)
    }
  }

  async get(name: string): Promise<string | null> {
    const e = this.data.agents[name];
    return e ? open(this.key, e.v, name) : null;
  }

  async sealSecret(plaintext: string, aad: string): Promise<string> {
    return seal(this.key, plaintext, aad);
  }

  async openSecret(sealed: string, aad: string): Promise<string | null> {
    return open(this.key, sealed, aad);
  }

  async set(name: string, token: string): Promise<void> {
    if ((await this.get(name)) === token) return;
    this.data.agents[name] = { v: seal(this.key, token, name) };
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.data, null, 1)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
