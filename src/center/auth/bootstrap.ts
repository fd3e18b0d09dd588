// First start: create user `admin` with the password and API token from the configuration
// (TUNAIO_ADMIN_PASSWORD / TUNAIO_ADMIN_TOKEN, read by the cli), or generated ones, which are
// returned once so the cli can print them; only their hashes are stored. On later starts a
// configured password or token replaces the stored one (the environment is the source of truth);
// nothing is generated again.
import { DEFAULT_ORG_ID } from '../../core/schema/index.js';
import type { Storage } from '../storage/types.js';
import { hashPassword, hashToken, newToken } from './secrets.js';

export const ADMIN = 'admin';

export interface BootstrapCredentials {
  username: string;
  /** set only when generated now; print it once */
  password?: string;
  token?: string;
}

export async function bootstrapAdmin(
  storage: Storage,
  configured: { password?: string; token?: string },
  scryptLog2N?: number,
): Promise<BootstrapCredentials | null> {
  const applyConfigured = async (): Promise<null> => {
    if (configured.password === undefined && configured.token === undefined) return null;
    await storage.upsertUser(ADMIN, {
      password_hash: configured.password === undefined ? undefined : await hashPassword(configured.password, scryptLog2N),
      token_hash: configured.token === undefined ? undefined : hashToken(configured.token),
    });
    return null;
  };
  if (await storage.getUserByName(ADMIN)) return applyConfigured();
  const password = configured.password ?? newToken().slice(0, 24);
  const token = configured.token ?? newToken();
  // several centers starting at once on an empty database: one creates the user and prints what it
  // generated; the others find it made and print nothing (createUser never replaces a user)
  const created = await storage.createUser(ADMIN, {
    password_hash: await hashPassword(password, scryptLog2N),
    token_hash: hashToken(token),
    org_id: DEFAULT_ORG_ID,
    role: 'platform_admin',
  });
  if (!created) return applyConfigured();
  const generated: BootstrapCredentials = { username: ADMIN };
  if (configured.password === undefined) generated.password = password;
  if (configured.token === undefined) generated.token = token;
  return generated.password || generated.token ? generated : null;
}
